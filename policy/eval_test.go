package policy

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"github.com/google/go-cmp/cmp"
)

func load(t testing.TB, name string) *Policy {
	t.Helper()
	p, err := Load(name)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return p
}

func TestFailSafeNoRuleMatched(t *testing.T) {
	p := load(t, "testdata/failsafe/no-rule-matched.yaml")
	r := p.Evaluate(Input{Jurisdiction: "DE", Age: 30, Now: day(t, "2026-11-26")})
	if r.Decision != AdditionalVerificationRequired {
		t.Errorf("Decision = %s", r.Decision)
	}
	if diff := cmp.Diff([]string{ReasonNoRuleMatched}, ruleIDs(r)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if r.Pack != "default" || len(r.EvalErrors) != 0 {
		t.Errorf("Pack = %s, EvalErrors = %v", r.Pack, r.EvalErrors)
	}
}

func TestFailSafeRuntimeError(t *testing.T) {
	p := load(t, "testdata/failsafe/runtime-error.yaml")
	r := p.Evaluate(Input{Jurisdiction: "FR", Age: 30, Now: day(t, "2026-11-26")})
	if r.Decision != AdditionalVerificationRequired {
		t.Errorf("Decision = %s", r.Decision)
	}
	if diff := cmp.Diff([]string{"default.of-age", "default.broken"}, ruleIDs(r)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if got := r.Reasons[1]; got.Decision != AdditionalVerificationRequired || !strings.Contains(got.Message, "could not be evaluated") {
		t.Errorf("broken rule reason = %+v", got)
	}
	if len(r.EvalErrors) != 1 || !strings.Contains(r.EvalErrors[0].Error(), "no such key: missing") ||
		!strings.Contains(r.EvalErrors[0].Error(), "default.broken") {
		t.Errorf("EvalErrors = %v", r.EvalErrors)
	}
}

func TestFailSafeNoPack(t *testing.T) {
	p := load(t, "testdata/failsafe/no-rule-matched.yaml")
	r := p.Evaluate(Input{Age: 30, Now: day(t, "1999-12-31")}) // before the default's only period
	if r.Decision != AdditionalVerificationRequired || r.Reasons[0].Rule != ReasonNoPack || r.Pack != "default" {
		t.Errorf("got %+v", r)
	}
}

func TestEvaluateVariables(t *testing.T) {
	p := load(t, "testdata/failsafe/vars.yaml")
	in := Input{
		Jurisdiction:  "US-UT",
		Stage:         "signup",
		Age:           13,
		Signals:       map[string]float64{SignalUserReports: 2},
		DeviceHistory: true,
		DeviceMinAge:  12,
		Now:           day(t, "2026-11-26"),
	}
	r := p.Evaluate(in)
	want := []Reason{{
		Rule:     "us-ut.all-vars",
		Decision: Allow,
		Message:  "US-UT: minimum 14, consent 14",
		Citation: "see utah facts!",
	}}
	if diff := cmp.Diff(want, r.Reasons); diff != "" || r.Decision != Allow || len(r.EvalErrors) > 0 {
		t.Errorf("Evaluate: decision %s errors %v reasons (-want +got):\n%s", r.Decision, r.EvalErrors, diff)
	}
	// Change each input in turn: the rule must stop matching.
	mutations := map[string]func(*Input){
		"age":            func(in *Input) { in.Age = 12 },
		"stage":          func(in *Input) { in.Stage = "reassessment" },
		"jurisdiction":   func(in *Input) { in.Jurisdiction = "US" },
		"signals":        func(in *Input) { in.Signals = map[string]float64{SignalUserReports: 3} },
		"likelihood":     func(in *Input) { in.Signals = map[string]float64{SignalUnderageLikelihood: 0.1} },
		"history":        func(in *Input) { in.DeviceHistory = false },
		"min age":        func(in *Input) { in.DeviceMinAge = 11 },
		"now":            func(in *Input) { in.Now = day(t, "2019-06-01") },
		"nil signals ok": nil,
	}
	for name, mutate := range mutations {
		in := in
		in.Signals = map[string]float64{SignalUserReports: 2}
		if mutate == nil {
			in.Signals = nil
			if r := p.Evaluate(in); r.Decision != Allow {
				t.Errorf("%s: decision %s, reasons %v", name, r.Decision, ruleIDs(r))
			}
			continue
		}
		mutate(&in)
		if r := p.Evaluate(in); r.Decision == Allow || len(r.EvalErrors) > 0 {
			t.Errorf("mutating %s: decision %s, reasons %v, errors %v", name, r.Decision, ruleIDs(r), r.EvalErrors)
		}
	}
}

func TestEvaluateZeroNow(t *testing.T) {
	p := builtin(t)
	r := p.Evaluate(Input{Jurisdiction: "DE", Age: 20})
	if r.Decision != Allow || r.AsOf != DateOf(time.Now().In(p.Location("DE"))) && r.AsOf != DateOf(time.Now().Add(-time.Minute).In(p.Location("DE"))) {
		t.Errorf("zero Now: %s as of %s", r.Decision, r.AsOf)
	}
}

func TestSignalMapValue(t *testing.T) {
	var s signalMap
	s.set(map[string]float64{SignalUserReports: 4, "other": 1})
	want := map[string]float64{SignalUnderageLikelihood: 0, SignalUserReports: 4}
	if diff := cmp.Diff(want, s.Value()); diff != "" {
		t.Errorf("Value (-want +got):\n%s", diff)
	}
	for _, v := range []ref.Val{&s, newParamMap(want)} {
		got, err := v.ConvertToNative(reflect.TypeOf(map[string]float64{}))
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("%T.ConvertToNative = %v, %v", v, got, err)
		}
		if v.ConvertToType(types.MapType) != v || v.ConvertToType(types.TypeType) != types.MapType || !types.IsError(v.ConvertToType(types.StringType)) {
			t.Errorf("%T.ConvertToType is wrong", v)
		}
		m := v.(traits.Mapper)
		if m.Get(types.String(SignalUserReports)) != types.Double(4) || !types.IsError(m.Get(types.String("nope"))) || !types.IsError(m.Get(types.Int(1))) {
			t.Errorf("%T.Get is wrong", v)
		}
		if !types.IsError(m.Contains(types.Int(1))) || m.Contains(types.String(SignalUserReports)) != types.True {
			t.Errorf("%T.Contains is wrong", v)
		}
		if !cmp.Equal(v.Value(), want) {
			t.Errorf("%T.Value = %v", v, v.Value())
		}
	}
	if diff := cmp.Diff(KnownSignals(), []string{SignalUnderageLikelihood, SignalUserReports}); diff != "" {
		t.Errorf("KnownSignals (-want +got):\n%s", diff)
	}
}

func TestCELMaps(t *testing.T) {
	src := `id: m
params: {b: 2, a: 1.5}
default: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}
rules:
  - id: maps
    decision: allow
    when: >-
      params == {"a": 1.5, "b": 2.0} && size(params) == 2 && "a" in params && !("z" in params) &&
      params.all(k, k in ["a", "b"]) && params["b"] > 1 &&
      signals == {"underage_likelihood": 0.5, "user_reports": 0.0} && !("x" in signals) &&
      signals.map(k, k).size() == 2 && has(signals.user_reports) && !has(signals.nope) &&
      has(params.a) && !has(params.zzz)
    message: m
    citation: c
  - id: missing-signal
    decision: deny
    when: 'signals["nope"] > 0.0'
    message: m
    citation: c
`
	p, err := LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(src)}}, "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := p.Evaluate(Input{Age: 20, Now: day(t, "2026-01-01"), Signals: map[string]float64{SignalUnderageLikelihood: 0.5}})
	if diff := cmp.Diff([]string{"default.maps", "default.missing-signal"}, ruleIDs(r)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if len(r.EvalErrors) != 1 || !strings.Contains(r.EvalErrors[0].Error(), "no such key: nope") {
		t.Errorf("EvalErrors = %v", r.EvalErrors)
	}
}
