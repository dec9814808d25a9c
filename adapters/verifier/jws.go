package verifier

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// maxTokenBytes bounds a token (or a whole SD-JWT presentation) before any
// decoding, so parsing cost is bounded by a constant per item.
const maxTokenBytes = 64 << 10

// maxKeyTries bounds the keys tried for a token without a kid.
const maxKeyTries = 8

// b64 is base64url without padding (RFC 7515 §2), rejecting non-canonical
// trailing bits. Like every encoding/base64 decoder it skips '\r' and '\n',
// so input is first checked with inCompactAlphabet: together they give one
// token exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// inCompactAlphabet reports whether every byte of s is a base64url
// character (RFC 4648 §5: A-Z, a-z, 0-9, '-', '_') or one of the separators
// in seps ("." for a JWS, ".~" for an SD-JWT presentation). Padding,
// whitespace and line breaks are not: a decoder that skips or tolerates
// them would let one token be sent in many spellings that all verify.
func inCompactAlphabet(s, seps string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case strings.IndexByte(seps, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// errBadSignature means no candidate key verified the signature.
var errBadSignature = errors.New("signature does not verify")

// joseHeader is the part of a JWS protected header the verifier acts on.
type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// compactJWS is a parsed, not yet verified, compact JWS.
type compactJWS struct {
	raw       string
	header    joseHeader
	rawHeader []byte // the decoded protected header, as signed
	payload   []byte // the decoded payload, as signed
}

// parseJWS splits and decodes a compact JWS (RFC 7515 §7.1). It checks the
// shape only; nothing in it is trusted until verify succeeds. The errors
// never quote the input.
func parseJWS(tok string) (*compactJWS, error) {
	if tok == "" {
		return nil, errors.New("empty token")
	}
	if len(tok) > maxTokenBytes {
		return nil, errors.New("token too large")
	}
	if !inCompactAlphabet(tok, ".") {
		return nil, errors.New("a character outside base64url and '.'")
	}
	return decodeJWS(tok)
}

// decodeJWS is parseJWS after the checks on the token as a whole.
func decodeJWS(tok string) (*compactJWS, error) {
	h, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, errors.New("not a compact JWS: no '.'")
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return nil, errors.New("not a compact JWS: expected three parts")
	}
	if h == "" || p == "" {
		return nil, errors.New("not a compact JWS: empty header or payload")
	}
	hb, err := b64.DecodeString(h)
	if err != nil {
		return nil, errors.New("header is not base64url")
	}
	if _, err := b64.DecodeString(sig); err != nil {
		return nil, errors.New("signature is not base64url")
	}
	var hdr joseHeader
	if err := json.Unmarshal(hb, &hdr); err != nil || !isObject(hb) {
		return nil, errors.New("header is not a JSON object")
	}
	if hdr.Alg == "" {
		return nil, errors.New("header has no alg")
	}
	if len(hdr.Crit) > 0 {
		// No critical extension (b64, …) is understood here; RFC 7515 §4.1.11
		// says to reject what is not understood.
		return nil, errors.New("critical header extensions are not supported")
	}
	pb, err := b64.DecodeString(p)
	if err != nil {
		return nil, errors.New("payload is not base64url")
	}
	return &compactJWS{raw: tok, header: hdr, rawHeader: hb, payload: pb}, nil
}

// isObject reports whether b (valid JSON) is an object.
func isObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}

// algAllowed reports whether alg may be accepted from a provider allowing
// allowed. "none" and HMAC are refused even if a list somehow holds them.
func algAllowed(alg string, allowed []string) bool {
	if alg == "none" || strings.HasPrefix(alg, "HS") {
		return false
	}
	return slices.Contains(allowed, alg)
}

// verify checks the signature with the keys of kr that may have made it.
// It returns errUnknownKID when no key fits, errBadSignature when keys fit
// but none verifies.
func (j *compactJWS) verify(kr *keyring) error {
	if kr == nil {
		return errUnknownKID
	}
	cands, err := kr.candidates(j.header.Kid, j.header.Alg)
	if err != nil {
		return err
	}
	if len(cands) > maxKeyTries {
		cands = cands[:maxKeyTries]
	}
	alg := jwa.SignatureAlgorithm(j.header.Alg)
	buf := []byte(j.raw)
	for _, k := range cands {
		if _, err := jws.Verify(buf, jws.WithKey(alg, k.key)); err == nil {
			return nil
		}
	}
	return errBadSignature
}

// claims is a decoded JWT claims set (or reconstructed SD-JWT claims).
type claims map[string]any

// errClaimType means a claim is present with the wrong JSON type.
var errClaimType = errors.New("claim has the wrong type")

// parseClaims decodes a JWT payload, which must be a JSON object.
func parseClaims(payload []byte) (claims, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	return claims(m), nil
}

// str returns a string claim.
func (c claims) str(name string) (v string, present bool, err error) {
	raw, ok := c[name]
	if !ok {
		return "", false, nil
	}
	s, ok := raw.(string)
	if !ok {
		return "", true, errClaimType
	}
	return s, true, nil
}

// num returns a finite number claim.
func (c claims) num(name string) (v float64, present bool, err error) {
	raw, ok := c[name]
	if !ok {
		return 0, false, nil
	}
	f, ok := raw.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, true, errClaimType
	}
	return f, true, nil
}

// boolean returns a boolean claim.
func (c claims) boolean(name string) (v, present bool, err error) {
	raw, ok := c[name]
	if !ok {
		return false, false, nil
	}
	b, ok := raw.(bool)
	if !ok {
		return false, true, errClaimType
	}
	return b, true, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: later "dates" are garbage.
const maxNumericDate = 253402300799

// date returns a NumericDate claim (RFC 7519 §2), seconds since the epoch,
// possibly fractional.
func (c claims) date(name string) (v time.Time, present bool, err error) {
	f, present, err := c.num(name)
	if !present || err != nil {
		return time.Time{}, present, err
	}
	if f < 0 || f > maxNumericDate {
		return time.Time{}, true, errClaimType
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

// hasAudience reports whether the aud claim (a string or an array of
// strings, RFC 7519 §4.1.3) names want.
func (c claims) hasAudience(want string) bool {
	if want == "" {
		return false
	}
	switch a := c["aud"].(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// validity is what the time claims allow: until when the token may be used
// (zero when nothing bounds it) and its iat, if any.
type validity struct {
	until time.Time
	iat   time.Time
}

// checkTimes applies exp, nbf and iat with leeway. maxAge > 0 makes iat
// required and bounds its age. needEnd makes some bound on validity (exp or
// maxAge) required, because a token valid forever could not be forgotten
// by the replay store.
func (c claims) checkTimes(now time.Time, leeway, maxAge time.Duration, needEnd bool) (validity, *failure) {
	var v validity
	exp, hasExp, err := c.date("exp")
	if err != nil {
		return v, fail(ReasonClaimsInvalid, "exp is not a NumericDate")
	}
	nbf, hasNbf, err := c.date("nbf")
	if err != nil {
		return v, fail(ReasonClaimsInvalid, "nbf is not a NumericDate")
	}
	iat, hasIat, err := c.date("iat")
	if err != nil {
		return v, fail(ReasonClaimsInvalid, "iat is not a NumericDate")
	}
	if hasExp && !now.Before(exp.Add(leeway)) {
		return v, fail(ReasonExpired, "exp has passed")
	}
	if hasNbf && now.Add(leeway).Before(nbf) {
		return v, fail(ReasonNotYetValid, "nbf is in the future")
	}
	if hasIat && now.Add(leeway).Before(iat) {
		return v, fail(ReasonNotYetValid, "iat is in the future")
	}
	if maxAge > 0 {
		if !hasIat {
			return v, fail(ReasonClaimsMissing, "iat is required (max_token_age)")
		}
		if now.Sub(iat) > maxAge+leeway {
			return v, fail(ReasonTooOld, "iat is older than max_token_age")
		}
		v.until = iat.Add(maxAge)
	}
	if hasExp && (v.until.IsZero() || exp.Before(v.until)) {
		v.until = exp
	}
	if needEnd && v.until.IsZero() {
		return v, fail(ReasonClaimsMissing, "exp is required (or max_token_age)")
	}
	v.iat = iat
	return v, nil
}

// checkNonce compares the nonce claim with the request's. A token without
// one passes unless required; a token with one must match, so a request
// without a nonce accepts no nonce-bound token.
func (c claims) checkNonce(name, want string, required bool) *failure {
	got, present, err := c.str(name)
	switch {
	case err != nil:
		return fail(ReasonNonceMismatch, "nonce claim is not a string")
	case !present && !required:
		return nil
	case !present:
		return fail(ReasonNonceMismatch, "nonce claim is required")
	case want == "":
		return fail(ReasonNonceMismatch, "the token is nonce-bound but the request has no nonce")
	case subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1:
		return fail(ReasonNonceMismatch, "nonce differs from the request's")
	}
	return nil
}
