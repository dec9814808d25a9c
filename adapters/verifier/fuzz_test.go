package verifier

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ageassure/ageassure/policy"
)

// FuzzParseSDJWT: any string is split, decoded and reconstructed without
// panicking, and what comes out respects the format's invariants.
func FuzzParseSDJWT(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.newCred(f).build(f))
	f.Add("e30.e30.~")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePresentation(s)
		if err != nil {
			return
		}
		if p.hashInput+p.kbJWT != s || !strings.HasSuffix(p.hashInput, "~") || strings.Contains(p.kbJWT, "~") {
			t.Fatalf("parts do not reassemble: %+v", p)
		}
		if slices.Contains(p.disclosures, "") || len(p.disclosures) > maxDisclosures {
			t.Fatalf("bad disclosures: %q", p.disclosures)
		}
		if !inCompactAlphabet(s, ".~") {
			t.Fatalf("a presentation outside the compact alphabet parsed: %q", s)
		}
		jws, err := parseJWS(p.issuerJWT)
		if err != nil {
			return
		}
		// One spelling: the signed parts are exactly the canonical encoding
		// of what they decode to.
		if signed := p.issuerJWT[:strings.LastIndexByte(p.issuerJWT, '.')]; b64.EncodeToString(jws.rawHeader)+"."+b64.EncodeToString(jws.payload) != signed {
			t.Fatalf("issuer JWT is not the canonical encoding of its content: %q", p.issuerJWT)
		}
		c, err := parseClaims(jws.payload)
		if err != nil {
			return
		}
		out, err := reconstruct(c, p.disclosures)
		if err != nil {
			return
		}
		if _, ok := out[sdKey]; ok {
			t.Fatal("_sd left in reconstructed claims")
		}
		if _, ok := out[sdAlgKey]; ok {
			t.Fatal("_sd_alg left in reconstructed claims")
		}
	})
}

// FuzzParseDisclosure: a disclosure either fails to parse or has the shape
// the reconstruction relies on, and a digest of its exact encoding.
func FuzzParseDisclosure(f *testing.F) {
	f.Add("WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDisclosure(s)
		if err != nil {
			return
		}
		if d.digest != digestOf(s) {
			t.Fatal("digest is not over the encoded disclosure")
		}
		if raw, err := b64.DecodeString(s); err != nil || b64.EncodeToString(raw) != s {
			t.Fatalf("disclosure %q is not the canonical encoding of its content", s)
		}
		if d.array && d.name != "" {
			t.Fatal("array-element disclosure with a name")
		}
		if !d.array && (d.name == sdKey || d.name == ellipsisKey) {
			t.Fatalf("reserved name %q accepted", d.name)
		}
	})
}

// FuzzVerifyToken: whatever the token, Verify returns one result with a
// known reason, never panics, and accepts nothing it was not given signed.
func FuzzVerifyToken(f *testing.F) {
	fx := newFixture(f)
	v := fx.verifier(f, func(o *Options) { o.Replay = alwaysFresh{} })
	kinds := []policy.EvidenceItem{
		{Type: policy.EvidenceAgeEstimation, Provider: "estimator"},
		{Type: policy.EvidenceIDDocument, Provider: "idcheck"},
		{Type: policy.EvidenceParentalConsent, Provider: "guardian"},
		{Type: policy.EvidenceDigitalCredential, Provider: "wallet"},
		{Type: policy.EvidenceDigitalCredential},
	}
	valid := map[string]bool{}
	add := func(kind uint8, tok string) {
		valid[tok] = true
		f.Add(kind, tok)
	}
	add(0, signJWS(f, fx.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 19.2})))
	add(1, signJWS(f, fx.doc, "", "", claimsAt(testNow, docIssuer, map[string]any{"birthdate": "2001-02-03"})))
	add(2, signJWS(f, fx.consent, "", "", claimsAt(testNow, consentIss, map[string]any{"consent": true, "nonce": testNonce})))
	add(3, fx.newCred(f).build(f))
	// Respellings of valid tokens (line breaks Go's base64 decoder skips,
	// padding): never accepted, since they are not what was signed.
	for kind, tok := range []string{
		signJWS(f, fx.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 19.2, "jti": "respelled"})),
		signJWS(f, fx.doc, "", "", claimsAt(testNow, docIssuer, map[string]any{"age_over_18": true, "jti": "respelled"})),
	} {
		h, rest, _ := strings.Cut(tok, ".")
		f.Add(uint8(kind), h+"\n."+rest)
		f.Add(uint8(kind), h+"."+rest[:10]+"\r\n"+rest[10:])
		f.Add(uint8(kind), h+"=."+rest)
	}
	cred := fx.newCred(f).build(f)
	kb := strings.LastIndexByte(cred, '~') + 1
	f.Add(uint8(3), cred[:kb+5]+"\n"+cred[kb+5:])
	f.Add(uint8(4), cred[:kb]+"\r"+cred[kb:])
	known := Reasons()
	f.Fuzz(func(t *testing.T, kind uint8, tok string) {
		item := kinds[int(kind)%len(kinds)]
		item.Token = tok
		got := v.Verify(context.Background(), []policy.EvidenceItem{item}, testBind, testToday)
		if len(got) != 1 {
			t.Fatalf("%d results", len(got))
		}
		ev := got[0]
		switch {
		case ev.Outcome == policy.OutcomeAccepted:
			if ev.Reason != "" {
				t.Fatalf("accepted with reason %q", ev.Reason)
			}
			if !valid[tok] {
				t.Fatalf("accepted a token that was never signed: %q", tok)
			}
		case !slices.Contains(known, ev.Reason):
			t.Fatalf("unknown reason %q", ev.Reason)
		case ev.Outcome != outcomeOf(ev.Reason):
			t.Fatalf("outcome %q for reason %q", ev.Outcome, ev.Reason)
		}
	})
}
