package verifier

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/policy"
	"github.com/google/go-cmp/cmp"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func ptr[T any](v T) *T { return &v }

func TestVerifyAccepted(t *testing.T) {
	f := newFixture(t)
	exp := testNow.Add(10 * time.Minute).Truncate(time.Second)
	est := func(extra map[string]any) string {
		return signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, extra))
	}
	doc := func(extra map[string]any) string {
		return signJWS(t, f.doc, "", "", claimsAt(testNow, docIssuer, extra))
	}
	tests := []struct {
		name  string
		item  policy.EvidenceItem
		today policy.Date
		want  policy.Evidence
	}{{
		name: "estimation with liveness",
		item: policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator",
			Token: est(map[string]any{"age_estimate": 19.2, "age_estimate_uncertainty": 2.1, "liveness": true})},
		want: policy.Evidence{Estimate: ptr(19.2), Uncertainty: 2.1, Liveness: true, Expires: exp},
	}, {
		name: "estimation without liveness or uncertainty",
		item: policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator",
			Token: est(map[string]any{"age_estimate": 15.0})},
		want: policy.Evidence{Estimate: ptr(15.0), Expires: exp},
	}, {
		name: "estimation bound to the request nonce",
		item: policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator",
			Token: est(map[string]any{"age_estimate": 31.5, "nonce": testNonce, "aud": []string{"x", testAudience}})},
		want: policy.Evidence{Estimate: ptr(31.5), Expires: exp},
	}, {
		name: "document birth date becomes an age",
		item: policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
			Token: doc(map[string]any{"birthdate": "1990-06-15", "age_over_18": true})},
		want: policy.Evidence{Age: ptr(35), Expires: exp},
	}, {
		name: "29 February birthday, the day before 1 March in a common year",
		item: policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
			Token: doc(map[string]any{"birthdate": "2008-02-29", "jti": "feb28"})},
		today: policy.Date{Year: 2026, Month: time.February, Day: 28},
		want:  policy.Evidence{Age: ptr(17), Expires: exp},
	}, {
		name: "29 February birthday, 1 March in a common year",
		item: policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
			Token: doc(map[string]any{"birthdate": "2008-02-29", "jti": "mar1"})},
		want: policy.Evidence{Age: ptr(18), Expires: exp},
	}, {
		name: "29 February birthday in a leap year",
		item: policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
			Token: doc(map[string]any{"birthdate": "2012-02-29", "jti": "leap"})},
		today: policy.Date{Year: 2028, Month: time.February, Day: 29},
		want:  policy.Evidence{Age: ptr(16), Expires: exp},
	}, {
		name: "document with age_over booleans only",
		item: policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
			Token: doc(map[string]any{"age_over_18": true, "age_over_21": false, "age_over_x": true})},
		want: policy.Evidence{Over: map[int]bool{18: true, 21: false}, Expires: exp},
	}, {
		name: "parental consent",
		item: policy.EvidenceItem{Type: policy.EvidenceParentalConsent, Provider: "guardian",
			Token: signJWS(t, f.consent, "", "", claimsAt(testNow, consentIss, map[string]any{"consent": true, "nonce": testNonce}))},
		want: policy.Evidence{Consent: true, Expires: exp},
	}, {
		name: "digital credential with age_equal_or_over",
		item: policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: f.newCred(t).build(t)},
		want: policy.Evidence{Over: map[int]bool{16: true, 18: true}, Expires: testNow.Add(DefaultKeyBindingMaxAge)},
	}, {
		name: "digital credential found by issuer, age_over_NN claims",
		item: policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Token: func() string {
			c := f.newCred(t)
			d, h := disclose("c2FsdC1vMjE", "age_over_21", false)
			c.payload["_sd"] = append(c.payload["_sd"].([]any), h)
			c.disclosures = append(c.disclosures, d)
			c.payload["age_over_13"] = true
			return c.build(t)
		}()},
		want: policy.Evidence{Provider: "wallet", Over: map[int]bool{13: true, 16: true, 18: true, 21: false}, Expires: testNow.Add(DefaultKeyBindingMaxAge)},
	}, {
		name: "platform age range",
		item: policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 13, Upper: 15, Source: policy.RangeGuardianDeclared},
		want: policy.Evidence{Lower: 13, Upper: 15, Source: policy.RangeGuardianDeclared},
	}, {
		name: "platform age range, open-ended",
		item: policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 18, Source: policy.RangeVerified},
		want: policy.Evidence{Lower: 18, Source: policy.RangeVerified},
	}}
	v := f.verifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			today := tt.today
			if today.IsZero() {
				today = testToday
			}
			got := v.Verify(context.Background(), []policy.EvidenceItem{tt.item}, testBind, today)[0]
			want := tt.want
			want.Type = tt.item.Type
			if want.Provider == "" {
				want.Provider = tt.item.Provider
			}
			want.Outcome = policy.OutcomeAccepted
			// A signed token spent its single use, and says under which key.
			if signed := tt.item.Token != ""; signed != spentKey.MatchString(got.Spent) {
				t.Errorf("Spent = %q for a %s item", got.Spent, tt.item.Type)
			}
			got.Spent = ""
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerifyReasons crafts one token per failure and checks its reason.
func TestVerifyReasons(t *testing.T) {
	f := newFixture(t)
	f.providers = append(f.providers,
		Provider{ID: "strict", Types: []string{policy.EvidenceAgeEstimation}, Issuer: estIssuer,
			JWKS: jwksOf(t, f.est), Algorithms: []string{"EdDSA"}, Audience: testAudience,
			MaxTokenAge: 10 * time.Minute, RequireNonce: true})
	v := f.verifier(t)

	est := func(extra map[string]any) string {
		return signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, merge(map[string]any{"age_estimate": 20.0}, extra)))
	}
	estItem := func(tok string) policy.EvidenceItem {
		return policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator", Token: tok}
	}
	strictItem := func(tok string) policy.EvidenceItem {
		return policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "strict", Token: tok}
	}
	docItem := func(extra map[string]any) policy.EvidenceItem {
		return policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
			Token: signJWS(t, f.doc, "", "", claimsAt(testNow, docIssuer, extra))}
	}
	consentItem := func(extra map[string]any) policy.EvidenceItem {
		return policy.EvidenceItem{Type: policy.EvidenceParentalConsent, Provider: "guardian",
			Token: signJWS(t, f.consent, "", "", claimsAt(testNow, consentIss, merge(map[string]any{"consent": true, "nonce": testNonce}, extra)))}
	}
	credItem := func(spoil func(c *cred)) policy.EvidenceItem {
		c := f.newCred(t)
		spoil(c)
		return policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: c.build(t)}
	}

	tests := []struct {
		name string
		item policy.EvidenceItem
		bind *policy.Binding
		want string
	}{
		{"unknown provider", policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "nobody", Token: est(nil)}, nil, ReasonUnknownProvider},
		{"provider not configured for the type", policy.EvidenceItem{Type: policy.EvidenceParentalConsent, Provider: "estimator", Token: est(nil)}, nil, ReasonTypeNotAllowed},
		{"unknown evidence type", policy.EvidenceItem{Type: "palm_reading", Provider: "estimator", Token: est(nil)}, nil, ReasonTypeNotAllowed},
		{"garbage", estItem("not a token at all"), nil, ReasonMalformedToken},
		{"empty token", estItem(""), nil, ReasonMalformedToken},
		{"bad base64", estItem("e30.e30.!!!"), nil, ReasonMalformedToken},
		{"header not JSON", estItem(b64.EncodeToString([]byte("nope")) + ".e30.AA"), nil, ReasonMalformedToken},
		{"payload not JSON", estItem(signJWS(t, f.est, "", "", []byte("not json"))), nil, ReasonMalformedToken},
		{"critical header", estItem(unsigned(map[string]any{"alg": "EdDSA", "crit": []string{"b64"}, "b64": false}, nil)), nil, ReasonMalformedToken},
		{"alg none", estItem(unsigned(map[string]any{"alg": "none", "kid": "est-1"}, claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0}))), nil, ReasonAlgorithmNotAllowed},
		{"HS256 keyed with the public key", estItem(hmacWithPublicKey(t, f.est, claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0}))), nil, ReasonAlgorithmNotAllowed},
		{"alg not in the provider's list", estItem(signJWS(t, newTestKey(t, "p256", "est-1"), "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0}))), nil, ReasonAlgorithmNotAllowed},
		{"wrong key, same kid", estItem(signJWS(t, f.other, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0}))), nil, ReasonSignatureInvalid},
		{"unknown kid", estItem(signJWS(t, newTestKey(t, "ed25519", "est-9"), "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0}))), nil, ReasonSignatureInvalid},
		{"tampered payload", estItem(tamperPayload(est(nil))), nil, ReasonSignatureInvalid},
		{"wrong issuer", estItem(est(map[string]any{"iss": "https://evil.example"})), nil, ReasonIssuerMismatch},
		{"no issuer", estItem(est(map[string]any{"iss": nil})), nil, ReasonIssuerMismatch},
		{"wrong audience", estItem(est(map[string]any{"aud": "someone-else"})), nil, ReasonAudienceMismatch},
		{"no audience", estItem(est(map[string]any{"aud": nil})), nil, ReasonAudienceMismatch},
		{"expired", estItem(est(map[string]any{"exp": testNow.Add(-time.Minute).Unix()})), nil, ReasonExpired},
		{"nbf in the future", estItem(est(map[string]any{"nbf": testNow.Add(time.Hour).Unix()})), nil, ReasonNotYetValid},
		{"iat in the future", estItem(est(map[string]any{"iat": testNow.Add(time.Hour).Unix()})), nil, ReasonNotYetValid},
		{"exp not a number", estItem(est(map[string]any{"exp": "tomorrow"})), nil, ReasonClaimsInvalid},
		{"no exp and no max age", estItem(est(map[string]any{"exp": nil})), nil, ReasonClaimsMissing},
		{"iat older than max_token_age", strictItem(est(map[string]any{"iat": testNow.Add(-time.Hour).Unix(), "nonce": testNonce})), nil, ReasonTooOld},
		{"no iat with max_token_age", strictItem(est(map[string]any{"iat": nil, "nonce": testNonce})), nil, ReasonClaimsMissing},
		{"nonce required, missing", strictItem(est(nil)), nil, ReasonNonceMismatch},
		{"wrong nonce", estItem(est(map[string]any{"nonce": "n-other"})), nil, ReasonNonceMismatch},
		{"nonce-bound token, request without nonce", estItem(est(map[string]any{"nonce": testNonce})), &policy.Binding{Audience: ourIssuer}, ReasonNonceMismatch},
		{"consent without nonce", consentItem(map[string]any{"nonce": nil}), nil, ReasonNonceMismatch},
		{"consent for another request", consentItem(map[string]any{"nonce": "n-other"}), nil, ReasonNonceMismatch},
		{"no estimate", estItem(est(map[string]any{"age_estimate": nil})), nil, ReasonClaimsMissing},
		{"estimate not a number", estItem(est(map[string]any{"age_estimate": "19"})), nil, ReasonClaimsInvalid},
		{"estimate impossible", estItem(est(map[string]any{"age_estimate": 300})), nil, ReasonClaimsInvalid},
		{"negative uncertainty", estItem(est(map[string]any{"age_estimate_uncertainty": -1})), nil, ReasonClaimsInvalid},
		{"liveness not a boolean", estItem(est(map[string]any{"liveness": "yes"})), nil, ReasonClaimsInvalid},
		{"document without age claims", docItem(nil), nil, ReasonClaimsMissing},
		{"document with an impossible date", docItem(map[string]any{"birthdate": "2007-02-29"}), nil, ReasonClaimsInvalid},
		{"document born in the future", docItem(map[string]any{"birthdate": "2030-01-01"}), nil, ReasonClaimsInvalid},
		{"document age_over not a boolean", docItem(map[string]any{"age_over_18": "yes"}), nil, ReasonClaimsInvalid},
		{"consent missing", consentItem(map[string]any{"consent": nil}), nil, ReasonClaimsMissing},
		{"consent refused", consentItem(map[string]any{"consent": false}), nil, ReasonClaimsInvalid},
		{"range lower above upper", policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 16, Upper: 13, Source: policy.RangeSelfDeclared}, nil, ReasonRangeInvalid},
		{"range negative", policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: -1, Upper: 13, Source: policy.RangeSelfDeclared}, nil, ReasonRangeInvalid},
		{"range above 130", policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 18, Upper: 131, Source: policy.RangeSelfDeclared}, nil, ReasonRangeInvalid},
		{"range bad source", policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 13, Upper: 15, Source: "rumour"}, nil, ReasonRangeInvalid},

		// SD-JWT VC.
		{"credential not an SD-JWT", policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: est(nil)}, nil, ReasonMalformedToken},
		{"credential typ JWT", credItem(func(c *cred) { c.issuerTyp = "JWT" }), nil, ReasonMalformedToken},
		{"credential from an untrusted issuer", func() policy.EvidenceItem {
			it := credItem(func(c *cred) { c.payload["iss"] = "https://rogue.example" })
			it.Provider = ""
			return it
		}(), nil, ReasonUnknownProvider},
		{"credential with another issuer's iss", credItem(func(c *cred) { c.payload["iss"] = "https://rogue.example" }), nil, ReasonIssuerMismatch},
		{"credential signed by another key", credItem(func(c *cred) { c.issuerKey = newTestKey(t, "p256", "wallet-1") }), nil, ReasonSignatureInvalid},
		{"credential expired", credItem(func(c *cred) { c.payload["exp"] = testNow.Add(-time.Hour).Unix() }), nil, ReasonExpired},
		{"credential vct not trusted", credItem(func(c *cred) { c.payload["vct"] = "urn:other" }), nil, ReasonClaimsInvalid},
		{"credential _sd_alg sha-512", credItem(func(c *cred) { c.payload["_sd_alg"] = "sha-512" }), nil, ReasonAlgorithmNotAllowed},
		{"tampered disclosure", credItem(func(c *cred) {
			d, _ := disclose("c2FsdC0xOA", "18", false) // same salt, changed value
			c.disclosures[0] = d
		}), nil, ReasonDisclosureInvalid},
		{"unreferenced disclosure", credItem(func(c *cred) {
			d, _ := disclose("c2FsdC0yMQ", "21", true)
			c.disclosures = append(c.disclosures, d)
		}), nil, ReasonDisclosureInvalid},
		{"duplicate disclosure", credItem(func(c *cred) { c.disclosures = append(c.disclosures, c.disclosures[0]) }), nil, ReasonDisclosureInvalid},
		{"duplicate digest", credItem(func(c *cred) {
			sd := c.payload["_sd"].([]any)
			c.payload["_sd"] = append(sd, sd[0])
		}), nil, ReasonDisclosureInvalid},
		{"disclosure overwrites a claim", credItem(func(c *cred) {
			d, h := disclose("c2FsdC12Y3Q", "vct", "urn:forged")
			c.payload["_sd"] = append(c.payload["_sd"].([]any), h)
			c.disclosures = append(c.disclosures, d)
		}), nil, ReasonDisclosureInvalid},
		{"disclosure with a reserved name", credItem(func(c *cred) {
			d, h := disclose("c2FsdC1zZA", "_sd", []any{})
			c.payload["_sd"] = append(c.payload["_sd"].([]any), h)
			c.disclosures = append(c.disclosures, d)
		}), nil, ReasonDisclosureInvalid},
		{"disclosure outside the base64url alphabet", credItem(func(c *cred) { c.disclosures[1] = "***" }), nil, ReasonMalformedToken},
		{"disclosure not decodable", credItem(func(c *cred) { c.disclosures[1] = "A" }), nil, ReasonDisclosureInvalid},
		{"array disclosure used for a property", credItem(func(c *cred) {
			d, h := discloseElem("c2FsdC1lbA", 42)
			c.payload["_sd"] = append(c.payload["_sd"].([]any), h)
			c.disclosures = append(c.disclosures, d)
		}), nil, ReasonDisclosureInvalid},
		{"key binding missing", credItem(func(c *cred) { c.kb = nil }), nil, ReasonHolderBindingInvalid},
		{"key binding wrong typ", credItem(func(c *cred) { c.kbTyp = "JWT" }), nil, ReasonHolderBindingInvalid},
		{"key binding wrong aud", credItem(func(c *cred) { c.kb["aud"] = "https://verifier.example" }), nil, ReasonHolderBindingInvalid},
		{"key binding wrong nonce", credItem(func(c *cred) { c.kb["nonce"] = "n-other" }), nil, ReasonHolderBindingInvalid},
		{"key binding no nonce", credItem(func(c *cred) { delete(c.kb, "nonce") }), nil, ReasonHolderBindingInvalid},
		{"key binding wrong sd_hash", credItem(func(c *cred) { c.sdHash = digestOf("something else") }), nil, ReasonHolderBindingInvalid},
		{"key binding wrong key", credItem(func(c *cred) { c.holderKey = newTestKey(t, "p256", "") }), nil, ReasonHolderBindingInvalid},
		{"key binding stale", credItem(func(c *cred) { c.kb["iat"] = testNow.Add(-time.Hour).Unix() }), nil, ReasonHolderBindingInvalid},
		{"key binding from the future", credItem(func(c *cred) { c.kb["iat"] = testNow.Add(time.Hour).Unix() }), nil, ReasonHolderBindingInvalid},
		{"credential without cnf", credItem(func(c *cred) { delete(c.payload, "cnf") }), nil, ReasonHolderBindingInvalid},
		{"credential without age claims", credItem(func(c *cred) {
			delete(c.payload, "age_equal_or_over")
			c.disclosures = c.disclosures[1:2]
		}), nil, ReasonClaimsMissing},
		{"credential age_equal_or_over not an object", credItem(func(c *cred) {
			c.payload["age_equal_or_over"] = true
			c.disclosures = c.disclosures[1:2]
		}), nil, ReasonClaimsInvalid},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testBind
			if tt.bind != nil {
				b = *tt.bind
			}
			got := v.Verify(context.Background(), []policy.EvidenceItem{tt.item}, b, testToday)[0]
			want := policy.Evidence{Type: tt.item.Type, Outcome: outcomeOf(tt.want), Reason: tt.want, Provider: got.Provider}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
			if p := tt.item.Provider; p != "" && got.Provider != p {
				t.Errorf("Provider = %q, want %q", got.Provider, p)
			}
		})
		seen[tt.want] = true
	}
	// Replay and unverifiability have their own tests.
	seen[ReasonReplayed], seen[ReasonUnverifiable] = true, true
	for _, r := range Reasons() {
		if !seen[r] {
			t.Errorf("no test produces reason %q", r)
		}
	}
}

// hmacWithPublicKey is the classic algorithm-confusion forgery: HS256
// keyed with the bytes of the provider's public key, which anyone has.
func hmacWithPublicKey(t *testing.T, k *testKey, claims map[string]any) string {
	t.Helper()
	pub, err := json.Marshal(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, k.kid)
	tok, err := jws.Sign(payload, jws.WithKey(jwa.HS256, pub, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

func merge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// tamperPayload swaps a JWS payload for another with a different estimate,
// keeping the header and signature.
func tamperPayload(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := b64.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), `"age_estimate":20`, `"age_estimate":30`, 1))
	return parts[0] + "." + b64.EncodeToString(p) + "." + parts[2]
}

func TestLeewayAcceptsSlightlyExpired(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	tok := signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, map[string]any{
		"age_estimate": 20.0, "exp": testNow.Add(-10 * time.Second).Unix(), "nbf": testNow.Add(10 * time.Second).Unix(),
	}))
	got := verifyOne(v, policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator", Token: tok})
	if !got.Accepted() {
		t.Fatalf("token within the 30s leeway: got %+v", got)
	}
}

func TestVerifyKeepsOrder(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	items := []policy.EvidenceItem{
		{Type: policy.EvidencePlatformAgeRange, Lower: 13, Upper: 15, Source: policy.RangeSelfDeclared},
		{Type: policy.EvidenceAgeEstimation, Provider: "nobody", Token: "x"},
		{Type: policy.EvidenceAgeEstimation, Provider: "estimator", Token: signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0}))},
	}
	got := v.Verify(context.Background(), items, testBind, testToday)
	var reasons []string
	for _, e := range got {
		reasons = append(reasons, e.Outcome+"/"+e.Reason)
	}
	want := []string{"accepted/", "rejected/unknown_provider", "accepted/"}
	if !slices.Equal(reasons, want) {
		t.Errorf("outcomes = %v, want %v", reasons, want)
	}
	if got[1].Provider != "nobody" {
		t.Errorf("unknown provider's result names %q, want the requested id", got[1].Provider)
	}
}

// TestResultProvider: every result names the provider the request named,
// configured or not, or the one a credential's issuer selected.
func TestResultProvider(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	est := signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0}))
	rogue := f.newCred(t)
	rogue.payload["iss"] = "https://rogue.example"
	tests := []struct {
		name       string
		item       policy.EvidenceItem
		wantReason string
		want       string
	}{
		{"accepted", policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator", Token: est}, "", "estimator"},
		{"unknown provider", policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "nobody", Token: est}, ReasonUnknownProvider, "nobody"},
		{"unknown provider, consent", policy.EvidenceItem{Type: policy.EvidenceParentalConsent, Provider: "guardian-2", Token: est}, ReasonUnknownProvider, "guardian-2"},
		{"unknown provider, credential", policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet-2", Token: f.newCred(t).build(t)}, ReasonUnknownProvider, "wallet-2"},
		{"provider not configured for the type", policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "estimator", Token: est}, ReasonTypeNotAllowed, "estimator"},
		{"unknown evidence type", policy.EvidenceItem{Type: "palm_reading", Provider: "estimator", Token: est}, ReasonTypeNotAllowed, "estimator"},
		{"configured provider, bad token", policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator", Token: "x"}, ReasonMalformedToken, "estimator"},
		{"credential selected by issuer", policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Token: f.newCred(t).build(t)}, "", "wallet"},
		{"credential selected by issuer, then refused", policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Token: f.newCred(t).build(t) + "x"}, ReasonHolderBindingInvalid, "wallet"},
		{"credential of an untrusted issuer", policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Token: rogue.build(t)}, ReasonUnknownProvider, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verifyOne(v, tt.item)
			if got.Reason != tt.wantReason {
				t.Errorf("reason %q, want %q", got.Reason, tt.wantReason)
			}
			if got.Provider != tt.want {
				t.Errorf("Provider = %q, want %q", got.Provider, tt.want)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	f := newFixture(t)
	rec := &recordingReplay{inner: localcache.NewReplay(localcache.Options{Clock: func() time.Time { return testNow }})}
	v := f.verifier(t, func(o *Options) { o.Replay = rec })

	tok := signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0, "nonce": testNonce}))
	item := policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator", Token: tok}

	// A failed check (wrong nonce) must not burn the token's single use.
	if got := v.Verify(context.Background(), []policy.EvidenceItem{item}, policy.Binding{Nonce: "n-other", Audience: ourIssuer}, testToday)[0]; got.Reason != ReasonNonceMismatch {
		t.Fatalf("wrong nonce: reason %q", got.Reason)
	}
	if len(rec.keys) != 0 {
		t.Fatalf("replay store consulted for a failed token")
	}
	if got := verifyOne(v, item); !got.Accepted() {
		t.Fatalf("first use: %+v", got)
	}
	if got := verifyOne(v, item); got.Reason != ReasonReplayed || got.Outcome != policy.OutcomeRejected {
		t.Fatalf("second use: %+v", got)
	}
	// Keys are namespaced HMACs the stores accept; the ttl runs to exp+leeway.
	if err := localcache.ValidateNamespacedKey(rec.keys[0]); err != nil || !strings.HasPrefix(rec.keys[0], "ev:") {
		t.Errorf("replay key %q: %v", rec.keys[0], err)
	}
	if want := 10*time.Minute + DefaultLeeway; rec.ttls[0] != want {
		t.Errorf("ttl = %v, want %v", rec.ttls[0], want)
	}
	if strings.Contains(rec.keys[0], tok) {
		t.Error("replay key contains the token")
	}

	// Credentials: the same presentation twice is a replay.
	c := f.newCred(t).build(t)
	ci := policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: c}
	if got := verifyOne(v, ci); !got.Accepted() {
		t.Fatalf("credential first use: %+v", got)
	}
	if got := verifyOne(v, ci); got.Reason != ReasonReplayed {
		t.Fatalf("credential second use: %+v", got)
	}
	// The same presentation with its (ES256) key-binding signature malleated.
	ci.Token = malleateES256(t, c)
	if got := verifyOne(f.verifier(t), ci); !got.Accepted() {
		t.Fatalf("malleated presentation does not verify on its own: %+v", got)
	}
	if got := verifyOne(v, ci); got.Reason != ReasonReplayed {
		t.Fatalf("malleated presentation: %+v, want replayed", got)
	}
}

// TestReplayMalleatedSignature: an ES256 signature (r, s) can be turned into
// (r, n−s), which verifies too. The variant must still count as a replay.
func TestReplayMalleatedSignature(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	tok := signJWS(t, f.doc, "", "", claimsAt(testNow, docIssuer, map[string]any{"age_over_18": true}))
	twin := malleateES256(t, tok)
	// The twin is a valid token in its own right…
	if got := verifyOne(f.verifier(t), policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck", Token: twin}); !got.Accepted() {
		t.Fatalf("malleated twin does not verify on its own: %+v", got)
	}
	// …but not after its original has been used.
	item := policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck", Token: tok}
	if got := verifyOne(v, item); !got.Accepted() {
		t.Fatalf("first use: %+v", got)
	}
	item.Token = twin
	if got := verifyOne(v, item); got.Reason != ReasonReplayed {
		t.Fatalf("malleated twin: %+v, want replayed", got)
	}
}

// malleateES256 replaces the last ES256 signature in tok, (r, s), with
// (r, n−s).
func malleateES256(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("not an ES256 signature: %v", err)
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	twin := tok[:i+1] + b64.EncodeToString(sig)
	if twin == tok {
		t.Fatal("malleation did nothing")
	}
	return twin
}

func TestReplayTTLMinimum(t *testing.T) {
	f := newFixture(t)
	rec := &recordingReplay{inner: alwaysFresh{}}
	v := f.verifier(t, func(o *Options) { o.Replay = rec })
	tok := signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 20.0, "exp": float64(testNow.Unix()) - 29.5}))
	if got := verifyOne(v, policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator", Token: tok}); !got.Accepted() {
		t.Fatalf("got %+v", got)
	}
	if rec.ttls[0] != time.Second {
		t.Errorf("ttl = %v, want the 1s minimum", rec.ttls[0])
	}
}

// TestReplayStoreDegraded: when only single use cannot be confirmed, the
// evidence is unverifiable (it never permits) but keeps its genuine claims,
// marked RestrictOnly, so a child's evidence still restricts during a
// replay-store outage. A consent only ever permits: it keeps nothing. A
// token failing another check keeps nothing either.
func TestReplayStoreDegraded(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t, func(o *Options) { o.Replay = degradedReplay{} })
	tests := []struct {
		name       string
		item       policy.EvidenceItem
		restrict   bool
		wantClaims func(policy.Evidence) bool
	}{
		{"estimate", policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator",
			Token: signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 9.5}))},
			true, func(e policy.Evidence) bool { return e.Estimate != nil && *e.Estimate == 9.5 }},
		{"credential", policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: f.newCred(t).build(t)},
			true, func(e policy.Evidence) bool { return len(e.Over) > 0 }},
		{"estimate from the wrong audience", policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator",
			Token: signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, map[string]any{"age_estimate": 9.5, "aud": "someone-else"}))},
			false, func(e policy.Evidence) bool { return e.Estimate == nil }},
	}
	for _, tt := range tests {
		got := verifyOne(v, tt.item)
		if got.Outcome == policy.OutcomeAccepted {
			t.Errorf("%s accepted with a degraded replay store: %+v", tt.name, got)
		}
		if got.RestrictOnly != tt.restrict || !tt.wantClaims(got) {
			t.Errorf("%s: restrict-only %t, claims %+v", tt.name, got.RestrictOnly, got)
		}
		if tt.restrict && got.Reason != ReasonUnverifiable {
			t.Errorf("%s: reason %s", tt.name, got.Reason)
		}
	}
}

func TestNewOptions(t *testing.T) {
	ps, err := NewProviders(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]Options{
		"no replay guard": {ReplayKey: replayKey},
		"short key":       {Replay: alwaysFresh{}, ReplayKey: []byte("short")},
	} {
		if _, err := New(context.Background(), ps, o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	v, err := New(context.Background(), nil, Options{Replay: alwaysFresh{}, ReplayKey: replayKey})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	got := v.Verify(context.Background(), []policy.EvidenceItem{{Type: policy.EvidenceAgeEstimation, Provider: "x", Token: "y"}}, testBind, testToday)
	if got[0].Reason != ReasonUnknownProvider {
		t.Errorf("no providers: %+v", got[0])
	}
}

func TestReasonsOutcomes(t *testing.T) {
	for _, r := range Reasons() {
		want := policy.OutcomeRejected
		if r == ReasonUnverifiable {
			want = policy.OutcomeUnverifiable
		}
		if got := outcomeOf(r); got != want {
			t.Errorf("outcomeOf(%q) = %q, want %q", r, got, want)
		}
	}
}
