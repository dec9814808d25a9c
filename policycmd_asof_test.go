package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// asOfPolicy writes a policy whose packs, far from UTC on both sides, raise
// the minimum age from 13 to 16 on 2026-07-01, with a test case each for
// the day before and the day of the change.
func asOfPolicy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var pol, cases strings.Builder
	pol.WriteString("id: tz\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\njurisdictions:\n")
	for code, tz := range map[string]string{"KI": "Pacific/Kiritimati", "NZ": "Pacific/Auckland", "AS": "Pacific/Pago_Pago"} {
		fmt.Fprintf(&pol, "  - {code: %s, timezone: %s, periods: [{effective_from: 2000-01-01, effective_until: 2026-07-01, minimum_age: 13, consent_age: 13, citation: old}, {effective_from: 2026-07-01, minimum_age: 16, consent_age: 16, citation: new}]}\n", code, tz)
		fmt.Fprintf(&cases, "- {name: %[1]s before, as_of: 2026-06-30, input: {jurisdiction: %[1]s, age: 14}, expect: {decision: allow}}\n", code)
		fmt.Fprintf(&cases, "- {name: %[1]s on, as_of: 2026-07-01, input: {jurisdiction: %[1]s, age: 14}, expect: {decision: deny}}\n", code)
	}
	pol.WriteString(`rules:
  - {id: under, decision: deny, when: "age < minimum_age", message: m, citation: "{citation}"}
  - {id: of-age, decision: allow, when: "age >= minimum_age", message: m, citation: "{citation}"}
`)
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(pol.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "p_test.yaml"), []byte(cases.String()), 0o644)
	return dir
}

// TestPolicyAsOfIsThePacksDay: policy explain --as-of and policy test's
// as_of mean that day in the pack's own time zone, east (UTC+14, +12) and
// west (UTC−11) of UTC.
func TestPolicyAsOfIsThePacksDay(t *testing.T) {
	dir := asOfPolicy(t)
	if code, out, errs := runPolicy(t, "test", dir); code != 0 || !strings.Contains(out, "ok ") {
		t.Errorf("policy test = %d\n%s%s", code, out, errs)
	}
	tests := []struct {
		jurisdiction string
		args         []string
		want         string // decision
		wantAsOf     string // the date in the pack's time zone
	}{
		{"KI", []string{"--as-of", "2026-06-30", "--age", "14"}, "allow", "2026-06-30"},
		{"KI", []string{"--as-of", "2026-07-01", "--age", "14"}, "deny", "2026-07-01"},
		{"NZ", []string{"--as-of", "2026-06-30", "--age", "14"}, "allow", "2026-06-30"},
		{"NZ", []string{"--as-of", "2026-07-01", "--age", "14"}, "deny", "2026-07-01"},
		{"NZ", []string{"--as-of", "2026-07-01", "--birth-date", "2010-07-02"}, "deny", "2026-07-01"},
		{"NZ", []string{"--as-of", "2026-07-02", "--birth-date", "2010-07-02"}, "allow", "2026-07-02"},
		{"AS", []string{"--as-of", "2026-06-30", "--age", "14"}, "allow", "2026-06-30"},
		{"AS", []string{"--as-of", "2026-07-01", "--age", "14"}, "deny", "2026-07-01"},
		// --time stays an exact instant: 2026-06-30T12:00Z is 07-01 at UTC+14.
		{"KI", []string{"--time", "2026-06-30T12:00:00Z", "--age", "14"}, "deny", "2026-07-01"},
	}
	for _, tt := range tests {
		name := tt.jurisdiction + " " + strings.Join(tt.args, " ")
		t.Run(name, func(t *testing.T) {
			args := append([]string{"explain", dir, "--jurisdiction", tt.jurisdiction, "--format", "json"}, tt.args...)
			code, out, errs := runPolicy(t, args...)
			var got struct {
				Result struct{ Decision string }
				Trace  struct {
					AsOf string `json:"as_of"`
					Pack string
				}
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
				t.Fatalf("explain = %d %v\n%s%s", code, err, out, errs)
			}
			if got.Result.Decision != tt.want || got.Trace.AsOf != tt.wantAsOf || got.Trace.Pack != tt.jurisdiction {
				t.Errorf("decision %s on %s in pack %s, want %s on %s in %s", got.Result.Decision, got.Trace.AsOf, got.Trace.Pack,
					tt.want, tt.wantAsOf, tt.jurisdiction)
			}
		})
	}
}
