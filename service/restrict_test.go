package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/verifier"
	"github.com/ageassure/ageassure/policy"
)

// unsureReplay is a replay store that cannot be asked (Redis down).
type unsureReplay struct{}

func (unsureReplay) FirstUse(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("replay store unavailable")
}

// TestGenuineEvidenceRestrictsDuringReplayOutage: when only single use
// cannot be confirmed, a child's genuine evidence against a declared adult
// is not thrown away — the check is escalated, never allowed — while an
// adult's evidence permits nothing beyond the declaration: the same
// request with the replay store up would be denied or escalated, so it
// must not be allowed with it down.
func TestGenuineEvidenceRestrictsDuringReplayOutage(t *testing.T) {
	face := newProvider(t, "faceage")
	docs := newProvider(t, "docscan")
	ps, err := verifier.NewProviders([]verifier.Provider{face.config("age_estimation"), docs.config("id_document")})
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEnvWith(t, func(e *testEnv, o *Options) {
		v, err := verifier.New(context.Background(), ps, verifier.Options{
			Replay: unsureReplay{}, ReplayKey: []byte("replay-key-for-the-service-tests-0123456789"), Clock: e.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		o.Evidence = v
	})
	tests := []struct {
		name     string
		body     func(n string) string
		want     policy.Decision
		conflict bool
	}{
		{"child's ID, declared adult", func(n string) string {
			return body("US", 20, n, "", signed("id_document", "docscan", docs.token(t, map[string]any{"birthdate": "2015-01-10", "nonce": n})))
		}, policy.AdditionalVerificationRequired, true},
		{"child's estimate, declared adult", func(n string) string {
			return body("GB", 25, n, "", signed("age_estimation", "faceage", face.token(t, map[string]any{"age_estimate": 9.5, "age_estimate_uncertainty": 1.0, "nonce": n})))
		}, policy.AdditionalVerificationRequired, true},
		{"adult's ID, declared child", func(n string) string {
			return body("US", 11, n, "", signed("id_document", "docscan", docs.token(t, map[string]any{"birthdate": "1990-01-10", "nonce": n})))
		}, policy.Deny, false},
		{"adult's ID, declared adult", func(n string) string {
			return body("DE", 30, n, "", signed("id_document", "docscan", docs.token(t, map[string]any{"birthdate": "1990-01-10", "nonce": n})))
		}, policy.Allow, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := decisionOf(t, e, tt.body(string(rune('a'+i))+"-nonce"))
			if r.Decision != tt.want {
				t.Errorf("decision %s, want %s: %+v", r.Decision, tt.want, r.Reasons)
			}
			if len(r.Evidence) != 1 || r.Evidence[0].Outcome != policy.OutcomeUnverifiable {
				t.Errorf("evidence %+v, want unverifiable", r.Evidence)
			}
			if r.Assurance.Level != AssuranceAsserted {
				t.Errorf("assurance %s: evidence of unconfirmed single use raised it", r.Assurance.Level)
			}
			if got := hasRule(r, "us.evidence-contradiction") || hasRule(r, "gb.evidence-contradiction"); got != tt.conflict {
				t.Errorf("contradiction %t, want %t: %+v", got, tt.conflict, r.Reasons)
			}
		})
	}
}
