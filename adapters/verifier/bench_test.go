package verifier

import (
	"context"
	"testing"

	"github.com/ageassure/ageassure/policy"
)

// BenchmarkVerify measures the verification cost of one item per evidence
// type, with keys already held (inline JWKS) and a replay guard that costs
// nothing, so the figure is the verifier's own work: parsing, signature(s),
// claims, SD-JWT reconstruction. Run with -benchmem.
func BenchmarkVerify(b *testing.B) {
	fx := newFixture(b)
	v := fx.verifier(b, func(o *Options) { o.Replay = alwaysFresh{} })
	cases := []struct {
		name string
		item policy.EvidenceItem
	}{
		{policy.EvidenceAgeEstimation, policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator",
			Token: signJWS(b, fx.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 19.2, "age_estimate_uncertainty": 2.1, "liveness": true}))}},
		{policy.EvidenceIDDocument, policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
			Token: signJWS(b, fx.doc, "", "", claimsAt(testNow, docIssuer, map[string]any{"birthdate": "2008-02-29"}))}},
		{policy.EvidenceDigitalCredential, policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet",
			Token: fx.newCred(b).build(b)}},
		{policy.EvidenceParentalConsent, policy.EvidenceItem{Type: policy.EvidenceParentalConsent, Provider: "guardian",
			Token: signJWS(b, fx.consent, "", "", claimsAt(testNow, consentIss, map[string]any{"consent": true, "nonce": testNonce}))}},
		{policy.EvidencePlatformAgeRange, policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 13, Upper: 15, Source: policy.RangeSelfDeclared}},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			items := []policy.EvidenceItem{c.item}
			if ev := v.Verify(ctx, items, testBind, testToday)[0]; !ev.Accepted() {
				b.Fatalf("not accepted: %+v", ev)
			}
			b.ReportAllocs()
			for b.Loop() {
				v.Verify(ctx, items, testBind, testToday)
			}
		})
	}
}
