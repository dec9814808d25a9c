package verifier

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/ageassure/ageassure/policy"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Media types (JWS "typ") of the SD-JWT VC issuer-signed JWT — dc+sd-jwt
// since draft 09 of SD-JWT VC, vc+sd-jwt before — and of the key-binding
// JWT.
var credentialTypes = []string{"dc+sd-jwt", "vc+sd-jwt", "application/dc+sd-jwt", "application/vc+sd-jwt"}

const kbJWTType = "kb+jwt"

// holderAlgorithms are accepted for key-binding JWTs. The holder's key
// comes from the credential (cnf.jwk), not from our configuration, so the
// list is fixed: asymmetric algorithms only.
var holderAlgorithms = allowedAlgorithms

// verifyCredential verifies an SD-JWT VC presentation: the issuer's
// signature against a trusted issuer (a digital_credential provider), the
// validity times, the disclosures, the key binding to this request, the age
// claims, and finally single use of the whole presentation.
func (v *Verifier) verifyCredential(ctx context.Context, item *policy.EvidenceItem, b policy.Binding, ev *policy.Evidence) *failure {
	if item.Provider != "" {
		if _, f := v.lookup(item, ev); f != nil {
			return f
		}
	}
	pres, err := parsePresentation(item.Token)
	if err != nil {
		return failWrap(ReasonMalformedToken, err, "not an SD-JWT presentation")
	}
	tok, err := parseJWS(pres.issuerJWT)
	if err != nil {
		return failWrap(ReasonMalformedToken, err, "issuer-signed JWT")
	}
	if !slices.ContainsFunc(credentialTypes, func(t string) bool { return strings.EqualFold(t, tok.header.Typ) }) {
		return fail(ReasonMalformedToken, "issuer-signed JWT typ is not dc+sd-jwt")
	}
	p := v.providers[item.Provider]
	if p == nil {
		// No provider named: the issuer decides which keys to try. Reading
		// iss before the signature is checked is safe: it only selects the
		// trusted keys, and the signature must then verify with them.
		unverified, err := parseClaims(tok.payload)
		if err != nil {
			return failWrap(ReasonMalformedToken, err, "issuer-signed JWT payload")
		}
		iss, _, _ := unverified.str("iss")
		if p = v.byIssuer[iss]; p == nil {
			return fail(ReasonUnknownProvider, "the issuer is not a trusted credential issuer")
		}
		ev.Provider = p.ID
	}
	c, f := v.checkJWS(ctx, p, tok)
	if f != nil {
		return f
	}
	now := v.now()
	// The credential may be long-lived: max_token_age applies to the key
	// binding, and exp is optional (SD-JWT VC §3.2.2.2).
	valid, f := c.checkTimes(now, p.Leeway, 0, false)
	if f != nil {
		return f
	}
	if p.Audience != "" && !c.hasAudience(p.Audience) {
		return fail(ReasonAudienceMismatch, "aud does not name the provider's audience")
	}
	if len(p.VCT) > 0 {
		if vct, _, _ := c.str("vct"); !slices.Contains(p.VCT, vct) {
			return fail(ReasonClaimsInvalid, "vct is not a credential type trusted from this issuer")
		}
	}
	if alg, present, err := c.str(sdAlgKey); err != nil || present && alg != sdAlgSHA256 {
		return fail(ReasonAlgorithmNotAllowed, "_sd_alg is not sha-256")
	}
	disclosed, err := reconstruct(c, pres.disclosures)
	if err != nil {
		return failWrap(ReasonDisclosureInvalid, err, "disclosures")
	}
	kb, kbUntil, f := checkKeyBinding(pres, c, p, b, now)
	if f != nil {
		return f
	}
	if f := credentialClaims(disclosed, p.Claims, ev); f != nil {
		return f
	}
	until := kbUntil
	if !valid.until.IsZero() && valid.until.Before(until) {
		until = valid.until
	}
	decoded := make([][]byte, len(pres.disclosures))
	for i, d := range pres.disclosures {
		if decoded[i], err = b64.DecodeString(d); err != nil { // decoded once already by reconstruct
			return failWrap(ReasonDisclosureInvalid, err, "disclosure %d", i+1)
		}
	}
	if f := v.firstUse(ctx, v.credentialReplayKey(tok, decoded, kb), until, p.Leeway, ev); f != nil {
		return f
	}
	ev.Expires = until
	return nil
}

// checkKeyBinding verifies the KB-JWT (RFC 9901 §4.3): signed by the key
// the issuer bound the credential to (cnf.jwk), made for us (aud) and for
// this request (nonce), recently (iat), over exactly this presentation
// (sd_hash). It returns the parsed KB-JWT and when the presentation stops
// being acceptable.
func checkKeyBinding(pres *presentation, issuer claims, p *provider, b policy.Binding, now time.Time) (*compactJWS, time.Time, *failure) {
	hb := func(detail string) (*compactJWS, time.Time, *failure) {
		return nil, time.Time{}, fail(ReasonHolderBindingInvalid, "key-binding JWT: %s", detail)
	}
	if pres.kbJWT == "" {
		return hb("missing")
	}
	kb, err := parseJWS(pres.kbJWT)
	if err != nil {
		return hb("malformed")
	}
	if kb.header.Typ != kbJWTType {
		return hb("typ is not kb+jwt")
	}
	if !algAllowed(kb.header.Alg, holderAlgorithms) {
		return hb("alg is not allowed")
	}
	cnf, _ := issuer["cnf"].(map[string]any)
	jwkObj, _ := cnf["jwk"].(map[string]any)
	if jwkObj == nil {
		return hb("the credential has no cnf.jwk")
	}
	raw, err := json.Marshal(jwkObj)
	if err != nil {
		return hb("cnf.jwk is not a JWK")
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return hb("cnf.jwk is not a JWK")
	}
	pub, err := publicKeyOf(key)
	if err != nil {
		return hb("cnf.jwk is not a usable public key")
	}
	if !fits(pub.key, kb.header.Alg) {
		return hb("alg does not fit cnf.jwk")
	}
	if _, err := jws.Verify([]byte(kb.raw), jws.WithKey(jwa.SignatureAlgorithm(kb.header.Alg), pub.key)); err != nil {
		return hb("signature does not verify with cnf.jwk")
	}
	kc, err := parseClaims(kb.payload)
	if err != nil {
		return hb("payload is not a JSON object")
	}
	maxAge := p.MaxTokenAge
	if maxAge == 0 {
		maxAge = DefaultKeyBindingMaxAge
	}
	valid, f := kc.checkTimes(now, p.Leeway, maxAge, true)
	if f != nil {
		return hb("iat/exp: " + f.reason)
	}
	if aud, _, _ := kc.str("aud"); b.Audience == "" || aud != b.Audience {
		return hb("aud is not our issuer")
	}
	if nonce, _, _ := kc.str("nonce"); b.Nonce == "" || subtle.ConstantTimeCompare([]byte(nonce), []byte(b.Nonce)) != 1 {
		return hb("nonce is not the request's")
	}
	sum := sha256.Sum256([]byte(pres.hashInput))
	if got, _, _ := kc.str("sd_hash"); subtle.ConstantTimeCompare([]byte(got), []byte(b64.EncodeToString(sum[:]))) != 1 {
		return hb("sd_hash does not match the presentation")
	}
	return kb, valid.until, nil
}
