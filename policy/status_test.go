package policy

import (
	"slices"
	"testing"
)

// TestLegalStatus: in_force and enacted periods, rules and obligations take
// effect on the days their dates cover; enjoined and pending ones never do,
// and the fallback chain skips a pack whose only period is enjoined.
func TestLegalStatus(t *testing.T) {
	p := load(t, "testdata/status/statuses.yaml")
	tests := []struct {
		name         string
		jurisdiction string
		age          int
		day          string
		decision     Decision
		pack         string
		consent      int
		minimum      int
		obligations  []string
	}{
		{"enacted: the day before", "IN", 17, "2027-05-12", Allow, "IN", 13, 13, nil},
		{"enacted: from its effective_from", "IN", 17, "2027-05-13", ParentalConsentRequired, "IN", 18, 13, []string{"in.verifiable-consent"}},
		{"enacted: later", "IN", 12, "2028-01-01", Deny, "IN", 18, 13, nil},
		{"enjoined and pending never apply", "BR", 14, "2026-11-26", ParentalConsentRequired, "BR", 16, 13, nil},
		{"enjoined and pending never apply: adult", "BR", 17, "2026-11-26", Allow, "BR", 16, 13, nil},
		{"enjoined subdivision falls back to its country", "US-GA", 14, "2026-11-26", Allow, "US", 13, 13, []string{"us-ga.notice"}},
		{"enacted rule from its date", "US-GA", 14, "2030-01-01", AdditionalVerificationRequired, "US", 13, 13, []string{"us-ga.notice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Evaluate(Input{Jurisdiction: tt.jurisdiction, Age: tt.age, Now: day(t, tt.day)})
			if r.Decision != tt.decision || r.Pack != tt.pack || r.ConsentAge != tt.consent || r.MinimumAge != tt.minimum ||
				!slices.Equal(r.Obligations, tt.obligations) {
				t.Errorf("got %s pack %s minimum %d consent %d obligations %v; want %s pack %s minimum %d consent %d obligations %v",
					r.Decision, r.Pack, r.MinimumAge, r.ConsentAge, r.Obligations, tt.decision, tt.pack, tt.minimum, tt.consent, tt.obligations)
			}
		})
	}
}

// TestLegalStatusLoad: the spellings the loader accepts, and what each
// becomes.
func TestLegalStatusLoad(t *testing.T) {
	tests := []struct {
		written string
		want    legalStatus
		applies bool
		note    bool // lint mentions the old spelling
	}{
		{"in_force", statusInForce, true, false},
		{"enacted", statusEnacted, true, false},
		{"enjoined", statusEnjoined, false, false},
		{"pending", statusPending, false, false},
		{"proposed", statusPending, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.written, func(t *testing.T) {
			src := "id: s\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, effective_until: 2030-01-01, citation: c}, {effective_from: 2030-01-01, citation: d, reviewed: 2026-11-01, legal_status: " + tt.written + "}]}\n"
			p, err := compileSources([]source{{name: "s.yaml", data: []byte(src)}})
			if err != nil {
				t.Fatal(err)
			}
			per := p.m.defaultPack.periods[1]
			if per.status != tt.want || per.status.applies() != tt.applies || per.reviewed != (Date{2026, 11, 1}) {
				t.Errorf("status %q applies %v reviewed %s", per.status, per.status.applies(), per.reviewed)
			}
			if got := len(p.m.notes) > 0; got != tt.note {
				t.Errorf("notes = %v", p.m.notes)
			}
		})
	}
}

// TestPendingWithoutDate: a bill whose date is not known yet may leave
// effective_from out; it loads, is never applied, and is on the watch list.
func TestPendingWithoutDate(t *testing.T) {
	for _, status := range []string{"pending", "proposed"} {
		src := "id: s\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}, {consent_age: 16, citation: bill, legal_status: " + status + "}]}\n"
		p, err := compileSources([]source{{name: "s.yaml", data: []byte(src)}})
		if err != nil {
			t.Fatalf("%s: %v", status, err)
		}
		if r := p.Evaluate(Input{Age: 14, Now: day(t, "2026-11-26")}); r.ConsentAge != 13 {
			t.Errorf("%s: consent age %d: the bill was applied", status, r.ConsentAge)
		}
		if w := p.Statement(mustDate(t, "2026-11-26")).WatchList; len(w) != 1 || !w[0].From.IsZero() {
			t.Errorf("%s: watch list %+v", status, w)
		}
	}
}
