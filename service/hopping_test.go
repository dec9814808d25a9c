package service

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/rediscache"
	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/policy"
)

// TestHoppingAtEveryAge: a device or an account that declared an age under
// an age that matters — the minimum age or the digital age of consent —
// and then declares one at or over it is stepped up, on the same process
// and across replicas sharing Redis. Each case uses fresh references.
func TestHoppingAtEveryAge(t *testing.T) {
	tests := []struct {
		name, jur   string
		first, then int
		firstWant   policy.Decision
		want        policy.Decision
	}{
		{"minimum age", "US", 12, 20, policy.Deny, policy.AdditionalVerificationRequired},
		{"consent age", "DE", 14, 17, policy.ParentalConsentRequired, policy.AdditionalVerificationRequired},
		{"consent age, to the consent age", "DE", 15, 16, policy.ParentalConsentRequired, policy.AdditionalVerificationRequired},
		{"under the consent age both times", "DE", 14, 15, policy.ParentalConsentRequired, policy.ParentalConsentRequired},
		{"no hop: older first", "DE", 17, 14, policy.Allow, policy.ParentalConsentRequired},
	}
	envs := map[string]func(t *testing.T) (first, then *testEnv){
		"in-process": func(t *testing.T) (*testEnv, *testEnv) { e := newTestEnv(t); return e, e },
		"redis, two replicas": func(t *testing.T) (*testEnv, *testEnv) {
			srv := redistest.New(t)
			r := newReplicas(t, 2, rediscache.Config{URL: srv.URL, Prefix: srv.Prefix}, nil)
			return r.envs[0], r.envs[1]
		},
	}
	for envName, mk := range envs {
		t.Run(envName, func(t *testing.T) {
			a, b := mk(t)
			for i, tt := range tests {
				for _, ref := range []string{"device_ref", "subject_ref"} {
					t.Run(tt.name+"/"+ref, func(t *testing.T) {
						ctx := fmt.Sprintf(`"context":{%q:"hop-%s-%d"}`, ref, ref, i)
						first := decisionOf(t, a, fmt.Sprintf(`{"jurisdiction":%q,"declared":{"age":%d},%s}`, tt.jur, tt.first, ctx))
						if first.Decision != tt.firstWant {
							t.Fatalf("first declaration (%d): %s, want %s", tt.first, first.Decision, tt.firstWant)
						}
						then := decisionOf(t, b, fmt.Sprintf(`{"jurisdiction":%q,"declared":{"age":%d},%s}`, tt.jur, tt.then, ctx))
						if then.Decision != tt.want {
							t.Errorf("then %d: %s %v, want %s", tt.then, then.Decision, then.Reasons, tt.want)
						}
						hop := slices.ContainsFunc(then.Reasons, func(r Reason) bool { return r.Rule == "de.anti-hopping" || r.Rule == "us.anti-hopping" })
						if wantHop := tt.want == policy.AdditionalVerificationRequired; hop != wantHop {
							t.Errorf("anti-hopping reason %t, want %t: %v", hop, wantHop, then.Reasons)
						}
					})
				}
			}
		})
	}
}

// TestHistoryUnavailableFailsSafe: with two replicas on one Redis, a
// device (or account) refused at 12 on replica A, then Redis hung
// (SIGSTOP) or killed, must not be let in at 20 on replica B, which has no
// local memory of it: B says the history could not be read, in the reasons
// and the log entry, and the built-in policy steps the declaration up. A
// deny stays a deny.
func TestHistoryUnavailableFailsSafe(t *testing.T) {
	for _, fault := range []string{"hung", "killed"} {
		for _, ref := range []string{"device_ref", "subject_ref"} {
			t.Run(fault+"/"+ref, func(t *testing.T) {
				proc := redistest.Start(t)
				r := newReplicas(t, 2, rediscache.Config{
					URL: proc.URL(), Prefix: "ageassure-history:", Timeout: 50 * time.Millisecond,
					Breaker: rediscache.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: time.Minute},
				}, nil)
				logB := &memoryLog{}
				r.envs[1].svc.decisionLog = logB
				a, b := r.envs[0], r.envs[1]
				ctx := fmt.Sprintf(`"context":{%q:"ref-1"}`, ref)
				if d := decisionOf(t, a, `{"jurisdiction":"US","declared":{"age":12},`+ctx+`}`).Decision; d != policy.Deny {
					t.Fatalf("replica A at 12: %s", d)
				}
				switch fault {
				case "hung":
					proc.Pause()
					t.Cleanup(proc.Resume)
				case "killed":
					proc.Kill()
				}
				for i := range 5 { // Redis failing, then the breaker open
					got := decisionOf(t, b, `{"jurisdiction":"US","declared":{"age":20},`+ctx+`}`)
					if got.Decision == policy.Allow {
						t.Fatalf("call %d: the hop was allowed during the outage: %v", i, got.Reasons)
					}
					if !slices.ContainsFunc(got.Reasons, func(r Reason) bool { return r.Rule == ReasonHistoryUnavailable }) ||
						!slices.ContainsFunc(got.Reasons, func(r Reason) bool { return r.Rule == "us.history-unavailable" }) {
						t.Errorf("call %d: reasons do not say the history was unavailable: %v", i, got.Reasons)
					}
					if e := logB.entries[len(logB.entries)-1]; !e.HistoryUnavailable || e.Validate() != nil {
						t.Errorf("call %d: log entry does not record it: %+v", i, e)
					}
				}
				// A request without a reference has no history to miss.
				if got := decisionOf(t, b, `{"jurisdiction":"US","declared":{"age":20}}`); got.Decision != policy.Allow {
					t.Errorf("without a reference: %s %v", got.Decision, got.Reasons)
				}
				// Under the minimum, the deny stands.
				if got := decisionOf(t, b, `{"jurisdiction":"US","declared":{"age":11},`+ctx+`}`); got.Decision != policy.Deny {
					t.Errorf("under the minimum during the outage: %s", got.Decision)
				}
			})
		}
	}
}
