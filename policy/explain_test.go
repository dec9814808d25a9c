package policy

import (
	"reflect"
	"slices"
	"testing"
)

// TestExplainMatchesEvaluate: Explain shares Evaluate's code path, so on
// every shipped case it returns the same result, and the trace's fired
// rules are exactly the reasons.
func TestExplainMatchesEvaluate(t *testing.T) {
	p := builtin(t)
	cases, err := BuiltinCases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		in, err := p.caseInput(&c)
		if err != nil {
			t.Fatal(err)
		}
		want := p.Evaluate(in)
		got, tr := p.Explain(in)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Explain result differs:\n%+v\n%+v", c.Name, got, want)
		}
		var fired []string
		for _, r := range tr.Rules {
			if r.Fired {
				fired = append(fired, r.ReasonID)
			}
			if r.Evaluated && (!r.InDate || !r.InScope || !r.InForce) {
				t.Errorf("%s: rule %s evaluated out of date, scope or force", c.Name, r.ID)
			}
		}
		if !slices.Equal(fired, ruleIDs(want)) {
			t.Errorf("%s: fired %v, reasons %v", c.Name, fired, ruleIDs(want))
		}
		var attached []string
		for _, o := range tr.Obligations {
			if o.Attached {
				attached = append(attached, o.ID)
			}
		}
		if !slices.Equal(attached, want.Obligations) {
			t.Errorf("%s: attached %v, obligations %v", c.Name, attached, want.Obligations)
		}
		if tr.Pack != want.Pack || tr.AsOf != want.AsOf || tr.Chain[len(tr.Chain)-1].Code != want.Pack {
			t.Errorf("%s: trace pack %s %s chain %+v; result %s %s", c.Name, tr.Pack, tr.AsOf, tr.Chain, want.Pack, want.AsOf)
		}
	}
}

func TestExplainTrace(t *testing.T) {
	p := builtin(t)
	_, tr := p.Explain(Input{Jurisdiction: "us-tx", Age: 15, Now: day(t, "2026-11-26")})
	wantChain := []PackStep{
		{Code: "US-TX"},
		{Code: "US", HasPack: true, InForce: true, AsOf: mustDate(t, "2026-11-26"), Applied: true},
	}
	if !reflect.DeepEqual(tr.Chain, wantChain) {
		t.Errorf("chain = %+v", tr.Chain)
	}
	if tr.Jurisdiction != "US-TX" || tr.Period == nil || tr.Period.MinimumAge != 13 || tr.Period.Citation == "" {
		t.Errorf("trace = %+v", tr)
	}
	if len(tr.Rules) != 10 || tr.Rules[0].ReasonID != "us.minimum-age" || !tr.Rules[0].Evaluated || tr.Rules[0].Fired {
		t.Errorf("rules = %+v", tr.Rules)
	}
	var tx *ObligationTrace
	for i := range tr.Obligations {
		if tr.Obligations[i].ID == "us-tx.app-store-age-signal" {
			tx = &tr.Obligations[i]
		}
	}
	if tx == nil || tx.InForce || !tx.InScope || !tx.BandMatch || tx.Attached || tx.LegalStatus != "enjoined" {
		t.Errorf("us-tx obligation = %+v", tx)
	}

	// Out of scope and out of date rules are listed, not evaluated.
	q := load(t, "testdata/failsafe/vars.yaml")
	_, tr = q.Explain(Input{Jurisdiction: "US-UT", Stage: "signup", Age: 14, DeviceHistory: true, DeviceMinAge: 12, Now: day(t, "2026-11-26")})
	byID := map[string]RuleTrace{}
	for _, r := range tr.Rules {
		byID[r.ID] = r
	}
	if r := byID["all-vars"]; !r.Evaluated || !r.Fired {
		t.Errorf("all-vars = %+v", r)
	}
	if r := byID["scoped-out"]; r.Evaluated || r.InScope || !r.InDate {
		t.Errorf("scoped-out = %+v", r)
	}
	if r := byID["future"]; r.Evaluated || r.InDate || !r.InScope {
		t.Errorf("future = %+v", r)
	}
	if r := byID["proposed"]; r.Evaluated || r.InForce {
		t.Errorf("proposed = %+v", r)
	}
	// A rule failing at run time is traced with its error.
	_, tr = load(t, "testdata/failsafe/runtime-error.yaml").Explain(Input{Age: 30, Now: day(t, "2026-11-26")})
	if r := tr.Rules[1]; !r.Evaluated || !r.Fired || r.Err == "" {
		t.Errorf("broken rule = %+v", r)
	}
}

func TestStatement(t *testing.T) {
	p := builtin(t)
	s := p.Statement(mustDate(t, "2026-11-26"))
	if s.PolicyID != "ageassure-builtin" || s.Hash != p.Hash() || len(s.Jurisdictions) != len(agesTable)+1 {
		t.Fatalf("statement %s %s, %d jurisdictions", s.PolicyID, s.Hash, len(s.Jurisdictions))
	}
	if last := s.Jurisdictions[len(s.Jurisdictions)-1]; last.Code != "default" || last.Current == nil {
		t.Errorf("last = %+v", last)
	}
	byCode := map[string]StatementPack{}
	for _, j := range s.Jurisdictions {
		byCode[j.Code] = j
	}
	for _, row := range agesTable {
		j := byCode[row.code]
		if j.Current == nil || j.Current.MinimumAge != row.minimum || j.Current.ConsentAge != row.consent || j.Current.Citation == "" {
			t.Errorf("%s current = %+v", row.code, j.Current)
		}
		if len(j.Rules) != 10 {
			t.Errorf("%s has %d rules", row.code, len(j.Rules))
		}
	}
	if dk := byCode["DK"]; len(dk.Periods) != 2 || dk.Periods[0].ConsentAge != 13 || dk.Periods[1].From != mustDate(t, "2024-01-01") {
		t.Errorf("DK periods = %+v", dk.Periods)
	}
	de := byCode["DE"]
	if r := de.Rules[1]; r.ID != "de.digital-consent-age" || r.Citation != "GDPR Art. 8(1); no derogation" ||
		r.Message != "Parental consent is required below the digital age of consent (16) in DE." {
		t.Errorf("DE rule = %+v", r)
	}
	if len(de.Obligations) != 1 || de.Obligations[0].ID != "eu.dsa-no-profiling-ads" {
		t.Errorf("DE obligations = %+v", de.Obligations)
	}
	us := byCode["US"]
	if len(us.Obligations) != 1 || us.Obligations[0].ID != "us-ut.app-store-age-signal" || !slices.Equal(us.Obligations[0].Only, []string{"US-UT"}) {
		t.Errorf("US obligations = %+v", us.Obligations)
	}
	if len(s.NotInForce) != 1 || s.NotInForce[0].Subject != "us-tx.app-store-age-signal" || s.NotInForce[0].LegalStatus != "enjoined" {
		t.Errorf("not in force = %+v", s.NotInForce)
	}
	if len(s.Methods) != 7 || s.EstimationBuffer != 2 {
		t.Errorf("methods %+v, buffer %v", s.Methods, s.EstimationBuffer)
	}
}
