package verifier

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/ageassure/ageassure/adapters/rediscache"
	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/policy"
)

// redisReplicas returns n Verifiers over the fixture's providers, each with
// its own rediscache.Store (its own in-process tier) on one Redis and one
// key prefix: the replicas of a deployment run with --redis.
func (f *fixture) redisReplicas(t *testing.T, n int) []*Verifier {
	t.Helper()
	srv := redistest.New(t)
	out := make([]*Verifier, n)
	for i := range out {
		st, err := rediscache.New(context.Background(), rediscache.Config{
			URL: srv.URL, Prefix: srv.Prefix, Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		out[i] = f.verifier(t, func(o *Options) { o.Replay = st })
	}
	return out
}

// TestReplayRedis: with the Redis replay store, a valid token of every kind
// is accepted once and replayed afterwards, on the replica that accepted it
// and on another one sharing the Redis prefix. (The store used to refuse
// the verifier's namespaced "ev:" keys, so every token was unverifiable.)
func TestReplayRedis(t *testing.T) {
	f := newFixture(t)
	n := 0
	jti := func() map[string]any { // a new token each time: EdDSA is deterministic
		n++
		return map[string]any{"jti": fmt.Sprint("redis-", n)}
	}
	tokens := []struct {
		name string
		item func() policy.EvidenceItem
	}{
		{"age estimation (EdDSA)", func() policy.EvidenceItem {
			return policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator",
				Token: signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, merge(jti(), map[string]any{"age_estimate": 20.0})))}
		}},
		{"id document (ES256)", func() policy.EvidenceItem {
			return policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
				Token: signJWS(t, f.doc, "", "", claimsAt(testNow, docIssuer, merge(jti(), map[string]any{"age_over_18": true})))}
		}},
		{"parental consent", func() policy.EvidenceItem {
			return policy.EvidenceItem{Type: policy.EvidenceParentalConsent, Provider: "guardian",
				Token: signJWS(t, f.consent, "", "", claimsAt(testNow, consentIss, merge(jti(), map[string]any{"consent": true, "nonce": testNonce})))}
		}},
		{"digital credential", func() policy.EvidenceItem {
			return policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: f.newCred(t).build(t)}
		}},
		{"digital credential found by issuer", func() policy.EvidenceItem {
			return policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Token: f.newCred(t).build(t)}
		}},
	}
	replicas := f.redisReplicas(t, 2)
	for _, tc := range tokens {
		// Each token starts on either replica and is replayed on both.
		for first := range replicas {
			other := replicas[1-first]
			t.Run(fmt.Sprintf("%s, first on replica %d", tc.name, first), func(t *testing.T) {
				item := tc.item()
				steps := []struct {
					v    *Verifier
					what string
					want string // reason; "" accepted
				}{
					{replicas[first], "first use", ""},
					{replicas[first], "again on the same replica", ReasonReplayed},
					{other, "on another replica", ReasonReplayed},
					{other, "again on the other replica", ReasonReplayed},
				}
				for _, s := range steps {
					got := verifyOne(s.v, item)
					if got.Reason != s.want || (s.want == "") != got.Accepted() {
						t.Errorf("%s: %s/%s, want reason %q", s.what, got.Outcome, got.Reason, s.want)
					}
				}
			})
		}
	}
}
