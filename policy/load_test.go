package policy

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file string
		// want holds "line:col: message substring" for every expected
		// problem, in order.
		want []string
	}{
		{"unknown-field.yaml", []string{`7:7: unknown field "efective_until" in default period`}},
		{"id-not-slug.yaml", []string{`1:1: the policy id must be a lower-case slug`}},
		{"duplicate-rule.yaml", []string{`11:5: duplicate rule id "r" (first defined at testdata/broken/duplicate-rule.yaml:6:5)`}},
		{"duplicate-jurisdiction.yaml", []string{`9:5: duplicate jurisdiction DE`}},
		{"duplicate-obligation.yaml", []string{`10:5: duplicate obligation id "x.duty"`}},
		{"invalid-jurisdiction.yaml", []string{
			`6:11: invalid jurisdiction code: unknown jurisdiction: "UK"`,
			`9:11: invalid jurisdiction code: jurisdiction code is not of the form AA or AA-XXX: "US-UTAH"`,
		}},
		{"invalid-decision.yaml", []string{`7:15: invalid decision "maybe"`}},
		{"invalid-band.yaml", []string{`9:23: invalid band "13-15"`}},
		{"invalid-legal-status.yaml", []string{`6:21: default period: invalid legal_status "repealed"`}},
		{"bad-date.yaml", []string{`5:23: default period.effective_from: invalid date: "2023-02-29"`}},
		{"bad-timezone.yaml", []string{`3:13: default: cannot load timezone "Europe/Atlantis"`}},
		{"cel-syntax.yaml", []string{`8:11: rule r: when: CEL error at column 8: Syntax error: mismatched input '<EOF>'`}},
		{"cel-type.yaml", []string{
			`8:11: rule r: when: CEL error at column 1: undeclared reference to 'agee'`,
			`8:11: rule r: when: CEL error at column 21: found no matching overload for '_>_' applied to '(string, int)'`,
		}},
		{"when-not-bool.yaml", []string{`8:11: rule r: when must be a bool expression, not int`}},
		{"effective-order.yaml", []string{`6:5: rule r: effective_from 2025-01-01 must be before effective_until 2025-01-01`}},
		{"overlapping-periods.yaml", []string{`13:9: jurisdiction DK: in-force period [2024-01-01, open) overlaps the in-force period [2018-05-25, 2024-06-01) at testdata/broken/overlapping-periods.yaml:9:9`}},
		{"enacted-without-date.yaml", []string{`6:5: obligation x.duty: legal_status enacted needs effective_from, the day it takes effect`}},
		{"overlapping-enacted.yaml", []string{`11:9: jurisdiction IN: enacted period [2027-05-13, open) overlaps the in-force period [2023-08-11, open)`}},
		{"bad-reviewed.yaml", []string{`6:17: default period.reviewed: invalid date: "2026-02-30"`}},
		{"missing-citation.yaml", []string{`6:5: rule r: citation is required`}},
		{"missing-id.yaml", []string{`1:1: the policy id is required`}},
		{"age-in-message.yaml", []string{`9:14: message: unknown placeholder {age}`}},
		{"yaml-syntax.yaml", []string{`3:1: yaml: did not find expected ',' or ']'`}},
		{"many.yaml", []string{
			`2:18: thresholds must be a whole number of years`,
			`5:70: minimum_age must be between 0 and 150`,
			`12:22: scope group "nowhere" is not a group of any jurisdiction`,
			`12:48: invalid jurisdiction code in scope: unknown jurisdiction: "ZZ"`,
			`13:5: unknown field "colour" in rule`,
		}},
		{"dup-id", []string{`dup-id/b.yaml:2:1: duplicate top-level id (first set at testdata/broken/dup-id/a.yaml:1:1)`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join("testdata", "broken", tt.file)
			p, err := Load(name)
			if p != nil || err == nil {
				t.Fatalf("Load(%s) = %v, %v; want an error", name, p, err)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(list) || len(list) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(list), len(tt.want), err)
			}
			for i, want := range tt.want {
				prefix := name + ":"
				if strings.HasPrefix(tt.file, "dup-id") {
					prefix = filepath.Join("testdata", "broken") + "/"
				}
				if !strings.HasPrefix(lines[i], prefix+want) {
					t.Errorf("problem %d = %q\nwant prefix %q", i, lines[i], prefix+want)
				}
			}
		})
	}
}

func TestLoadErrorsUnwrap(t *testing.T) {
	_, err := Load("testdata/broken/bad-date.yaml")
	if !errors.Is(err, ErrInvalidDate) {
		t.Errorf("errors.Is(%v, ErrInvalidDate) = false", err)
	}
	_, err = Load("testdata/broken/invalid-jurisdiction.yaml")
	if !errors.Is(err, ErrUnknownJurisdiction) || !errors.Is(err, ErrJurisdictionSyntax) {
		t.Errorf("jurisdiction errors not matchable: %v", err)
	}
	var le *LoadError
	if !errors.As(err, &le) || le.Pos.Line != 6 || le.Pos.Col != 11 {
		t.Errorf("errors.As *LoadError = %+v", le)
	}
	if _, err := Load("testdata/does-not-exist"); err == nil || errorsOf(err) != nil {
		t.Errorf("missing path: %v", err)
	}
}

func TestLoadShapes(t *testing.T) {
	base := "id: x\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\n"
	tests := []struct {
		name, src, want string // want "" means the policy loads
	}{
		{"minimal", base, ""},
		{"empty file", "", "the policy id is required"},
		{"comment only", "# nothing\n", "the policy id is required"},
		{"not a mapping", "- a\n- b\n", "the policy file must be a mapping"},
		{"two documents", base + "---\nid: y\n", "one YAML document"},
		{"alias", base + "params: {a: &n 1, b: *n}\n", "aliases are not supported"},
		{"merge key", base + "jurisdictions:\n  - &de {code: DE, timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\n  - <<: *de\n", "aliases are not supported"},
		{"bad window", base + "anti_hopping: {window: 1 day}\n", "invalid Go duration"},
		{"negative window", base + "anti_hopping: {window: -1h}\n", "must not be negative"},
		{"param not a number", base + "params: {a: yes}\n", "params.a must be a number"},
		{"param infinite", base + "params: {a: .inf}\n", "finite"},
		{"missing timezone", "id: x\ndefault: {periods: [{effective_from: 2000-01-01, citation: c}]}\n", "timezone is required"},
		{"Local timezone", "id: x\ndefault: {timezone: Local, periods: [{effective_from: 2000-01-01, citation: c}]}\n", "cannot load timezone"},
		{"no periods", "id: x\ndefault: {timezone: UTC}\n", "at least one period"},
		{"period without from", "id: x\ndefault: {timezone: UTC, periods: [{citation: c}]}\n", "effective_from is required (only a pending period may leave it out)"},
		{"enacted period without from", "id: x\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}, {citation: c, legal_status: enacted}]}\n", "effective_from is required"},
		{"period without citation", "id: x\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01}]}\n", "citation is required"},
		{"default with code", "id: x\ndefault: {code: DE, timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\n", `unknown field "code" in default`},
		{"no default", "id: x\n", "a default pack is required"},
		{"duplicate key", base + "params: {a: 1, a: 2}\n", `duplicate key "a" in params`},
		{"rule without when", base + "rules: [{id: r, decision: allow, message: m, citation: c}]\n", "when is required"},
		{"rule bad id", base + "rules: [{id: R 1, decision: allow, when: 'true', message: m, citation: c}]\n", "invalid rule id"},
		{"rule dyn", base + "rules: [{id: r, decision: allow, when: 'dyn(true)', message: m, citation: c}]\n", "must be a bool expression"},
		{"citation placeholder", base + "rules: [{id: r, decision: allow, when: 'true', message: m, citation: '{source}'}]\n", "unknown placeholder in citation"},
		{"obligation no bands", base + "obligations: [{id: o, text: t, citation: c}]\n", "bands is required"},
		{"bad group", base + "jurisdictions: [{code: DE, groups: [EU], timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}]\n", "invalid group name"},
		{"bad confidence", "id: x\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c, confidence: sure}]}\n", "invalid confidence"},
		{"age as string", "id: x\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c, minimum_age: '13'}]}\n", "whole number of years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(tt.src)}}, "p.yaml")
			if tt.want == "" {
				if err != nil || p == nil {
					t.Fatalf("LoadFS = %v, %v; want a policy", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadFS error = %v; want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "p.yaml:") {
				t.Errorf("error %q has no position", err)
			}
		})
	}
}

func TestLoadFolder(t *testing.T) {
	fsys := fstest.MapFS{
		"pol/a.yaml":       {Data: []byte("id: x\nrules: [{id: first, decision: allow, when: 'true', message: m, citation: c}]\n")},
		"pol/sub/b.yml":    {Data: []byte("default: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\n")},
		"pol/c.yaml":       {Data: []byte("rules: [{id: second, decision: deny, when: 'false', message: m, citation: c}]\n")},
		"pol/README.md":    {Data: []byte("not a policy")},
		"pol/ignored.json": {Data: []byte("{")},
		"empty/readme.txt": {Data: []byte("")},
		"single/only.yaml": {Data: []byte("id: y\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\n")},
	}
	p, err := LoadFS(fsys, "pol")
	if err != nil {
		t.Fatal(err)
	}
	r := p.Evaluate(Input{Age: 20, Now: day(t, "2026-01-01")})
	// Files are merged in path order: a.yaml, c.yaml, sub/b.yml.
	if got := strings.Join(ruleIDs(r), ","); got != "default.first" || r.Decision != Allow {
		t.Errorf("got %s %s", r.Decision, got)
	}
	if _, err := LoadFS(fsys, "empty"); err == nil || !strings.Contains(err.Error(), "no *.yaml") {
		t.Errorf("empty folder: %v", err)
	}
	if p, err := LoadFS(fsys, "single/only.yaml"); err != nil || p.ID() != "y" {
		t.Errorf("single file: %v", err)
	}
	if p, err := Load("packs"); err != nil || p.Hash() != builtin(t).Hash() {
		t.Errorf("Load(packs) = %v; hash differs from Builtin", err)
	}
}

// errorsOf returns the problems in err if it is (or wraps) an ErrorList or
// a *LoadError.
func errorsOf(err error) ErrorList {
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	var e *LoadError
	if errors.As(err, &e) {
		return ErrorList{e}
	}
	return nil
}
