package policy

import (
	"reflect"
	"testing"
	"testing/fstest"
	"time"
)

// subdivisionPolicy has a country pack (CA), a subdivision pack (CA-QC,
// from 2023-09-22), a subdivision whose country has no pack (MX-CMX, from
// 2025-01-01), and the default.
const subdivisionPolicy = `id: subdivisions
default: {timezone: Etc/GMT+12, periods: [{effective_from: 2000-01-01, citation: default}]}
jurisdictions:
  - {code: CA, name: Canada, timezone: America/St_Johns, periods: [{effective_from: 2000-01-01, consent_age: 13, citation: PIPEDA}]}
  - {code: ca-qc, name: Quebec, timezone: America/Toronto, periods: [{effective_from: 2023-09-22, consent_age: 14, citation: "Law 25"}]}
  - {code: MX-CMX, name: Mexico City, timezone: America/Mexico_City, periods: [{effective_from: 2025-01-01, minimum_age: 15, consent_age: 15, citation: local}]}
rules:
  - {id: of-age, decision: allow, when: "age >= consent_age", message: m, citation: "{citation}"}
  - {id: under, decision: parental_consent_required, when: "age < consent_age", message: m, citation: "{citation}"}
`

// TestSubdivisionFallback: a subdivision code resolves to its own pack,
// else its country's, else the default — the first with a period in force
// on the day — and Result.Pack names the pack applied.
func TestSubdivisionFallback(t *testing.T) {
	p, err := LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(subdivisionPolicy)}}, "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code, day string
		pack      string
		consent   int
		citation  string
	}{
		{"CA-QC", "2026-11-26", "CA-QC", 14, "Law 25"},
		{"ca-qc", "2026-11-26", "CA-QC", 14, "Law 25"},
		{"CA-QC", "2023-09-22", "CA-QC", 14, "Law 25"},
		{"CA-QC", "2023-09-21", "CA", 13, "PIPEDA"}, // before Quebec's period: the country's pack
		{"CA-ON", "2026-11-26", "CA", 13, "PIPEDA"}, // no pack of its own
		{"CA", "2026-11-26", "CA", 13, "PIPEDA"},
		{"MX-CMX", "2026-11-26", "MX-CMX", 15, "local"},
		{"MX-CMX", "2024-12-31", "default", 13, "default"}, // no MX pack: straight to the default
		{"MX", "2026-11-26", "default", 13, "default"},
		{"US-FL", "2026-11-26", "default", 13, "default"},
		{"CA-XX", "2026-11-26", "default", 13, "default"}, // not an ISO 3166-2 code of CA
		{"", "2026-11-26", "default", 13, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.code+" "+tt.day, func(t *testing.T) {
			r := p.Evaluate(Input{Jurisdiction: tt.code, Age: 13, Now: day(t, tt.day)})
			if r.Pack != tt.pack || r.ConsentAge != tt.consent || len(r.Reasons) != 1 || r.Reasons[0].Citation != tt.citation {
				t.Errorf("pack %s consent %d reasons %+v; want pack %s consent %d citation %q", r.Pack, r.ConsentAge, r.Reasons, tt.pack, tt.consent, tt.citation)
			}
		})
	}

	// explain shows the chain tried.
	_, tr := p.Explain(Input{Jurisdiction: "CA-QC", Age: 13, Now: day(t, "2023-09-21")})
	want := []PackStep{
		{Code: "CA-QC", HasPack: true, AsOf: mustDate(t, "2023-09-21")},
		{Code: "CA", HasPack: true, InForce: true, AsOf: mustDate(t, "2023-09-21"), Applied: true},
	}
	if !reflect.DeepEqual(tr.Chain, want) || tr.Pack != "CA" {
		t.Errorf("chain = %+v, pack %s", tr.Chain, tr.Pack)
	}
	_, tr = p.Explain(Input{Jurisdiction: "MX-CMX", Age: 13, Now: day(t, "2024-12-31")})
	want = []PackStep{
		{Code: "MX-CMX", HasPack: true, AsOf: mustDate(t, "2024-12-31")},
		{Code: "MX"},
		{Code: "default", HasPack: true, InForce: true, AsOf: mustDate(t, "2024-12-31"), Applied: true},
	}
	if !reflect.DeepEqual(tr.Chain, want) || tr.Pack != "default" {
		t.Errorf("chain = %+v, pack %s", tr.Chain, tr.Pack)
	}

	// The subdivision's own calendar counts once its pack applies.
	if loc := p.Location("CA-QC"); loc.String() != "America/Toronto" {
		t.Errorf("Location(CA-QC) = %s", loc)
	}
	at := time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC) // still the 25th in Toronto, the 26th in St John's
	if d := p.Today("CA-QC", at); d != mustDate(t, "2026-11-25") {
		t.Errorf("Today(CA-QC) = %s", d)
	}
	if d := p.Today("CA-ON", at); d != mustDate(t, "2026-11-26") {
		t.Errorf("Today(CA-ON) = %s", d)
	}
}

// TestBuiltinPackApplies: in the shipped policy, every period that takes
// effect is applied, under its own pack's name, on its first day — a
// subdivision's included — with its ages; and on the day before its first
// such period a subdivision falls back to its country's pack or the
// default. Content-independent: it walks whatever the packs hold.
func TestBuiltinPackApplies(t *testing.T) {
	p := builtin(t)
	for _, pk := range p.m.packs {
		first := true
		for _, per := range pk.periods {
			if !per.status.applies() {
				continue
			}
			noon := per.from.Time(pk.loc).Add(12 * time.Hour)
			r := p.Evaluate(Input{Jurisdiction: pk.code, Age: 30, Now: noon})
			if r.Pack != pk.code || r.MinimumAge != per.minimumAge || r.ConsentAge != per.consentAge || r.AsOf != per.from {
				t.Errorf("%s on %s: pack %s, ages %d/%d, as of %s; want %s, %d/%d", pk.code, per.from, r.Pack, r.MinimumAge, r.ConsentAge, r.AsOf,
					pk.code, per.minimumAge, per.consentAge)
			}
			if first && len(pk.code) > 2 {
				first = false
				before := per.from.Time(pk.loc).Add(-12 * time.Hour)
				want := defaultPackCode
				if c := p.byCode[pk.code[:2]]; c != nil {
					if i, _ := c.periodAt(before); i >= 0 {
						want = c.code
					}
				}
				if r := p.Evaluate(Input{Jurisdiction: pk.code, Age: 30, Now: before}); r.Pack != want {
					t.Errorf("%s the day before %s: pack %s, want %s", pk.code, per.from, r.Pack, want)
				}
			}
		}
	}
}
