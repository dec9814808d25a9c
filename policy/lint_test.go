package policy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// lintNow is the "today" of the lint tests.
var lintNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// TestLintBroken: every problem of the broken-policy corpus is an error
// with its position.
func TestLintBroken(t *testing.T) {
	tests := []struct {
		file string
		want []string // "line:col: severity: message substring"
	}{
		{"unknown-field.yaml", []string{`7:7: error: unknown field "efective_until" in default period`}},
		{"id-not-slug.yaml", []string{`1:1: error: the policy id must be a lower-case slug`}},
		{"duplicate-rule.yaml", []string{`11:5: error: duplicate rule id "r"`}},
		{"duplicate-jurisdiction.yaml", []string{`9:5: error: duplicate jurisdiction DE`}},
		{"duplicate-obligation.yaml", []string{`10:5: error: duplicate obligation id "x.duty"`}},
		{"invalid-jurisdiction.yaml", []string{`6:11: error: invalid jurisdiction code`, `9:11: error: invalid jurisdiction code`}},
		{"invalid-decision.yaml", []string{`7:15: error: invalid decision "maybe"`}},
		{"invalid-band.yaml", []string{`9:23: error: invalid band "13-15"`}},
		{"invalid-legal-status.yaml", []string{`6:21: error: default period: invalid legal_status "repealed"`}},
		{"bad-date.yaml", []string{`5:23: error: default period.effective_from: invalid date`}},
		{"bad-timezone.yaml", []string{`3:13: error: default: cannot load timezone "Europe/Atlantis"`}},
		{"cel-syntax.yaml", []string{`8:11: error: rule r: when: CEL error at column 8: Syntax error`}},
		{"cel-type.yaml", []string{`8:11: error: rule r: when: CEL error at column 1: undeclared reference to 'agee'`, `8:11: error: rule r: when: CEL error at column 21: found no matching overload`}},
		{"when-not-bool.yaml", []string{`8:11: error: rule r: when must be a bool expression, not int`}},
		{"effective-order.yaml", []string{`6:5: error: rule r: effective_from 2025-01-01 must be before effective_until 2025-01-01`}},
		{"overlapping-periods.yaml", []string{`13:9: error: jurisdiction DK: in-force period [2024-01-01, open) overlaps`}},
		{"enacted-without-date.yaml", []string{`6:5: error: obligation x.duty: legal_status enacted needs effective_from`}},
		{"overlapping-enacted.yaml", []string{`11:9: error: jurisdiction IN: enacted period [2027-05-13, open) overlaps the in-force period`}},
		{"bad-reviewed.yaml", []string{`6:17: error: default period.reviewed: invalid date`}},
		{"missing-citation.yaml", []string{`6:5: error: rule r: citation is required`}},
		{"missing-id.yaml", []string{`1:1: error: the policy id is required`}},
		{"age-in-message.yaml", []string{`9:14: error: message: unknown placeholder {age}`}},
		{"yaml-syntax.yaml", []string{`3:1: error: yaml: did not find expected ',' or ']'`}},
		{"many.yaml", []string{
			`2:18: error: thresholds must be a whole number of years`,
			`5:70: error: minimum_age must be between 0 and 150`,
			`12:22: error: scope group "nowhere" is not a group of any jurisdiction`,
			`12:48: error: invalid jurisdiction code in scope`,
			`13:5: error: unknown field "colour" in rule`,
		}},
		{"dup-id", []string{`dup-id/b.yaml:2:1: error: duplicate top-level id`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join("testdata", "broken", tt.file)
			checkLint(t, name, Lint(name, LintOptions{Now: lintNow}), tt.want, CheckLoad)
		})
	}
}

// TestLintChecks: each extra check finds what it is for, at the position
// of the rule, obligation or period concerned, and nothing else.
func TestLintChecks(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"review.yaml", []string{
			`5:13: warning: default: period [2000-01-01, open) has no reviewed date: check it against the law and add reviewed: YYYY-MM-DD [review-due]`,
			`12:9: warning: jurisdiction IN: period [2026-11-26, 2027-05-13) is enacted with effective_from 2026-11-26, which has come: it applies as in force; check that it took effect, then set legal_status: in_force [enacted-past]`,
			`13:9: warning: jurisdiction IN: period [2027-05-13, open) was last reviewed on 2026-05-29, 181 days before 2026-11-26 (more than 180) [review-due]`,
			`17:9: warning: jurisdiction BR: period [2000-01-01, open): reviewed 2027-01-01 is after today (2026-11-26) [review-due]`,
			`18:9: warning: jurisdiction BR: period [2026-03-17, open) has no reviewed date [review-due]`,
			`18:9: info: jurisdiction BR: period [2026-03-17, open) is enjoined: kept as data, never applied [not-in-force]`,
			`19:9: info: jurisdiction BR: period [2027-01-01, open) is pending (a bill, on the watch list): recorded, never applied [not-in-force]`,
			`21:5: warning: obligation in.consent is enacted with effective_from 2026-01-01, which has come [enacted-past]`,
			`28:5: warning: obligation br.stale was last reviewed on 2025-01-01, 694 days before 2026-11-26 (more than 180) [review-due]`,
		}},
		{"never-fires-false.yaml", []string{`8:11: error: rule off can never fire: when is always false [never-fires]`}},
		{"never-fires-folded.yaml", []string{`8:11: error: rule folded can never fire: when is always false [never-fires]`}},
		{"never-fires-dates.yaml", []string{
			`9:15: warning: jurisdiction DE: its last in-force period ended on 2019-01-01 [expired]`,
			`11:5: error: rule too-early can never apply: its dates [open, 2018-01-01) lie outside every in-force period [never-fires]`,
			`17:5: error: rule eu-window can never apply: its dates [2019-01-01, open) [never-fires]`,
			`25:5: error: obligation eu.late can never apply [never-attached]`,
		}},
		{"expired.yaml", []string{
			`6:5: warning: rule old expired: effective_until 2020-01-01 is in the past [expired]`,
			`13:5: warning: obligation x.old expired [expired]`,
		}},
		{"missing-param.yaml", []string{
			`10:11: error: rule reads-missing: when reads params.absent (column 73), which the policy does not define [missing-param]`,
			`15:11: error: rule index-missing: when reads params.also_absent [missing-param]`,
		}},
		{"unknown-signal.yaml", []string{`8:11: error: rule vibes: when reads signals.vibes (column 8), which is not a known signal [unknown-signal]`}},
		{"impossible-value.yaml", []string{
			`8:11: warning: rule teen: band is never "13-15" (column 6), so the comparison is never true [impossible-value]`,
			`13:11: warning: rule not-login: stage is never "login" (column 9), so the comparison is always true [impossible-value]`,
			`13:11: warning: rule not-login: assurance is never "high" (column 31) [impossible-value]`,
		}},
		{"scope-without-pack.yaml", []string{`10:5: warning: rule brazil: scope names BR, which has no pack of its own or of its country [scope-without-pack]`}},
		{"bands-below-minimum.yaml", []string{`12:5: warning: obligation x.children: every band it lists is under the minimum age (at least 16) [bands-below-minimum]`}},
		{"consent-below-minimum.yaml", []string{`5:7: warning: default: period [2000-01-01, open): consent_age 13 is below minimum_age 16, so consent rules can never fire [consent-below-minimum]`}},
		{"period-gap.yaml", []string{
			`10:9: warning: jurisdiction DK: no in-force period from 2023-01-01 to 2024-01-01 [period-gap]`,
			`14:9: warning: jurisdiction AT: its last in-force period ended on 2020-01-01 [expired]`,
		}},
		{"cases", []string{`cases/p_test.yaml:4:29: error: unknown field "rule" in expect [cases]`}},
		{"not-in-force.yaml", []string{
			`5:7: info: default: period [2000-01-01, open) has no citation confidence [no-confidence]`,
			`6:7: info: default: period [2030-01-01, open) is pending (a bill, on the watch list): recorded, never applied [not-in-force]`,
			`6:84: info: default period: legal_status proposed is the old name of pending (a bill: recorded, never applied); write pending [deprecated]`,
			`8:5: info: rule proposed-rule is pending [not-in-force]`,
			`13:19: info: rule: legal_status proposed is the old name of pending [deprecated]`,
			`15:5: info: obligation x.enjoined is enjoined [not-in-force]`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join("testdata", "lint", tt.file)
			ds := Lint(name, LintOptions{Now: lintNow})
			// Only review.yaml keeps the review-due findings, which the
			// other files (written without reviewed dates) would all have.
			if tt.file != "review.yaml" {
				ds = slices.DeleteFunc(ds, func(d Diagnostic) bool { return d.Check == CheckReviewDue })
			}
			checkLint(t, name, ds, tt.want, "")
		})
	}
}

// checkLint compares diagnostics with wants of the form "line:col:
// severity: message substring [check]": the prefix up to the message must
// match exactly, the message by substring, the check exactly. With
// defaultCheck set, a want without "[check]" expects that check.
func checkLint(t *testing.T, name string, got []Diagnostic, want []string, defaultCheck string) {
	t.Helper()
	var lines []string
	for _, d := range got {
		lines = append(lines, d.String())
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d:\n%s", len(got), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		check := defaultCheck
		if j := strings.LastIndex(w, " ["); j >= 0 && strings.HasSuffix(w, "]") {
			check, w = w[j+2:len(w)-1], w[:j]
		}
		prefix, msg, _ := strings.Cut(w, ": ")
		sev, msg, _ := strings.Cut(msg, ": ")
		d := got[i]
		pos := fmt.Sprintf("%d:%d", d.Pos.Line, d.Pos.Col)
		if strings.Contains(prefix, "/") {
			pos = filepath.Base(filepath.Dir(d.Pos.File)) + "/" + filepath.Base(d.Pos.File) + ":" + pos
		} else if d.Pos.File != name {
			t.Errorf("finding %d in %s, want %s", i, d.Pos.File, name)
		}
		if pos != prefix || d.Severity.String() != sev || !strings.Contains(d.Msg, msg) || d.Check != check {
			t.Errorf("finding %d = %s\nwant %s: %s: …%s… [%s]", i, lines[i], prefix, sev, msg, check)
		}
	}
}

// TestLintBuiltin: the shipped policy has no errors and no warnings (so
// every period that is law carries a reviewed date), linted as of its
// latest review (so the test does not start failing as the
// calendar moves on; `policy lint builtin` in CI does that on purpose).
func TestLintBuiltin(t *testing.T) {
	now := lintNow
	if d := latestReview(builtin(t)); d.After(DateOf(now)) {
		now = d.Time(nil).Add(12 * time.Hour)
	}
	ds := Lint("packs", LintOptions{Now: now})
	for _, d := range ds {
		if d.Severity == SeverityError {
			t.Errorf("builtin: %s", d)
		}
	}
	var warnings []string
	for _, d := range ds {
		if d.Severity == SeverityWarning {
			warnings = append(warnings, d.String())
		}
	}
	if len(warnings) != 0 {
		t.Errorf("builtin warnings as of %s (every period in force, enacted or enjoined needs a reviewed date):\n%s", DateOf(now), strings.Join(warnings, "\n"))
	}
	if ds := Lint("testdata/does-not-exist", LintOptions{}); len(ds) != 1 || ds[0].Severity != SeverityError || ds[0].Pos.File != "testdata/does-not-exist" {
		t.Errorf("missing path: %v", ds)
	}
}

// latestReview is the latest reviewed date in a policy.
func latestReview(p *Policy) Date {
	var last Date
	later := func(d Date) {
		if d.After(last) {
			last = d
		}
	}
	for _, pk := range append([]*pack{p.m.defaultPack}, p.m.packs...) {
		for _, per := range pk.periods {
			later(per.reviewed)
		}
	}
	for _, r := range p.m.rules {
		later(r.reviewed)
	}
	for _, o := range p.m.obligations {
		later(o.reviewed)
	}
	return last
}
