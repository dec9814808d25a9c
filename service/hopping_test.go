package service

import (
	"fmt"
	"slices"
	"testing"

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
