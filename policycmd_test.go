package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runPolicy runs `ageassure policy args...` in-process.
func runPolicy(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"policy"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPolicyUsage(t *testing.T) {
	if code, _, errs := runPolicy(t); code != 2 || !strings.Contains(errs, "lint") {
		t.Errorf("policy = %d %s", code, errs)
	}
	for _, h := range []string{"help", "--help", "-h"} {
		if code, out, _ := runPolicy(t, h); code != 0 || !strings.Contains(out, "simulate  --candidate") {
			t.Errorf("policy %s = %d %s", h, code, out)
		}
	}
	if code, _, errs := runPolicy(t, "lintt"); code != 2 || !strings.Contains(errs, `unknown command "lintt"`) {
		t.Errorf("unknown = %d %s", code, errs)
	}
	// Every subcommand has --help listing its flags with their environment variables.
	for cmd, flag := range map[string]string{"lint": "--strict", "test": "--run", "explain": "--jurisdiction", "diff": "--format",
		"simulate": "--candidate", "doc": "--as-of"} {
		code, _, errs := runPolicy(t, cmd, "--help")
		if code != 0 || !strings.Contains(errs, "Usage: ageassure policy "+cmd) || !strings.Contains(errs, flag) || !strings.Contains(errs, "env: AGEASSURE_") {
			t.Errorf("%s --help = %d\n%s", cmd, code, errs)
		}
	}
	var out bytes.Buffer
	if run(context.Background(), []string{"help"}, &out, &out); !strings.Contains(out.String(), "ageassure policy <command>") {
		t.Errorf("top-level usage does not list policy:\n%s", out.String())
	}
}

func TestPolicyLint(t *testing.T) {
	// The shipped policy loads and has no errors (its warnings depend on
	// the day: see policy.TestLintBuiltin).
	code, out, errs := runPolicy(t, "lint", "builtin", "--as-of", "2026-11-26")
	if code != 0 || !strings.Contains(errs, "builtin: 0 errors, ") {
		t.Errorf("lint builtin = %d\n%s%s", code, out, errs)
	}
	// The date checks, as of --as-of, with --review-days.
	code, out, errs = runPolicy(t, "lint", "policy/testdata/lint/review.yaml", "--as-of", "2026-11-26")
	if code != 0 || !strings.Contains(out, "review.yaml:13:9: warning: jurisdiction IN: period [2027-05-13, open) was last reviewed on 2026-05-29, 181 days before 2026-11-26 (more than 180)") ||
		!strings.Contains(out, "review.yaml:12:9: warning: jurisdiction IN: period [2026-11-26, 2027-05-13) is enacted with effective_from 2026-11-26, which has come") ||
		!strings.Contains(errs, "0 errors, 7 warnings, 2 infos") {
		t.Errorf("lint review.yaml = %d\n%s%s", code, out, errs)
	}
	code, out, errs = runPolicy(t, "lint", "policy/testdata/lint/review.yaml", "--as-of", "2026-11-25", "--review-days", "365")
	if code != 0 || strings.Contains(out, "last reviewed on 2026-05-29") || strings.Contains(out, "period [2026-11-26, 2027-05-13) is enacted") ||
		!strings.Contains(errs, "0 errors, 6 warnings, 2 infos") {
		t.Errorf("lint review.yaml --review-days 365 = %d\n%s%s", code, out, errs)
	}
	if code, _, _ := runPolicy(t, "lint", "--strict", "policy/testdata/lint/consent-below-minimum.yaml"); code != 1 {
		t.Errorf("lint --strict with a warning = %d, want 1", code)
	}
	if code, _, _ := runPolicy(t, "lint", "policy/testdata/lint/consent-below-minimum.yaml"); code != 0 {
		t.Errorf("lint with only a warning = %d, want 0", code)
	}
	if code, out, _ := runPolicy(t, "lint", "policy/testdata/status/statuses.yaml", "--as-of", "2026-11-26", "--strict", "--disable", "not-in-force,no-confidence"); code != 0 || out != "" {
		t.Errorf("lint --disable = %d\n%s", code, out)
	}
	// Broken policies: every problem, positioned, exit 1.
	code, out, _ = runPolicy(t, "lint", "policy/testdata/broken/many.yaml")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) != 5 || !strings.HasPrefix(lines[0], "policy/testdata/broken/many.yaml:2:18: error: thresholds must be a whole number of years [load]") {
		t.Errorf("lint many.yaml = %d\n%s", code, out)
	}
	code, out, _ = runPolicy(t, "lint", "policy/testdata/lint/missing-param.yaml")
	if code != 1 || !strings.Contains(out, "missing-param.yaml:10:11: error: rule reads-missing: when reads params.absent") {
		t.Errorf("lint missing-param = %d\n%s", code, out)
	}
	// JSON, also chosen through the environment.
	t.Setenv("AGEASSURE_FORMAT", "json")
	code, out, _ = runPolicy(t, "lint", "policy/testdata/lint/never-fires-false.yaml", "--disable", "review-due")
	var findings []struct {
		File, Severity, Check, Message string
		Line, Col                      int
	}
	if err := json.Unmarshal([]byte(out), &findings); err != nil || code != 1 || len(findings) != 1 ||
		findings[0].Line != 8 || findings[0].Col != 11 || findings[0].Check != "never-fires" {
		t.Errorf("lint json = %d %v\n%s", code, err, out)
	}
	for _, args := range [][]string{{"lint"}, {"lint", "a", "b"}, {"lint", "builtin", "--format", "xml"}, {"lint", "builtin", "--as-of", "2026-02-30"}, {"lint", "builtin", "--review-days", "0"}, {"lint", "--nope", "builtin"}} {
		if code, _, _ := runPolicy(t, args...); code != 2 {
			t.Errorf("%v = %d, want 2", args, code)
		}
	}
}

func TestPolicyTest(t *testing.T) {
	code, out, _ := runPolicy(t, "test", "builtin")
	if code != 0 || !regexp.MustCompile(`^ok    builtin  \d+ cases\n$`).MatchString(out) {
		t.Errorf("test builtin = %d\n%s", code, out)
	}
	code, out, _ = runPolicy(t, "test", "policy/packs", "-run", "^DK 14", "-v")
	if code != 0 || strings.Count(out, "--- PASS: DK 14") != 7 || !strings.HasSuffix(out, "ok    policy/packs  7 cases\n") ||
		!strings.Contains(out, "--- PASS: DK 14 on 2024-01-01 (consent age 15) (policy/packs/eu-eea_test.yaml:") {
		t.Errorf("test -run -v = %d\n%s", code, out)
	}
	// A change that breaks cases fails them, with what differed.
	cand := candidatePolicy(t, map[string][2]string{"policy.yaml": {"user_reports_threshold: 3", "user_reports_threshold: 2"}})
	for _, f := range []string{"policy_test.yaml", "gb_test.yaml"} {
		b, err := os.ReadFile(filepath.Join("policy", "packs", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(cand, f), b, 0o644)
	}
	code, out, _ = runPolicy(t, "test", cand)
	want := "--- FAIL: DE two user reports do not (" + filepath.Join(cand, "policy_test.yaml") + ":93)\n" +
		"    decision: got additional_verification_required, want parental_consent_required\n" +
		"    rules: got [de.digital-consent-age, de.risk-user-reports], want [de.digital-consent-age]\n" +
		"FAIL  " + cand + "  1 of "
	if code != 1 || !strings.HasPrefix(out, want) {
		t.Errorf("test candidate = %d\n%s\nwant prefix\n%s", code, out, want)
	}
	if code, out, _ := runPolicy(t, "test", cand, "-run", "nothing matches"); code != 0 || !strings.Contains(out, "0 cases [no cases match") {
		t.Errorf("-run nothing = %d %s", code, out)
	}
	// A single policy file without cases; cases that do not load; a policy that does not load.
	if code, out, _ := runPolicy(t, "test", "policy/testdata/failsafe/vars.yaml"); code != 0 || !strings.Contains(out, "[no test cases]") {
		t.Errorf("no cases = %d %s", code, out)
	}
	os.WriteFile(filepath.Join(cand, "bad_test.yaml"), []byte("- {name: x, as_of: 2026-01-01, input: {agee: 1}, expect: {decision: allow}}\n"), 0o644)
	if code, out, _ := runPolicy(t, "test", cand); code != 1 || !strings.Contains(out, `bad_test.yaml:1:40: unknown field "agee" in input`) || !strings.Contains(out, "[test cases do not load]") {
		t.Errorf("bad cases = %d %s", code, out)
	}
	if code, out, _ := runPolicy(t, "test", "policy/testdata/broken/cel-type.yaml"); code != 1 || !strings.Contains(out, "cel-type.yaml:8:11:") || !strings.Contains(out, "[policy does not load]") {
		t.Errorf("broken policy = %d %s", code, out)
	}
	if code, _, _ := runPolicy(t, "test", "builtin", "-run", "("); code != 2 {
		t.Errorf("bad -run = %d", code)
	}
}

func TestPolicyExplain(t *testing.T) {
	code, out, errs := runPolicy(t, "explain", "builtin", "--jurisdiction", "de", "--age", "14", "--as-of", "2026-11-26",
		"--signal", "user_reports=3", "--signal", "underage_likelihood=0.2")
	for _, want := range []string{
		"pack          DE    tried: DE ✓",
		"period        [2018-05-25, open)  minimum age 13, consent age 16, in_force, confidence high",
		"citation: GDPR Art. 8(1); no derogation",
		"  2   de.digital-consent-age       yes       yes      yes       true  ← fired  parental_consent_required",
		"  1   de.minimum-age               yes       yes      yes       false          deny",
		"decision      additional_verification_required",
		"band          13_15",
		"thresholds    13✓ 16✗ 18✗",
		"obligations   eu.dsa-no-profiling-ads",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q", want)
		}
	}
	if code != 0 || t.Failed() {
		t.Fatalf("explain = %d\n%s%s", code, out, errs)
	}
	// Fallback chain, birth date, evidence, JSON.
	code, out, errs = runPolicy(t, "explain", "builtin", "--jurisdiction", "US-TX", "--birth-date", "2012-05-01", "--as-of", "2026-11-26",
		"--evidence", "id_document:age=14", "--device-min-age", "10", "--format", "json")
	var got struct {
		Result struct {
			Decision, Band string
			Obligations    []string
		}
		Trace struct {
			Chain []struct {
				Code    string
				HasPack bool `json:"has_pack"`
				Applied bool
			}
			Rules []struct {
				ReasonID string `json:"reason_id"`
				Fired    bool
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("explain json = %d %v\n%s%s", code, err, out, errs)
	}
	fired := map[string]bool{}
	for _, r := range got.Trace.Rules {
		fired[r.ReasonID] = r.Fired
	}
	if got.Result.Decision != "allow" || got.Result.Band != "13_15" || len(got.Trace.Chain) != 2 || got.Trace.Chain[0].Code != "US-TX" ||
		got.Trace.Chain[0].HasPack || !got.Trace.Chain[1].Applied || !fired["us.of-age"] || fired["us.minimum-age"] ||
		len(got.Result.Obligations) != 1 || got.Result.Obligations[0] != "us-tx.app-store-age-signal" {
		t.Errorf("explain json = %+v", got)
	}
	for _, args := range [][]string{
		{"explain", "builtin", "--jurisdiction", "DE"},
		{"explain", "builtin", "--age", "14", "--birth-date", "2012-01-01"},
		{"explain", "builtin", "--age", "old"},
		{"explain", "builtin", "--age", "14", "--jurisdiction", "UK"},
		{"explain", "builtin", "--age", "14", "--signal", "vibes=1"},
		{"explain", "builtin", "--age", "14", "--evidence", "selfie"},
		{"explain", "builtin", "--age", "14", "--evidence", "age_estimation:uncertainty=2"},
		{"explain", "builtin", "--age", "14", "--evidence", "parental_consent:age=3"},
		{"explain", "builtin", "--age", "14", "--stage", "login"},
		{"explain", "builtin", "--age", "14", "--as-of", "2026-11-26", "--time", "2026-11-26T10:00:00Z"},
		{"explain", "--age", "14"},
	} {
		if code, _, _ := runPolicy(t, args...); code != 2 {
			t.Errorf("%v = %d, want 2", args, code)
		}
	}
	if code, _, errs := runPolicy(t, "explain", "policy/testdata/broken/bad-date.yaml", "--age", "14"); code != 1 || !strings.Contains(errs, "bad-date.yaml:5:23") {
		t.Errorf("broken policy = %d %s", code, errs)
	}
}

func TestParseEvidenceSpec(t *testing.T) {
	e, err := parseEvidenceSpec("age_estimation:estimate=19.2,uncertainty=2.1,liveness=true,outcome=rejected")
	if err != nil || *e.Estimate != 19.2 || e.Uncertainty != 2.1 || !e.Liveness || e.Outcome != "rejected" {
		t.Errorf("estimate = %+v, %v", e, err)
	}
	e, err = parseEvidenceSpec("digital_credential:over_18=true,over_21=false")
	if err != nil || !e.Over[18] || e.Over[21] || len(e.Over) != 2 {
		t.Errorf("credential = %+v, %v", e, err)
	}
	e, err = parseEvidenceSpec("platform_age_range:lower=13,upper=15")
	if err != nil || e.Lower != 13 || e.Upper != 15 || e.Source != "self_declared" {
		t.Errorf("range = %+v, %v", e, err)
	}
	if e, err = parseEvidenceSpec("parental_consent"); err != nil || !e.Consent {
		t.Errorf("consent = %+v, %v", e, err)
	}
	for _, bad := range []string{"id_document", "id_document:age=12,over_18=true", "id_document:age=200", "age_estimation:estimate=x",
		"platform_age_range:source=mum", "age_estimation:estimate=3,outcome=maybe", "id_document:over_x=true", "id_document:age"} {
		if _, err := parseEvidenceSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPolicyDiff(t *testing.T) {
	code, out, _ := runPolicy(t, "diff", "builtin", "policy/packs")
	if code != 0 || !strings.Contains(out, "no changes: the policies have the same hash") {
		t.Errorf("diff builtin packs = %d\n%s", code, out)
	}
	cand := candidatePolicy(t, map[string][2]string{
		"policy.yaml": {"window: 24h", "window: 48h"},
		"au.yaml":     {"        minimum_age: 16\n", "        minimum_age: 15\n"},
	})
	code, out, _ = runPolicy(t, "diff", "builtin", cand)
	want := "2 changes\n\nanti_hopping\n  ~ window: 24h0m0s → 48h0m0s\n\njurisdictions\n  ~ AU period 2025-12-10 minimum_age: 16 → 15\n"
	if code != 0 || !strings.Contains(out, want) || !strings.HasPrefix(out, "--- builtin  ageassure-builtin  sha256:") {
		t.Errorf("diff = %d\n%s\nwant\n%s", code, out, want)
	}
	code, out, _ = runPolicy(t, "diff", "--format", "json", "builtin", cand)
	var d struct {
		Old, New struct{ Hash string }
		Changes  []struct{ Section, Subject, Kind, Field, Old, New string }
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != 0 || len(d.Changes) != 2 || d.Changes[1].Subject != "AU" || d.Old.Hash == d.New.Hash {
		t.Errorf("diff json = %d %v\n%s", code, err, out)
	}
	if code, _, errs := runPolicy(t, "diff", "builtin", "policy/testdata/broken/yaml-syntax.yaml"); code != 1 || !strings.Contains(errs, "yaml-syntax.yaml:3:1") {
		t.Errorf("diff broken = %d %s", code, errs)
	}
	if code, _, _ := runPolicy(t, "diff", "builtin"); code != 2 {
		t.Errorf("diff one arg = %d", code)
	}
}

func TestPolicyDoc(t *testing.T) {
	// The shipped policy: it renders; its content is checked by
	// TestJurisdictionsDoc (docs/jurisdictions.md).
	code, out, errs := runPolicy(t, "doc", "builtin", "--as-of", "2026-11-26")
	if code != 0 || !strings.Contains(out, "# Age-assurance policy statement: ageassure-builtin") || !strings.Contains(out, "| Policy hash | `sha256:") ||
		!strings.Contains(out, "| In force as of | 2026-11-26 |") || !strings.Contains(out, "### Default (every other jurisdiction)") {
		t.Fatalf("doc builtin = %d\n%s%s", code, out, errs)
	}
	// The shape, on a policy that does not change with the law.
	const fixture = "policy/testdata/status/statuses.yaml"
	tests := []struct {
		asOf string
		want []string
	}{
		{"2026-11-26", []string{
			"| IN — India | 13 | 13 | 2023-08-11 | in force | 2026-11-01 | before |",
			"| US-GA — Georgia | — | — | — | — | — | no period in force: checks go to the US pack |",
			"Timezone: America/New_York (ages and dates use the calendar date there) · On a day without a period in force, checks go to the US pack",
			"| 2023-08-11 to 2027-05-13 (exclusive) **(current)** | 13 | 13 | in force | 2026-11-01 | before | high |",
			"| from 2027-05-13 | 13 | 18 | enacted (applies from its effective date) | 2026-11-01 | DPDP Rules 2025 | high |",
			"| from 2026-01-01 | 15 | 15 | enjoined (not applied) | 2026-11-01 | enjoined | medium |",
			"| `us-ga.notice` (US-GA only) | 13\\_15 | Tell the user how their age was checked. | a Georgia duty in force | always | in force | 2026-11-01 |",
			"| period | `US-GA` | enjoined | from 2025-07-01 | minimum age 16, digital age of consent 16 | Georgia SB 351 (enjoined) | 2026-11-01 |",
			"## Watch list\n\nBills (legal status pending): recorded, never applied:",
			"| period | `BR` | from 2026-01-01 | minimum age 18, digital age of consent 18 | a bill |",
		}},
		{"2027-05-13", []string{ // the enacted period is current from its date
			"| IN — India | 13 | 18 | 2027-05-13 | enacted | 2026-11-01 | DPDP Rules 2025 |",
			"| from 2027-05-13 **(current)** | 13 | 18 | enacted (applies from its effective date) |",
		}},
	}
	for _, tt := range tests {
		code, out, errs := runPolicy(t, "doc", fixture, "--as-of", tt.asOf)
		for _, want := range tt.want {
			if !strings.Contains(out, want) {
				t.Errorf("as of %s: statement lacks %q", tt.asOf, want)
			}
		}
		if code != 0 || t.Failed() {
			t.Fatalf("doc = %d\n%s%s", code, out, errs)
		}
	}
	code, out, _ = runPolicy(t, "doc", fixture, "--format", "html", "--as-of", "2026-11-26")
	if code != 0 || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, "<style>") ||
		!strings.Contains(out, `<h3 id="j-US-GA">US-GA — Georgia</h3>`) || !strings.Contains(out, `<h2>Watch list</h2>`) ||
		!strings.Contains(out, `<tr class="muted"><td>from 2025-07-01</td><td>16</td><td>16</td><td>enjoined (not applied)</td><td>2026-11-01</td>`) {
		t.Errorf("html = %d\n%.3000s", code, out)
	}
	// Self-contained: no scripts, no external resources.
	for _, bad := range []string{"<script", "src=", "<link", "http://", "https://", "@import"} {
		if strings.Contains(out, bad) {
			t.Errorf("html contains %q", bad)
		}
	}
	if code, _, _ := runPolicy(t, "doc", "builtin", "--format", "pdf"); code != 2 {
		t.Errorf("--format pdf = %d", code)
	}
}
