package policy

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// tzPolicy has packs far from UTC on both sides whose minimum age rises
// from 13 to 16 on 2026-07-01 (a date with no DST change in any of them).
var tzPolicy = `id: tz
default: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}
jurisdictions:
` + tzPack("KI", "Pacific/Kiritimati") + tzPack("NZ", "Pacific/Auckland") + tzPack("TO", "Pacific/Tongatapu") +
	tzPack("AS", "Pacific/Pago_Pago") + tzPack("UM", "Etc/GMT+12") + `
rules:
  - {id: under, decision: deny, when: "age < minimum_age", message: m, citation: "{citation}"}
  - {id: of-age, decision: allow, when: "age >= minimum_age", message: m, citation: "{citation}"}
`

func tzPack(code, tz string) string {
	return fmt.Sprintf(`  - code: %s
    timezone: %s
    periods:
      - {effective_from: 2000-01-01, effective_until: 2026-07-01, minimum_age: 13, consent_age: 13, citation: old}
      - {effective_from: 2026-07-01, minimum_age: 16, consent_age: 16, citation: new}
`, code, tz)
}

// TestCaseAsOfIsThePacksDay: as_of is that day in the pack's own time zone,
// at UTC+12 to +14 (where noon UTC is already the next day) as at UTC−11
// and −12. A 14-year-old is allowed the day before the change and denied on
// it; a birth_date turns 16 on the pack's calendar day.
func TestCaseAsOfIsThePacksDay(t *testing.T) {
	var src strings.Builder
	for _, code := range []string{"KI", "NZ", "TO", "AS", "UM"} {
		fmt.Fprintf(&src, `- {name: %[1]s day before, as_of: 2026-06-30, input: {jurisdiction: %[1]s, age: 14}, expect: {decision: allow, pack: %[1]s}}
- {name: %[1]s day of, as_of: 2026-07-01, input: {jurisdiction: %[1]s, age: 14}, expect: {decision: deny, pack: %[1]s}}
- {name: %[1]s 16th birthday eve, as_of: 2026-07-01, input: {jurisdiction: %[1]s, birth_date: 2010-07-02}, expect: {decision: deny}}
- {name: %[1]s 16th birthday, as_of: 2026-07-02, input: {jurisdiction: %[1]s, birth_date: 2010-07-02}, expect: {decision: allow}}
- {name: %[1]s at an instant, as_of: 2026-07-01, time: 2026-06-30T23:59:59Z, input: {jurisdiction: %[1]s, age: 14}, expect: {decision: deny}}
`, code)
	}
	fsys := fstest.MapFS{"p.yaml": {Data: []byte(tzPolicy)}, "p_test.yaml": {Data: []byte(src.String())}}
	p, err := LoadFS(fsys, "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := LoadCasesFS(fsys, "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.RunCases(cases) {
		if strings.HasPrefix(r.Case.Name, "AS at an instant") || strings.HasPrefix(r.Case.Name, "UM at an instant") {
			// 23:59:59Z is still 2026-06-30 west of UTC: time, not as_of, decides.
			if r.Pass || r.Got.Decision != Allow {
				t.Errorf("%s: got %s, want allow (the instant is 2026-06-30 there)", r.Case.Name, r.Got.Decision)
			}
			continue
		}
		if !r.Pass {
			t.Errorf("%s (as_of %s, evaluated at %s): %s", r.Case.Name, r.Case.AsOf, r.Case.Now(p).Format(time.RFC3339), strings.Join(r.Problems, "; "))
		}
	}
}

func TestNoonOn(t *testing.T) {
	p, err := LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(tzPolicy)}}, "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Date{2026, 6, 30}
	tests := []struct {
		jurisdiction string
		want         string
	}{
		{"KI", "2026-06-30T12:00:00+14:00"},
		{"NZ", "2026-06-30T12:00:00+12:00"},
		{"to", "2026-06-30T12:00:00+13:00"},
		{"NZ-AUK", "2026-06-30T12:00:00+12:00"}, // no pack of its own: the country's
		{"AS", "2026-06-30T12:00:00-11:00"},
		{"UM", "2026-06-30T12:00:00-12:00"},
		{"DE", "2026-06-30T12:00:00Z"}, // no pack: the default's
		{"", "2026-06-30T12:00:00Z"},
	}
	for _, tt := range tests {
		got := p.NoonOn(tt.jurisdiction, d)
		if got.Format(time.RFC3339) != tt.want {
			t.Errorf("NoonOn(%q, %s) = %s, want %s", tt.jurisdiction, d, got.Format(time.RFC3339), tt.want)
		}
		if today := p.Today(tt.jurisdiction, got); today != d {
			t.Errorf("Today(%q, NoonOn) = %s, want %s", tt.jurisdiction, today, d)
		}
	}
}
