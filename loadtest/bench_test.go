package main

import "testing"

// BenchmarkGenerator measures drawing one request (the Targeter's work
// under its lock).
func BenchmarkGenerator(b *testing.B) {
	g := newTestGenerator(b, DefaultMix(), 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecisionOf measures reading the decision out of a response.
func BenchmarkDecisionOf(b *testing.B) {
	body := []byte(`{"decision_id":"019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a77","decision":"parental_consent_required","age_band":"13_15","age_equal_or_over":{"13":true,"16":false,"18":false},"reasons":[{"rule":"de.digital-consent-age","decision":"parental_consent_required"}],"attestation":"eyJhbGciOiJFZERTQSIsImtpZCI6…"}`)
	b.ReportAllocs()
	for b.Loop() {
		if decisionOf(body) == "" {
			b.Fatal("no decision")
		}
	}
}
