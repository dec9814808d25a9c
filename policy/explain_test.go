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
	// A subdivision whose only period is enjoined: the chain tries it,
	// then applies its country's pack.
	p := load(t, "testdata/status/statuses.yaml")
	_, tr := p.Explain(Input{Jurisdiction: "us-ga", Age: 15, Now: day(t, "2026-11-26")})
	wantChain := []PackStep{
		{Code: "US-GA", HasPack: true, AsOf: mustDate(t, "2026-11-26")},
		{Code: "US", HasPack: true, InForce: true, AsOf: mustDate(t, "2026-11-26"), Applied: true},
	}
	if !reflect.DeepEqual(tr.Chain, wantChain) {
		t.Errorf("chain = %+v", tr.Chain)
	}
	if tr.Jurisdiction != "US-GA" || tr.Pack != "US" || tr.Period == nil || tr.Period.MinimumAge != 13 || tr.Period.Citation != "US" ||
		tr.Period.Reviewed != mustDate(t, "2026-11-01") {
		t.Errorf("trace = %+v", tr)
	}
	if len(tr.Rules) != 4 || tr.Rules[0].ReasonID != "us.under-minimum" || !tr.Rules[0].Evaluated || tr.Rules[0].Fired {
		t.Errorf("rules = %+v", tr.Rules)
	}
	if r := tr.Rules[3]; r.ID != "enacted-rule" || !r.InForce || r.InDate || r.Evaluated {
		t.Errorf("enacted rule before its date = %+v", r)
	}
	var ga *ObligationTrace
	for i := range tr.Obligations {
		if tr.Obligations[i].ID == "us-ga.enjoined-duty" {
			ga = &tr.Obligations[i]
		}
	}
	if ga == nil || ga.InForce || !ga.InScope || !ga.BandMatch || ga.Attached || ga.LegalStatus != "enjoined" {
		t.Errorf("us-ga obligation = %+v", ga)
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
	if s.PolicyID != "ageassure-builtin" || s.Hash != p.Hash() || len(s.Jurisdictions) != len(p.Jurisdictions())+1 {
		t.Fatalf("statement %s %s, %d jurisdictions", s.PolicyID, s.Hash, len(s.Jurisdictions))
	}
	if last := s.Jurisdictions[len(s.Jurisdictions)-1]; last.Code != "default" || last.Current == nil {
		t.Errorf("last = %+v", last)
	}
	if len(s.Methods) != 7 || s.EstimationBuffer != 2 {
		t.Errorf("methods %+v, buffer %v", s.Methods, s.EstimationBuffer)
	}

	// The shape, on a policy that does not change with the law.
	q := load(t, "testdata/status/statuses.yaml")
	s = q.Statement(mustDate(t, "2027-05-13"))
	byCode := map[string]StatementPack{}
	for _, j := range s.Jurisdictions {
		byCode[j.Code] = j
	}
	in := byCode["IN"]
	if in.Current == nil || in.Current.ConsentAge != 18 || in.Current.LegalStatus != "enacted" || len(in.Periods) != 2 {
		t.Errorf("IN = %+v", in)
	}
	if r := in.Rules[1]; r.ID != "in.consent" || r.Citation != "DPDP Rules 2025" {
		t.Errorf("IN rule = %+v", r)
	}
	if len(in.Obligations) != 1 || in.Obligations[0].ID != "in.verifiable-consent" {
		t.Errorf("IN obligations = %+v", in.Obligations)
	}
	us := byCode["US"]
	if len(us.Obligations) != 0 {
		t.Errorf("US obligations = %+v", us.Obligations)
	}
	var notInForce []string
	for _, x := range s.NotInForce {
		notInForce = append(notInForce, x.Kind+" "+x.Subject+" "+x.LegalStatus)
	}
	if want := []string{"period BR enjoined", "period BR pending", "period US-GA enjoined", "obligation us-ga.enjoined-duty enjoined"}; !slices.Equal(notInForce, want) {
		t.Errorf("not in force = %q, want %q", notInForce, want)
	}
}
