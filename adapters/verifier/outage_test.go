package verifier

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ageassure/ageassure/policy"
	"github.com/sony/gobreaker/v2"
)

// remoteFixture is one estimation provider whose keys come from a real
// HTTP JWKS server.
type remoteFixture struct {
	key *testKey
	srv *jwksServer
	v   *Verifier
	rk  *remoteKeys
}

func newRemoteFixture(t *testing.T, mode int32, mod func(*Provider)) *remoteFixture {
	t.Helper()
	rf := &remoteFixture{key: newTestKey(t, "ed25519", "r-1")}
	rf.srv = newJWKSServer(t, jwksOf(t, rf.key))
	rf.srv.mode.Store(mode)
	p := Provider{
		ID: "remote", Types: []string{policy.EvidenceAgeEstimation}, Issuer: estIssuer,
		JWKSURL: rf.srv.URL + "/jwks.json", Algorithms: []string{"EdDSA"}, Audience: testAudience,
		Timeout: 300 * time.Millisecond, Refresh: time.Hour,
		Breaker: Breaker{Failures: 3, Open: 500 * time.Millisecond},
	}
	if mod != nil {
		mod(&p)
	}
	f := &fixture{providers: []Provider{p}}
	rf.v = f.verifier(t, func(o *Options) { o.Replay = alwaysFresh{} })
	rf.rk = rf.v.providers["remote"].keys.(*remoteKeys)
	return rf
}

func (rf *remoteFixture) item(t *testing.T, k *testKey) policy.EvidenceItem {
	t.Helper()
	if k == nil {
		k = rf.key
	}
	return policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "remote",
		Token: signJWS(t, k, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 17.0}))}
}

// timedVerify verifies one item and measures how long it took.
func (rf *remoteFixture) timedVerify(item policy.EvidenceItem) (policy.Evidence, time.Duration) {
	start := time.Now()
	ev := verifyOne(rf.v, item)
	return ev, time.Since(start)
}

// poll retries cond every 10ms until it holds or limit passes.
func poll(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRemoteKeysFetchedOnceAndCached(t *testing.T) {
	rf := newRemoteFixture(t, modeOK, nil)
	for i := range 5 {
		if ev := verifyOne(rf.v, rf.item(t, nil)); !ev.Accepted() {
			t.Fatalf("verify %d: %+v", i, ev)
		}
	}
	if n := rf.srv.hits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

func TestRemoteKeyRotation(t *testing.T) {
	rf := newRemoteFixture(t, modeOK, nil)
	if ev := verifyOne(rf.v, rf.item(t, nil)); !ev.Accepted() {
		t.Fatalf("before rotation: %+v", ev)
	}
	next := newTestKey(t, "ed25519", "r-2")
	rf.srv.setKeys(jwksOf(t, rf.key, next))

	// Within kidRefreshEvery of the last fetch an unknown kid is not
	// worth a fetch: signature_invalid without touching the server.
	hits := rf.srv.hits.Load()
	if ev := verifyOne(rf.v, rf.item(t, next)); ev.Reason != ReasonSignatureInvalid {
		t.Fatalf("unknown kid, refresh not due: %+v", ev)
	}
	if rf.srv.hits.Load() != hits {
		t.Error("an unknown kid caused a fetch before kidRefreshEvery")
	}
	// Once due, the unknown kid makes the verifier fetch the new set.
	rf.rk.kidRefresh = 0
	if ev := verifyOne(rf.v, rf.item(t, next)); !ev.Accepted() {
		t.Fatalf("after rotation: %+v", ev)
	}
	if ev := verifyOne(rf.v, rf.item(t, newTestKey(t, "ed25519", "r-3"))); ev.Reason != ReasonSignatureInvalid {
		t.Fatalf("kid absent even after a refresh: %+v", ev)
	}
}

func TestRemoteKeysSurviveOutage(t *testing.T) {
	rf := newRemoteFixture(t, modeOK, nil)
	if ev := verifyOne(rf.v, rf.item(t, nil)); !ev.Accepted() {
		t.Fatalf("%+v", ev)
	}
	rf.srv.mode.Store(modeError)
	// Keys already held keep verifying while the endpoint is down.
	if ev := verifyOne(rf.v, rf.item(t, nil)); !ev.Accepted() {
		t.Fatalf("with the endpoint down: %+v", ev)
	}
	// An unknown kid needs a fetch, which fails: unverifiable, not invalid.
	rf.rk.kidRefresh = 0
	if ev := verifyOne(rf.v, rf.item(t, newTestKey(t, "ed25519", "r-9"))); ev.Reason != ReasonUnverifiable {
		t.Fatalf("unknown kid with the endpoint down: %+v", ev)
	}
}

// TestProviderDowntime: a JWKS endpoint that fails or hangs makes its
// evidence unverifiable, within the provider timeout per request; the
// breaker opens and then answers at once; when the endpoint recovers and
// the open period has passed, evidence verifies again.
func TestProviderDowntime(t *testing.T) {
	// Generous: CI machines under -race are slow. The point is "about the
	// timeout", not "the timeout plus a retry storm".
	const sanity = time.Second
	for _, tc := range []struct {
		name string
		mode int32
	}{{"500", modeError}, {"hang", modeHang}} {
		t.Run(tc.name, func(t *testing.T) {
			rf := newRemoteFixture(t, tc.mode, nil)
			timeout := rf.v.providers["remote"].Timeout

			deadline := time.Now().Add(20 * time.Second)
			for i := 0; rf.rk.cb.State() != gobreaker.StateOpen; i++ {
				if time.Now().After(deadline) {
					t.Fatal("breaker did not open")
				}
				ev, took := rf.timedVerify(rf.item(t, nil))
				assertUnverifiable(t, ev)
				if took > timeout+sanity {
					t.Fatalf("verify %d took %v with a %v provider timeout", i, took, timeout)
				}
				time.Sleep(20 * time.Millisecond) // bounded polling for the breaker
			}

			// Open: no fetch, no wait.
			hits := rf.srv.hits.Load()
			for range 10 {
				ev, took := rf.timedVerify(rf.item(t, nil))
				assertUnverifiable(t, ev)
				if took > 50*time.Millisecond {
					t.Fatalf("verify with the breaker open took %v", took)
				}
			}
			if n := rf.srv.hits.Load(); n != hits {
				t.Errorf("%d fetches while the breaker was open", n-hits)
			}

			// Recovery.
			rf.srv.mode.Store(modeOK)
			poll(t, 10*time.Second, "verification after recovery", func() bool {
				ev := verifyOne(rf.v, rf.item(t, nil))
				return ev.Accepted()
			})
			if s := rf.rk.cb.State(); s != gobreaker.StateClosed {
				t.Errorf("breaker %v after recovery, want closed", s)
			}
		})
	}
}

// TestProviderHangsConcurrently: many requests at once against a hanging
// endpoint share one fetch and each still returns within the timeout.
func TestProviderHangsConcurrently(t *testing.T) {
	rf := newRemoteFixture(t, modeHang, func(p *Provider) { p.Breaker.Failures = 100 })
	timeout := rf.v.providers["remote"].Timeout
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for range 32 {
		wg.Go(func() {
			ev, took := rf.timedVerify(rf.item(t, nil))
			if ev.Reason != ReasonUnverifiable {
				errs <- "not unverifiable: " + ev.Reason
			}
			if took > timeout+time.Second {
				errs <- "took " + took.String()
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// One warm-up fetch plus a few retries, not one per request.
	if n := rf.srv.hits.Load(); n > 8 {
		t.Errorf("%d fetches for 32 concurrent requests", n)
	}
}

// TestProviderDownManyItems: a request with several items from a dead
// provider waits about one timeout, not one per item.
func TestProviderDownManyItems(t *testing.T) {
	rf := newRemoteFixture(t, modeHang, func(p *Provider) { p.Breaker.Failures = 100 })
	timeout := rf.v.providers["remote"].Timeout
	items := []policy.EvidenceItem{rf.item(t, nil), rf.item(t, nil), rf.item(t, nil), rf.item(t, nil)}
	start := time.Now()
	got := rf.v.Verify(context.Background(), items, testBind, testToday)
	if took := time.Since(start); took > 2*timeout+500*time.Millisecond {
		t.Errorf("4 items took %v with a %v provider timeout", took, timeout)
	}
	for _, ev := range got {
		assertUnverifiable(t, ev)
	}
}

// TestVerifyHonoursCallerContext: a caller whose deadline is shorter than
// the provider timeout is not held past it.
func TestVerifyHonoursCallerContext(t *testing.T) {
	rf := newRemoteFixture(t, modeHang, func(p *Provider) { p.Timeout = 5 * time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	ev := rf.v.Verify(ctx, []policy.EvidenceItem{rf.item(t, nil)}, testBind, testToday)[0]
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v with a 100ms caller deadline", took)
	}
	assertUnverifiable(t, ev)
}

func assertUnverifiable(t *testing.T, ev policy.Evidence) {
	t.Helper()
	want := policy.Evidence{Type: policy.EvidenceAgeEstimation, Provider: "remote", Outcome: policy.OutcomeUnverifiable, Reason: ReasonUnverifiable}
	if ev.Type != want.Type || ev.Provider != want.Provider || ev.Outcome != want.Outcome || ev.Reason != want.Reason ||
		ev.Estimate != nil {
		t.Fatalf("got %+v, want unverifiable with no claims", ev)
	}
}
