package verifier

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/adapters/rediscache"
	"github.com/ageassure/ageassure/policy"
)

// The replay stores serve can give uses back.
var (
	_ ReplayReleaser = (*localcache.Replay)(nil)
	_ ReplayReleaser = (*rediscache.Store)(nil)
)

// spentKey is the shape of Evidence.Spent: the evidence namespace and a
// hex HMAC, nothing of the token.
var spentKey = regexp.MustCompile(`^ev:[0-9a-f]{64}$`)

// releaseItems are tokens of every signed kind.
func releaseItems(t *testing.T, f *fixture) map[string]policy.EvidenceItem {
	t.Helper()
	return map[string]policy.EvidenceItem{
		"age estimation": {Type: policy.EvidenceAgeEstimation, Provider: "estimator",
			Token: signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0}))},
		"id document": {Type: policy.EvidenceIDDocument, Provider: "idcheck",
			Token: signJWS(t, f.doc, "", "", claimsAt(testNow, docIssuer, map[string]any{"age_over_18": true}))},
		"parental consent": {Type: policy.EvidenceParentalConsent, Provider: "guardian",
			Token: signJWS(t, f.consent, "", "", claimsAt(testNow, consentIss, map[string]any{"consent": true, "nonce": testNonce}))},
		"digital credential": {Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: f.newCred(t).build(t)},
	}
}

// TestRelease: an accepted token records the replay key it spent; Release
// gives that use back once, so the token is accepted exactly once more, and
// a result that spent nothing (a replay) gives nothing back.
func TestRelease(t *testing.T) {
	f := newFixture(t)
	for name, item := range releaseItems(t, f) {
		t.Run(name, func(t *testing.T) {
			v := f.verifier(t)
			ctx := context.Background()
			first := v.Verify(ctx, []policy.EvidenceItem{item}, testBind, testToday)
			if !first[0].Accepted() || !spentKey.MatchString(first[0].Spent) {
				t.Fatalf("first use: %s, Spent %q", first[0].Outcome, first[0].Spent)
			}
			if _, ok := containsAny(first[0].Spent, strings.FieldsFunc(item.Token, func(r rune) bool { return r == '.' || r == '~' })...); ok {
				t.Fatal("Spent holds a piece of the token")
			}
			if err := v.Release(ctx, first); err != nil {
				t.Fatal(err)
			}
			if first[0].Spent != "" {
				t.Error("Release left Spent set")
			}
			again := v.Verify(ctx, []policy.EvidenceItem{item}, testBind, testToday)
			if !again[0].Accepted() {
				t.Fatalf("after Release: %s (%s), want accepted", again[0].Outcome, again[0].Reason)
			}
			// Releasing the first result again gives nothing back: its use
			// was given back already, and the second use is not its own.
			if err := v.Release(ctx, first); err != nil {
				t.Fatal(err)
			}
			replayed := v.Verify(ctx, []policy.EvidenceItem{item}, testBind, testToday)
			if replayed[0].Reason != ReasonReplayed || replayed[0].Spent != "" {
				t.Fatalf("third use: %s (%s), Spent %q; want replayed, nothing spent", replayed[0].Outcome, replayed[0].Reason, replayed[0].Spent)
			}
			// A replay spent nothing, so it gives nothing back either.
			if err := v.Release(ctx, replayed); err != nil {
				t.Fatal(err)
			}
			if got := verifyOne(v, item); got.Reason != ReasonReplayed {
				t.Errorf("after releasing a replay: %s (%s), want replayed", got.Outcome, got.Reason)
			}
		})
	}
}

// releaseRecorder is a replay store that records what it is asked to give
// back.
type releaseRecorder struct {
	*localcache.Replay
	mu       sync.Mutex
	released []string
	fail     error
}

func (r *releaseRecorder) Release(ctx context.Context, key string) error {
	r.mu.Lock()
	r.released = append(r.released, key)
	r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	return r.Replay.Release(ctx, key)
}

// TestReleaseRefuses: Release gives back only evidence keys the store can
// take, reports what it could not give back, and a failed release leaves
// the token spent.
func TestReleaseRefuses(t *testing.T) {
	f := newFixture(t)
	newStore := func() *localcache.Replay {
		return localcache.NewReplay(localcache.Options{Clock: func() time.Time { return testNow }})
	}
	item := releaseItems(t, f)["id document"]
	ctx := context.Background()

	t.Run("a store that cannot give uses back", func(t *testing.T) {
		v := f.verifier(t, func(o *Options) { o.Replay = &recordingReplay{inner: newStore()} })
		evs := v.Verify(ctx, []policy.EvidenceItem{item}, testBind, testToday)
		if !evs[0].Accepted() || evs[0].Spent != "" {
			t.Fatalf("%s, Spent %q; want accepted with nothing to give back", evs[0].Outcome, evs[0].Spent)
		}
		if err := v.Release(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if got := verifyOne(v, item); got.Reason != ReasonReplayed {
			t.Errorf("retry: %s (%s), want replayed", got.Outcome, got.Reason)
		}
	})
	t.Run("a key outside the evidence namespace", func(t *testing.T) {
		rec := &releaseRecorder{Replay: newStore()}
		v := f.verifier(t, func(o *Options) { o.Replay = rec })
		foreign := []policy.Evidence{{Type: policy.EvidenceIDDocument, Outcome: policy.OutcomeAccepted, Spent: "nonce:" + strings.Repeat("ab", 32)}}
		if err := v.Release(ctx, foreign); err == nil {
			t.Error("released a foreign key")
		}
		if len(rec.released) != 0 {
			t.Errorf("the store was asked to release %v", rec.released)
		}
	})
	t.Run("the store fails", func(t *testing.T) {
		rec := &releaseRecorder{Replay: newStore(), fail: errors.New("replay store unavailable")}
		v := f.verifier(t, func(o *Options) { o.Replay = rec })
		evs := v.Verify(ctx, []policy.EvidenceItem{item}, testBind, testToday)
		if err := v.Release(ctx, evs); err == nil || !strings.Contains(err.Error(), "unavailable") {
			t.Errorf("Release = %v, want the store's error", err)
		}
		if got := verifyOne(v, item); got.Reason != ReasonReplayed {
			t.Errorf("retry after a failed release: %s (%s), want replayed", got.Outcome, got.Reason)
		}
	})
	t.Run("unverifiable evidence spent nothing", func(t *testing.T) {
		v := f.verifier(t, func(o *Options) { o.Replay = degradedReplay{} })
		evs := v.Verify(ctx, []policy.EvidenceItem{item}, testBind, testToday)
		if evs[0].Outcome != policy.OutcomeUnverifiable || evs[0].Spent != "" {
			t.Errorf("%s, Spent %q; want unverifiable with nothing to give back", evs[0].Outcome, evs[0].Spent)
		}
	})
}

// TestReleaseRedisReplicas: a use given back on one replica is a first use
// again on another, and only once.
func TestReleaseRedisReplicas(t *testing.T) {
	f := newFixture(t)
	replicas := f.redisReplicas(t, 2)
	ctx := context.Background()
	for name, item := range releaseItems(t, f) {
		t.Run(name, func(t *testing.T) {
			evs := replicas[0].Verify(ctx, []policy.EvidenceItem{item}, testBind, testToday)
			if !evs[0].Accepted() {
				t.Fatalf("first use: %s (%s)", evs[0].Outcome, evs[0].Reason)
			}
			if err := replicas[0].Release(ctx, evs); err != nil {
				t.Fatal(err)
			}
			if got := verifyOne(replicas[1], item); !got.Accepted() {
				t.Fatalf("on the other replica after Release: %s (%s), want accepted", got.Outcome, got.Reason)
			}
			for i, v := range replicas {
				if got := verifyOne(v, item); got.Reason != ReasonReplayed {
					t.Errorf("replica %d afterwards: %s (%s), want replayed", i, got.Outcome, got.Reason)
				}
			}
		})
	}
}
