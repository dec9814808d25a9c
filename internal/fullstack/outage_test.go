package fullstack

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// steadyChecks are bare declarations with a known answer, sent from a
// fresh device each, throughout the outage test.
var steadyChecks = []struct {
	jurisdiction string
	age          int
	want         string
}{
	{"US", 20, allow}, {"US", 12, deny}, {"DE", 14, consent}, {"DE", 17, allow},
	{"FR", 14, consent}, {"GB", 15, allow}, {"AU", 15, deny}, {"IE", 16, allow},
}

// phases of the outage test.
const (
	phaseUp         = iota
	phaseDown       // killed, until restarted
	phaseRecovering // restarted, until both breakers have closed
	phaseBack
	numPhases
)

var phaseNames = [numPhases]string{"Redis up", "Redis killed", "Redis restarting", "Redis back"}

// safeDegraded reports whether got is a safe answer, while Redis is
// unavailable, to a check whose answer with Redis up is want: the same, or
// an escalation to additional verification (the service may ask for more
// when it cannot read a device's history), but never an allow the check
// would not get otherwise, and no less than a deny.
func safeDegraded(want, got string) bool {
	return got == want || got == verify && want != deny
}

// steadyLoad sends steadyChecks to replicas until stopped, counting the
// checks per phase and every one not answered 200 with its known decision.
type steadyLoad struct {
	phase    atomic.Int32
	sent     [numPhases]atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	failures []string
}

func (l *steadyLoad) run(ctx context.Context, s *stack, r *replica, offset int) {
	i := offset
	every(ctx, 15*time.Millisecond, func() {
		sc := steadyChecks[i%len(steadyChecks)]
		i++
		req := &checkRequest{Jurisdiction: sc.jurisdiction, Context: &checkContext{DeviceRef: fresh("dev"), Nonce: fresh("nonce")}}
		if i%2 == 0 {
			req.Declared = declared{BirthDate: birthDateFor(sc.age)}
		} else {
			req.Declared = ageOf(sc.age)
		}
		p := l.phase.Load()
		l.sent[p].Add(1)
		rep, err := s.do(r, tenantMain, req)
		var problem string
		switch {
		case err != nil:
			problem = err.Error()
		case rep.status != http.StatusOK:
			problem = fmt.Sprintf("%s %d: want 200, got %s", sc.jurisdiction, sc.age, rep)
		case p == phaseUp || p == phaseBack:
			if rep.Decision != sc.want {
				problem = fmt.Sprintf("%s %d: want %s, got %s", sc.jurisdiction, sc.age, sc.want, rep)
			}
		case !safeDegraded(sc.want, rep.Decision):
			problem = fmt.Sprintf("%s %d: want %s (or a step-up), got %s", sc.jurisdiction, sc.age, sc.want, rep)
		}
		if problem != "" {
			l.failed.Add(1)
			l.mu.Lock()
			if len(l.failures) < 10 {
				l.failures = append(l.failures, phaseNames[p]+": "+problem)
			}
			l.mu.Unlock()
		}
	})
}

// TestFullStackRedisOutage kills the shared redis-server with SIGKILL while
// two replicas serve steady traffic, and restarts it. Every check is
// answered 200 throughout, with its decision while Redis works and a safe
// one meanwhile (safeDegraded); during the outage no check is allowed that
// the same request would not be allowed with Redis up (the
// in-process replica c, which never depends on Redis, answers the same
// requests as the reference); single use and anti-hopping hold within a
// replica; and once Redis is back the replicas share it again.
func TestFullStackRedisOutage(t *testing.T) {
	s := newStack(t, true)
	a := s.start(t, "a", true)
	b := s.start(t, "b", true)
	c := s.start(t, "c", false)

	load := &steadyLoad{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { load.run(ctx, s, a, 0) })
	wg.Go(func() { load.run(ctx, s, b, 3) })
	stopLoad := func() {
		cancel()
		wg.Wait()
	}
	defer stopLoad()

	// Before the outage: a device declares 12 on a, and a token is used on
	// a.
	devBefore := fresh("dev")
	if rep := s.ok(t, a, &checkRequest{Jurisdiction: "US", Declared: ageOf(12), Context: &checkContext{DeviceRef: devBefore}}); rep.Decision != deny {
		t.Fatalf("declared 12: %s", rep)
	}
	devOther := fresh("dev")
	s.ok(t, a, &checkRequest{Jurisdiction: "US", Declared: ageOf(12), Context: &checkContext{DeviceRef: devOther}})
	usedNonce := fresh("nonce")
	used := &checkRequest{Jurisdiction: "GB", Declared: ageOf(20), Signals: highRisk(),
		Evidence: []evidence{{Type: "id_document", Provider: "docscan", Token: s.iss.docOverToken(t, usedNonce, map[int]bool{18: true})}},
		Context:  &checkContext{Nonce: usedNonce}}
	usedFirst := s.ok(t, a, used)
	time.Sleep(200 * time.Millisecond)

	// The phase changes first: a steady check sent just before the kill may
	// reach the replica just after it, and must then be judged as one sent
	// during the outage (a fail-safe step-up is right for it), not as one
	// answered with Redis up.
	load.phase.Store(phaseDown)
	s.redis.Kill()
	t.Run("the replicas notice", func(t *testing.T) {
		for _, r := range []*replica{a, b} {
			waitRedisState(t, s, r, "open", 10*time.Second)
		}
	})

	t.Run("during the outage", func(t *testing.T) {
		t.Run("anti-hopping within a replica", func(t *testing.T) {
			dev := fresh("dev")
			if rep := s.ok(t, a, &checkRequest{Jurisdiction: "US", Declared: ageOf(12), Context: &checkContext{DeviceRef: dev}}); rep.Decision != deny {
				t.Errorf("declared 12: %s", rep)
			}
			for _, dv := range []string{dev, devBefore} {
				rep := s.ok(t, a, &checkRequest{Jurisdiction: "US", Declared: ageOf(20), Context: &checkContext{DeviceRef: dv}})
				if rep.Decision != verify || !rep.hasRule("us.anti-hopping") {
					t.Errorf("declared 20 after 12 on the same replica: want %s by us.anti-hopping, got %s", verify, rep)
				}
			}
		})
		t.Run("anti-hopping across replicas", func(t *testing.T) {
			// b never saw the 12 declared on a before the outage, and cannot
			// read the device's history: it must not allow what it would not
			// allow with Redis up.
			rep := s.ok(t, b, &checkRequest{Jurisdiction: "US", Declared: ageOf(20), Context: &checkContext{DeviceRef: devOther}})
			if rep.Decision == allow {
				t.Errorf("declared 20 on b after 12 on a before the outage: allowed, but %s with Redis up: %s", verify, rep)
			}
		})
		t.Run("a used token stays used", func(t *testing.T) {
			if usedFirst.Evidence[0].Outcome != "accepted" || usedFirst.Decision != allow {
				if usedFirst.Evidence[0].Reason == "evidence_unverifiable" {
					knownBug(t, "before the outage: "+usedFirst.String(), 1)
				}
				t.Fatalf("the ID document before the outage: want accepted and allow, got %s", usedFirst)
			}
			for _, r := range []*replica{a, b} {
				rep := s.ok(t, r, used)
				if rep.Evidence[0].Outcome == "accepted" || rep.Decision == allow {
					t.Errorf("replay on %s during the outage: %s", r.name, rep)
				}
				if r == a && rep.Evidence[0].Reason != "replayed" {
					t.Errorf("replay on a, which saw the token: want replayed, got %s", rep)
				}
			}
		})
		t.Run("no allow that Redis up would not give", func(t *testing.T) {
			testOutageAllows(t, s, a, c)
		})
	})

	s.redis.Restart()
	load.phase.Store(phaseRecovering)
	t.Run("the replicas recover", func(t *testing.T) {
		for _, r := range []*replica{a, b} {
			waitRedisState(t, s, r, "closed", 15*time.Second)
		}
		load.phase.Store(phaseBack)
		t.Run("anti-hopping across replicas", func(t *testing.T) {
			dev := fresh("dev")
			s.ok(t, a, &checkRequest{Jurisdiction: "US", Declared: ageOf(12), Context: &checkContext{DeviceRef: dev}})
			if rep := s.ok(t, b, &checkRequest{Jurisdiction: "US", Declared: ageOf(20), Context: &checkContext{DeviceRef: dev}}); rep.Decision != verify || !rep.hasRule("us.anti-hopping") {
				t.Errorf("hop across replicas after the restart: want %s by us.anti-hopping, got %s", verify, rep)
			}
		})
		t.Run("single use across replicas", func(t *testing.T) {
			nonce := fresh("nonce")
			req := &checkRequest{Jurisdiction: "GB", Declared: ageOf(20), Signals: highRisk(),
				Evidence: []evidence{{Type: "id_document", Provider: "docscan", Token: s.iss.docOverToken(t, nonce, map[int]bool{18: true})}},
				Context:  &checkContext{Nonce: nonce}}
			if rep := s.ok(t, a, req); rep.Evidence[0].Outcome != "accepted" || rep.Decision != allow {
				if rep.Evidence[0].Reason == "evidence_unverifiable" && usedFirst.Evidence[0].Reason == "evidence_unverifiable" {
					knownBug(t, "after the restart, as before the outage: "+rep.String(), 1)
				}
				t.Fatalf("a fresh token after the restart: want accepted and allow, got %s", rep)
			}
			if rep := s.ok(t, b, req); rep.Evidence[0].Reason != "replayed" {
				t.Errorf("its replay on the other replica: want replayed, got %s", rep)
			}
		})
	})

	time.Sleep(200 * time.Millisecond)
	stopLoad()
	t.Run("steady traffic", func(t *testing.T) {
		for p := range numPhases {
			n := load.sent[p].Load()
			t.Logf("%s: %d checks", phaseNames[p], n)
			if n < 4 && p != phaseRecovering {
				t.Errorf("%s: only %d steady checks were sent: the phase was not exercised", phaseNames[p], n)
			}
		}
		if n := load.failed.Load(); n > 0 {
			t.Errorf("%d steady checks were not answered 200 with their decision:\n  %v", n, load.failures)
		}
	})

	s.afterRun(t)
}

// waitRedisState polls /readyz until the replica's breaker is in state,
// sending a check now and then so that it has calls to count.
func waitRedisState(t *testing.T, s *stack, r *replica, state string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		if last = s.redisState(t, r); last == state {
			return
		}
		s.ok(t, r, &checkRequest{Jurisdiction: "GB", Declared: ageOf(30), Context: &checkContext{DeviceRef: fresh("dev")}})
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: /readyz reports redis %q after %v, want %q", r.name, last, within, state)
}

// testOutageAllows sends requests with evidence to a replica whose Redis
// is down and, as the reference, to the in-process replica: an allow during
// the outage must be an allow with a working cache too. Signed evidence
// cannot be checked for single use and is unverifiable meanwhile (README,
// "When Redis is down").
func testOutageAllows(t *testing.T, s *stack, down, ref *replica) {
	cases := []struct {
		name  string
		build func(nonce string) *checkRequest
	}{
		{"an adult's ID document answers a risk signal", func(nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "GB", Declared: ageOf(20), Signals: highRisk(),
				Evidence: []evidence{{Type: "id_document", Provider: "docscan", Token: s.iss.docOverToken(t, nonce, map[int]bool{18: true})}}}
		}},
		{"a parental consent", func(nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "DE", Declared: ageOf(14),
				Evidence: []evidence{{Type: "parental_consent", Provider: "guardian", Token: s.iss.consentToken(t, nonce)}}}
		}},
		{"an estimate of a child against a declared adult", func(nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "US", Declared: ageOf(25),
				Evidence: []evidence{{Type: "age_estimation", Provider: "faceage", Token: s.iss.estimateToken(t, nonce, 9.5, 1, true)}}}
		}},
		{"an ID document of an 11-year-old against a declared adult", func(nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "US", Declared: ageOf(20),
				Evidence: []evidence{{Type: "id_document", Provider: "docscan", Token: s.iss.docBirthDateToken(t, nonce, birthDateFor(11))}}}
		}},
		{"a credential under 16 against a declared adult", func(nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "DE", Declared: ageOf(30),
				Evidence: []evidence{{Type: "digital_credential", Provider: "pid-issuer", Token: s.iss.credential(t, nonce, map[int]bool{16: false, 18: false})}}}
		}},
		{"a bare adult declaration", func(nonce string) *checkRequest {
			return &checkRequest{Jurisdiction: "DE", Declared: ageOf(30)}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The same request to each, each with its own token: a token is
			// single use.
			n1, n2 := fresh("nonce"), fresh("nonce")
			r1, r2 := tc.build(n1), tc.build(n2)
			r1.Context, r2.Context = &checkContext{Nonce: n1}, &checkContext{Nonce: n2}
			got := s.ok(t, down, r1)
			want := s.ok(t, ref, r2)
			for _, e := range got.Evidence {
				if e.Outcome != "unverifiable" || e.Reason != "evidence_unverifiable" {
					t.Errorf("during the outage the evidence was not unverifiable: %s", got)
				}
			}
			if got.Decision == allow && want.Decision != allow {
				t.Errorf("allowed during the outage, but %s with Redis up:\n  outage: %s\n  up:     %s", want.Decision, got, want)
			}
		})
	}
}
