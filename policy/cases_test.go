package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// TestBuiltinCases runs the shipped policy's own test cases: the policy
// and its expectations must never drift apart.
func TestBuiltinCases(t *testing.T) {
	cases, err := BuiltinCases()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 150 {
		t.Errorf("only %d builtin cases", len(cases))
	}
	for _, r := range builtin(t).RunCases(cases) {
		if !r.Pass {
			t.Errorf("%s (%s:%d):\n\t%s", r.Case.Name, r.Case.File, r.Case.Line, strings.Join(r.Problems, "\n\t"))
		}
	}
}

// TestBuiltinCasesCoverEveryJurisdiction: every pack, and the default, has
// cases at its minimum and consent ages, one year under each, and an adult.
func TestBuiltinCasesCoverEveryJurisdiction(t *testing.T) {
	cases, err := BuiltinCases()
	if err != nil {
		t.Fatal(err)
	}
	p := builtin(t)
	ages := map[string][]int{}
	for _, c := range cases {
		if c.Input.Age != nil && c.Input.Evidence == nil && c.AsOf == (Date{2026, 11, 26}) {
			pack := p.Evaluate(Input{Jurisdiction: c.Input.Jurisdiction, Age: *c.Input.Age, Now: c.Now(p)}).Pack
			ages[pack] = append(ages[pack], *c.Input.Age)
		}
	}
	for _, row := range append(agesTable, struct {
		code             string
		minimum, consent int
	}{"default", 13, 13}) {
		for _, age := range []int{row.minimum - 1, row.minimum, row.consent - 1, row.consent, 30} {
			if !slices.Contains(ages[row.code], age) {
				t.Errorf("%s: no case at age %d", row.code, age)
			}
		}
	}
}

func TestLoadSkipsCaseFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"pol/p.yaml":      {Data: []byte("id: x\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\nrules: [{id: r, decision: allow, when: 'age >= 13', message: m, citation: c}]\n")},
		"pol/p_test.yaml": {Data: []byte("- {name: a, as_of: 2026-01-01, input: {age: 13}, expect: {decision: allow, rules: [default.r]}}\n")},
		"pol/q_TEST.yml":  {Data: []byte("- {name: b, as_of: 2026-01-01, input: {age: 12}, expect: {decision: additional_verification_required}}\n")},
	}
	p, err := LoadFS(fsys, "pol")
	if err != nil {
		t.Fatalf("LoadFS with case files: %v", err)
	}
	cases, err := LoadCasesFS(fsys, "pol")
	if err != nil || len(cases) != 2 {
		t.Fatalf("LoadCasesFS = %d cases, %v", len(cases), err)
	}
	if c := cases[0]; c.Name != "a" || c.File != "pol/p_test.yaml" || c.Line != 1 || *c.Input.Age != 13 || c.Input.Stage != "signup" {
		t.Errorf("case = %+v", c)
	}
	for _, r := range p.RunCases(cases) {
		if !r.Pass {
			t.Errorf("%s: %v", r.Case.Name, r.Problems)
		}
	}
	// A single policy file's cases are in x_test.yaml beside it.
	if cases, err := LoadCasesFS(fsys, "pol/p.yaml"); err != nil || len(cases) != 1 {
		t.Errorf("LoadCasesFS(p.yaml) = %d, %v", len(cases), err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.yaml"), fsys["pol/p.yaml"].Data, 0o644)
	if cases, err := LoadCases(filepath.Join(dir, "p.yaml")); err != nil || len(cases) != 0 {
		t.Errorf("LoadCases without a case file = %d, %v", len(cases), err)
	}
	os.WriteFile(filepath.Join(dir, "p_test.yaml"), fsys["pol/p_test.yaml"].Data, 0o644)
	for _, name := range []string{filepath.Join(dir, "p.yaml"), filepath.Join(dir, "p_test.yaml"), dir} {
		if cases, err := LoadCases(name); err != nil || len(cases) != 1 || cases[0].File != filepath.Join(dir, "p_test.yaml") {
			t.Errorf("LoadCases(%s) = %+v, %v", name, cases, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "p.yaml")); err != nil {
		t.Errorf("Load: %v", err)
	}
	if _, err := LoadCases(filepath.Join(dir, "missing")); err == nil {
		t.Error("LoadCases of a missing path: no error")
	}
}

func TestLoadCasesErrors(t *testing.T) {
	valid := "- name: ok\n  as_of: 2026-01-01\n  input: {age: 13}\n  expect: {decision: allow}\n"
	tests := []struct {
		name, src, want string
	}{
		{"unknown case field", "- name: a\n  as_of: 2026-01-01\n  input: {age: 13}\n  expect: {decision: allow}\n  expected: {}\n", `c_test.yaml:5:3: unknown field "expected" in case`},
		{"unknown input field", "- {name: a, as_of: 2026-01-01, input: {agee: 13}, expect: {decision: allow}}\n", `1:40: unknown field "agee" in input`},
		{"unknown expect field", "- {name: a, as_of: 2026-01-01, input: {age: 13}, expect: {decision: allow, reasons: []}}\n", `1:76: unknown field "reasons" in expect`},
		{"bad date", "- {name: a, as_of: 2023-02-29, input: {age: 13}, expect: {decision: allow}}\n", `1:20: as_of: invalid date`},
		{"bad decision", "- {name: a, as_of: 2026-01-01, input: {age: 13}, expect: {decision: ok}}\n", `invalid decision "ok"`},
		{"bad band", "- {name: a, as_of: 2026-01-01, input: {age: 13}, expect: {decision: allow, band: teen}}\n", `invalid band "teen"`},
		{"no decision", "- {name: a, as_of: 2026-01-01, input: {age: 13}, expect: {band: 13_15}}\n", `expect: decision is required`},
		{"no name", "- {as_of: 2026-01-01, input: {age: 13}, expect: {decision: allow}}\n", `1:3: case: name is required`},
		{"no as_of", "- {name: a, input: {age: 13}, expect: {decision: allow}}\n", `as_of is required`},
		{"no input", "- {name: a, as_of: 2026-01-01, expect: {decision: allow}}\n", `input is required`},
		{"no expect", "- {name: a, as_of: 2026-01-01, input: {age: 13}}\n", `expect is required`},
		{"age and birth date", "- {name: a, as_of: 2026-01-01, input: {age: 13, birth_date: 2000-01-01}, expect: {decision: allow}}\n", `give age or birth_date, not both`},
		{"neither age nor birth date", "- {name: a, as_of: 2026-01-01, input: {jurisdiction: DE}, expect: {decision: allow}}\n", `one of age and birth_date is required`},
		{"bad jurisdiction", "- {name: a, as_of: 2026-01-01, input: {jurisdiction: UK, age: 1}, expect: {decision: allow}}\n", `jurisdiction: unknown jurisdiction`},
		{"bad stage", "- {name: a, as_of: 2026-01-01, input: {age: 1, stage: login}, expect: {decision: allow}}\n", `stage: "login"`},
		{"unknown signal", "- {name: a, as_of: 2026-01-01, input: {age: 1, signals: {vibes: 1}}, expect: {decision: allow}}\n", `unknown signal "vibes"`},
		{"bad evidence type", "- {name: a, as_of: 2026-01-01, input: {age: 1, evidence: [{type: selfie}]}, expect: {decision: allow}}\n", `evidence: type must be one of`},
		{"evidence field of another type", "- {name: a, as_of: 2026-01-01, input: {age: 1, evidence: [{type: parental_consent, age: 3}]}, expect: {decision: allow}}\n", `unknown field "age" in evidence parental_consent`},
		{"estimate missing", "- {name: a, as_of: 2026-01-01, input: {age: 1, evidence: [{type: age_estimation}]}, expect: {decision: allow}}\n", `estimate is required`},
		{"duplicate evidence", "- {name: a, as_of: 2026-01-01, input: {age: 1, evidence: [{type: parental_consent}, {type: parental_consent}]}, expect: {decision: allow}}\n", `at most one item of type parental_consent`},
		{"rules and rules_include", "- {name: a, as_of: 2026-01-01, input: {age: 1}, expect: {decision: allow, rules: [], rules_include: []}}\n", `not both`},
		{"duplicate name", valid + valid, `c_test.yaml:5: duplicate case name "ok" (first at c_test.yaml:1)`},
		{"not a list", "name: a\n", `the case file must be a list`},
		{"yaml syntax", "- {name: a\n", `yaml:`},
		{"bad time", "- {name: a, as_of: 2026-01-01, time: noon, input: {age: 1}, expect: {decision: allow}}\n", `time: want an RFC 3339 instant`},
		{"bad prior", "- {name: a, as_of: 2026-01-01, input: {age: 1, prior: {age_min: 3, age_max: 2, level: gold}}, expect: {decision: allow}}\n", `is not asserted, standard, enhanced or strict`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cases, err := LoadCasesFS(fstest.MapFS{"c_test.yaml": {Data: []byte(tt.src)}}, "c_test.yaml")
			if err == nil {
				t.Fatalf("LoadCasesFS = %d cases, no error; want %q", len(cases), tt.want)
			}
			var list ErrorList
			if !errors.As(err, &list) || !strings.HasPrefix(err.Error(), "c_test.yaml:") {
				t.Errorf("error %q is not a positioned ErrorList", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRunCasesReportsDifferences(t *testing.T) {
	src := `- name: wrong everything
  as_of: 2026-11-26
  input: {jurisdiction: DE, age: 14}
  expect:
    decision: allow
    band: 16_17
    rules: [de.of-age]
    obligations: []
    pack: AT
- name: missing rule
  as_of: 2026-11-26
  input: {jurisdiction: DE, age: 14}
  expect: {decision: parental_consent_required, rules_include: [de.anti-hopping]}
- name: born after as_of
  as_of: 2026-11-26
  input: {jurisdiction: DE, birth_date: 2026-11-27}
  expect: {decision: deny}
`
	cases, err := LoadCasesFS(fstest.MapFS{"x_test.yaml": {Data: []byte(src)}}, ".")
	if err != nil {
		t.Fatal(err)
	}
	res := builtin(t).RunCases(cases)
	want := [][]string{
		{
			"decision: got parental_consent_required, want allow",
			"band: got 13_15, want 16_17",
			"rules: got [de.digital-consent-age], want [de.of-age]",
			"obligations: got [eu.dsa-no-profiling-ads], want []",
			"pack: got DE, want AT",
		},
		{"rules: de.anti-hopping did not fire (got [de.digital-consent-age])"},
		{"birth_date 2026-11-27 is after the evaluation date"},
	}
	for i, r := range res {
		if r.Pass || !slices.Equal(r.Problems, want[i]) {
			t.Errorf("case %d: pass=%v problems:\n%s\nwant:\n%s", i, r.Pass, strings.Join(r.Problems, "\n"), strings.Join(want[i], "\n"))
		}
	}
}
