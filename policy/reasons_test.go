package policy

import (
	"slices"
	"testing"
	"time"
)

// TestReasonForMatchesEvaluate: the text rebuilt from a rule id is exactly
// what Evaluate reported, across packs, fallbacks and periods.
func TestReasonForMatchesEvaluate(t *testing.T) {
	p, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	inputs := []Input{
		{Jurisdiction: "DE", Age: 14, Now: now},
		{Jurisdiction: "DE", Age: 30, Signals: map[string]float64{"underage_likelihood": 0.9, "user_reports": 4}, Now: now},
		{Jurisdiction: "US-UT", Age: 12, Now: now},
		{Jurisdiction: "BR", Age: 13, DeviceHistory: true, DeviceMinAge: 9, Now: now},
		{Jurisdiction: "DK", Age: 14, Now: time.Date(2023, 12, 31, 12, 0, 0, 0, time.UTC)},
		{Jurisdiction: "AU", Age: 15, Now: now},
	}
	for _, in := range inputs {
		res := p.Evaluate(in)
		if len(res.Reasons) == 0 {
			t.Fatalf("%+v: no reasons", in)
		}
		for _, want := range res.Reasons {
			got, ok := p.ReasonFor(want.Rule, in.Jurisdiction, res.Fusion.Conflict, in.Now)
			if !ok || got != want {
				t.Errorf("ReasonFor(%s, %s) = %+v, %v; want %+v", want.Rule, in.Jurisdiction, got, ok, want)
			}
		}
	}
	for _, bad := range []string{"de.no-such-rule", "fr.minimum-age", ReasonNoRuleMatched, ""} {
		if _, ok := p.ReasonFor(bad, "DE", "", now); ok {
			t.Errorf("ReasonFor(%q, DE) reported a reason", bad)
		}
	}
}

func TestKnownAges(t *testing.T) {
	p, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	got := p.KnownAges()
	for _, want := range []int{13, 14, 15, 16, 18} {
		if !slices.Contains(got, want) {
			t.Errorf("KnownAges() = %v lacks %d", got, want)
		}
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("KnownAges() = %v: not sorted and unique", got)
	}
}
