package verifier

import (
	"testing"
	"time"

	"github.com/ageassure/ageassure/policy"
)

// TestCredentialProviderByIssuer: a digital_credential item that names no
// provider is verified by the credential provider whose issuer is the
// credential's iss, with that provider's keys only (fetched from a real
// JWKS endpoint); a credential of an issuer no credential provider trusts
// is refused with unknown_provider.
func TestCredentialProviderByIssuer(t *testing.T) {
	const (
		issuerA = "https://issuer-a.example"
		issuerB = "https://issuer-b.example"
		issuerC = "https://issuer-c.example" // its JWKS endpoint is down
	)
	f := newFixture(t)
	keyA := newTestKey(t, "p256", "a-1")
	keyB := newTestKey(t, "p256", "b-1")
	keyC := newTestKey(t, "p256", "c-1")
	keyA2 := newTestKey(t, "p256", "a-1") // A's kid, not A's key
	srvA := newJWKSServer(t, jwksOf(t, keyA))
	srvB := newJWKSServer(t, jwksOf(t, keyB))
	srvC := newJWKSServer(t, jwksOf(t, keyC))
	srvC.mode.Store(modeError)
	remote := func(id, iss string, srv *jwksServer) Provider {
		return Provider{ID: id, Types: []string{policy.EvidenceDigitalCredential}, Issuer: iss,
			JWKSURL: srv.URL + "/jwks.json", Algorithms: []string{"ES256"}, VCT: []string{testVCT},
			Timeout: 300 * time.Millisecond, Refresh: time.Hour, Breaker: Breaker{Failures: 100, Open: time.Minute}}
	}
	f.providers = append(f.providers, remote("wallet-a", issuerA, srvA), remote("wallet-b", issuerB, srvB), remote("wallet-c", issuerC, srvC))
	v := f.verifier(t)

	// credential returns a presentation issued by iss, signed with k.
	credential := func(iss string, k *testKey) string {
		c := f.newCred(t)
		c.payload["iss"] = iss
		c.issuerKey = k
		return c.build(t)
	}
	tests := []struct {
		name         string
		provider     string // the item's; "" selects by issuer
		token        string
		wantReason   string // "" accepted
		wantProvider string
	}{
		{"issuer A", "", credential(issuerA, keyA), "", "wallet-a"},
		{"issuer B", "", credential(issuerB, keyB), "", "wallet-b"},
		{"inline issuer", "", credential(walletIssuer, f.issuer), "", "wallet"},
		{"issuer A named explicitly", "wallet-a", credential(issuerA, keyA), "", "wallet-a"},
		{"iss A signed by B's key", "", credential(issuerA, keyB), ReasonSignatureInvalid, "wallet-a"},
		{"iss A signed by another key with A's kid", "", credential(issuerA, keyA2), ReasonSignatureInvalid, "wallet-a"},
		{"iss B signed by A's key", "", credential(issuerB, keyA), ReasonSignatureInvalid, "wallet-b"},
		{"iss A, provider B named", "wallet-b", credential(issuerA, keyA), ReasonSignatureInvalid, "wallet-b"},
		{"iss A signed by B's key, provider B named", "wallet-b", credential(issuerA, keyB), ReasonIssuerMismatch, "wallet-b"},
		{"untrusted issuer", "", credential("https://rogue.example", keyA), ReasonUnknownProvider, ""},
		{"issuer of a provider not trusted for credentials", "", credential(estIssuer, f.est), ReasonUnknownProvider, ""},
		{"no iss", "", credential("", keyA), ReasonUnknownProvider, ""},
		{"issuer whose keys are unreachable", "", credential(issuerC, keyC), ReasonUnverifiable, "wallet-c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verifyOne(v, policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: tt.provider, Token: tt.token})
			wantOutcome := policy.OutcomeAccepted
			if tt.wantReason != "" {
				wantOutcome = outcomeOf(tt.wantReason)
			}
			if got.Reason != tt.wantReason || got.Outcome != wantOutcome {
				t.Errorf("%s/%s, want %s/%s", got.Outcome, got.Reason, wantOutcome, tt.wantReason)
			}
			if got.Provider != tt.wantProvider {
				t.Errorf("Provider = %q, want %q", got.Provider, tt.wantProvider)
			}
			if tt.wantReason == "" && (!got.Over[18] || !got.Over[16]) {
				t.Errorf("claims %v, want age_equal_or_over 16 and 18", got.Over)
			}
		})
	}
}
