package policy

import (
	"fmt"
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
	var codes []string
	for _, j := range s.Jurisdictions {
		byCode[j.Code] = j
		codes = append(codes, j.Code)
	}
	if want := []string{"BR", "IN", "US", "US-GA", "default"}; !slices.Equal(codes, want) {
		t.Errorf("jurisdictions %q, want %q", codes, want)
	}
	periods := func(j StatementPack) []string {
		var out []string
		for _, per := range j.Periods {
			out = append(out, fmt.Sprintf("%s %d/%d %s applies=%v reviewed=%s", per.From, per.MinimumAge, per.ConsentAge, per.LegalStatus, per.Applies, per.Reviewed))
		}
		return out
	}
	tests := []struct {
		code        string
		fallsBackTo string
		current     string // From of the current period, "" for none
		periods     []string
	}{
		{"IN", "default", "2027-05-13", []string{
			"2023-08-11 13/13 in_force applies=true reviewed=2026-11-01",
			"2027-05-13 13/18 enacted applies=true reviewed=2026-11-01",
		}},
		{"BR", "default", "2020-01-01", []string{ // the pending period is on the watch list
			"2020-01-01 13/16 in_force applies=true reviewed=2026-11-01",
			"2026-01-01 15/15 enjoined applies=false reviewed=2026-11-01",
		}},
		{"US-GA", "US", "", []string{"2025-07-01 16/16 enjoined applies=false reviewed=2026-11-01"}},
		{"default", "", "2000-01-01", []string{"2000-01-01 13/13 in_force applies=true reviewed=2026-11-01"}},
	}
	for _, tt := range tests {
		j := byCode[tt.code]
		current := ""
		if j.Current != nil {
			current = j.Current.From.String()
		}
		if j.FallsBackTo != tt.fallsBackTo || current != tt.current || !slices.Equal(periods(j), tt.periods) {
			t.Errorf("%s: falls back to %q, current %q, periods %q; want %q, %q, %q", tt.code, j.FallsBackTo, current, periods(j), tt.fallsBackTo, tt.current, tt.periods)
		}
	}
	in := byCode["IN"]
	if r := in.Rules[1]; r.ID != "in.consent" || r.Citation != "DPDP Rules 2025" {
		t.Errorf("IN rule = %+v", r)
	}
	if len(in.Obligations) != 1 || in.Obligations[0].ID != "in.verifiable-consent" || !in.Obligations[0].Applies || in.Obligations[0].Reviewed != mustDate(t, "2026-11-01") {
		t.Errorf("IN obligations = %+v", in.Obligations)
	}
	// Only obligations that take effect are listed per pack; the US pack
	// handles US-GA checks, since Georgia's own pack is enjoined.
	if us := byCode["US"]; len(us.Obligations) != 1 || us.Obligations[0].ID != "us-ga.notice" || !slices.Equal(us.Obligations[0].Only, []string{"US-GA"}) {
		t.Errorf("US obligations = %+v", us.Obligations)
	}
	var obligations []string
	for _, o := range s.Obligations {
		obligations = append(obligations, o.ID+" "+o.Scope+" "+o.LegalStatus)
	}
	if want := []string{"in.verifiable-consent IN enacted", "us-ga.enjoined-duty US-GA enjoined", "us-ga.notice US-GA in_force"}; !slices.Equal(obligations, want) {
		t.Errorf("obligations = %q, want %q", obligations, want)
	}
	items := func(xs []StatementItem) []string {
		var out []string
		for _, x := range xs {
			out = append(out, x.Kind+" "+x.Subject+" "+x.LegalStatus)
		}
		return out
	}
	if got, want := items(s.NotInForce), []string{"period BR enjoined", "period US-GA enjoined", "obligation us-ga.enjoined-duty enjoined"}; !slices.Equal(got, want) {
		t.Errorf("not in force = %q, want %q", got, want)
	}
	if got, want := items(s.WatchList), []string{"period BR pending", "period IN pending"}; !slices.Equal(got, want) {
		t.Errorf("watch list = %q, want %q", got, want)
	}
}
