package main

import (
	"encoding/json"
	"testing"
)

// FuzzParseMix feeds arbitrary documents to the --mix parser: it must
// never panic, and a mix it accepts must drive the generator, every draw
// a well-formed request for a jurisdiction of the mix.
func FuzzParseMix(f *testing.F) {
	for _, seed := range []string{
		"",
		"ages:\n  under_13: 0.2\n",
		"jurisdictions: {de: 1, US-UT: 3}\n",
		"devices: {reuse: 1, hopping: 1, recent: 1}\nsubjects: {share: 1, repeat: 1, recent: 1}\n",
		"ages: {under_13: 0.5, 13_15: 0.5, 16_17: 0, child_min: 12, adult_min: 130, adult_max: 130, birth_date: 1}\n",
		"jurisdictions: {DE: 1e308, FR: 1e308}\n",
		"signals: {underage_likelihood: 1, user_reports: 1}\nevidence_share: 0\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		m, err := parseMix(doc)
		if err != nil {
			return
		}
		g, err := NewGenerator(m, 1, testNow, nil)
		if err != nil {
			t.Fatalf("accepted mix, but no generator: %v\n%q", err, doc)
		}
		for range 50 {
			r, err := g.Next()
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			var body struct {
				Jurisdiction string `json:"jurisdiction"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("body %q: %v", r.Body, err)
			}
			if _, ok := m.Jurisdictions[body.Jurisdiction]; !ok {
				t.Fatalf("drew %q, not in the mix %v", body.Jurisdiction, m.Jurisdictions)
			}
		}
	})
}
