package service

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ageassure/ageassure/policy"
)

// FuzzDecodeCheck feeds arbitrary bodies to the request decoder. Whatever
// the input, the decoder must not panic, and must either produce a check
// that satisfies every invariant the decision relies on or a 400 problem
// that names at least one field with a stable code.
func FuzzDecodeCheck(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "requests", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	pol, err := policy.Builtin()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		chk, err := decodeCheck(body, pol, fixedNow)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("error is not a Problem: %v", err)
			}
			if p.Status != http.StatusBadRequest || p.Code == "" || len(p.Errors) == 0 {
				t.Fatalf("bad problem %+v", p)
			}
			for _, fe := range p.Errors {
				if fe.Code == "" || fe.Detail == "" {
					t.Fatalf("field error without code or detail: %+v", fe)
				}
			}
			return
		}
		if _, err := policy.NormalizeJurisdiction(chk.jurisdiction); err != nil {
			t.Fatalf("accepted jurisdiction %q: %v", chk.jurisdiction, err)
		}
		if chk.age < 0 || chk.age > MaxAge {
			t.Fatalf("accepted age %d", chk.age)
		}
		if chk.stage != StageSignup && chk.stage != StageReassessment {
			t.Fatalf("accepted stage %q", chk.stage)
		}
		for _, r := range []string{chk.deviceRef, chk.subjectRef, chk.nonce} {
			if len(r) > MaxRefBytes {
				t.Fatalf("accepted a %d-byte reference", len(r))
			}
		}
		if len(chk.signals) > MaxSignals {
			t.Fatalf("accepted %d signals", len(chk.signals))
		}
		// Whatever was accepted evaluates without panicking.
		_ = pol.Evaluate(policy.Input{Jurisdiction: chk.jurisdiction, Stage: chk.stage, Age: chk.age, Signals: chk.signals, Now: fixedNow})
	})
}
