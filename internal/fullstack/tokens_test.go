package fullstack

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// What the providers file says, and what tokens must carry to match it.
const (
	issuer       = "https://ageassure.fullstack.test" // serve --issuer: the KB-JWT audience
	providerAud  = "ageassure-fullstack"              // the aud providers issue tokens to
	estIssuer    = "https://faceage.fullstack.test"
	docIssuer    = "https://docscan.fullstack.test"
	consentIss   = "https://guardian.fullstack.test"
	walletIssuer = "https://pid-issuer.fullstack.test"
	credType     = "urn:eudi:age_verification:1"
)

var b64 = base64.RawURLEncoding

// signingKey is a provider's (or a wallet holder's) key pair.
type signingKey struct {
	priv crypto.Signer
	alg  jwa.SignatureAlgorithm
	kid  string
	pub  jwk.Key
}

func newSigningKey(t testing.TB, kind, kid string) *signingKey {
	t.Helper()
	k := &signingKey{kid: kid}
	var err error
	switch kind {
	case "ed25519":
		_, k.priv, err = ed25519.GenerateKey(rand.Reader)
		k.alg = jwa.EdDSA
	case "p256":
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		k.alg = jwa.ES256
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	if k.pub, err = jwk.FromRaw(k.priv.Public()); err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		if err := k.pub.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// sign makes a compact JWS of claims with the key's algorithm and kid.
func (k *signingKey) sign(t testing.TB, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if k.kid != "" {
		_ = hdr.Set(jws.KeyIDKey, k.kid)
	}
	if typ != "" {
		_ = hdr.Set(jws.TypeKey, typ)
	}
	tok, err := jws.Sign(payload, jws.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// jwkSet is the JWK Set JSON of the keys' public halves.
func jwkSet(t testing.TB, keys ...*signingKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		if err := set.AddKey(k.pub); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// issuers are the four providers of the providers file, with their keys,
// and the JWKS endpoint the replicas fetch them from.
type issuers struct {
	est, doc, consent, wallet *signingKey
	jwks                      *httptest.Server
	// canary registers identifying values put into tokens (birth dates,
	// names) that must never be kept; nil ignores them.
	canary func(kind, value string)
}

func (is *issuers) note(kind, value string) {
	if is.canary != nil {
		is.canary(kind, value)
	}
}

// newIssuers generates the providers' keys and serves their JWK Sets from a
// loopback HTTP server (http on loopback is what the providers file allows
// besides https).
func newIssuers(t testing.TB) *issuers {
	t.Helper()
	is := &issuers{
		est:     newSigningKey(t, "ed25519", "faceage-1"),
		doc:     newSigningKey(t, "p256", "docscan-1"),
		consent: newSigningKey(t, "ed25519", "guardian-1"),
		wallet:  newSigningKey(t, "p256", "pid-issuer-1"),
	}
	sets := map[string][]byte{
		"/faceage/jwks":    jwkSet(t, is.est),
		"/docscan/jwks":    jwkSet(t, is.doc),
		"/guardian/jwks":   jwkSet(t, is.consent),
		"/pid-issuer/jwks": jwkSet(t, is.wallet),
	}
	is.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := sets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(is.jwks.Close)
	return is
}

// writeProvidersFile writes the providers file the replicas load: one
// provider per signed evidence type, with the claim names two of them
// rename, as real providers do.
func (is *issuers) writeProvidersFile(t testing.TB, dir string) string {
	t.Helper()
	u := is.jwks.URL
	body := fmt.Sprintf(`# The full-stack suite's providers; their keys are served by the test.
providers:
  - id: faceage
    types: [age_estimation]
    issuer: %[2]s
    jwks_url: %[1]s/faceage/jwks
    algorithms: [EdDSA]
    audience: %[6]s
    max_token_age: 10m
    claims:
      estimate: estimated_age
      uncertainty: estimated_age_error
      liveness: liveness_passed
    timeout: 2s
  - id: docscan
    types: [id_document]
    issuer: %[3]s
    jwks_url: %[1]s/docscan/jwks
    algorithms: [ES256]
    audience: %[6]s
    max_token_age: 1h
    require_nonce: true
    claims:
      birthdate: birth_date
      over_prefix: is_over_
  - id: guardian
    types: [parental_consent]
    issuer: %[4]s
    jwks_url: %[1]s/guardian/jwks
    algorithms: [EdDSA]
    audience: %[6]s
    max_token_age: 15m
    leeway: 10s
  - id: pid-issuer
    types: [digital_credential]
    issuer: %[5]s
    jwks_url: %[1]s/pid-issuer/jwks
    algorithms: [ES256]
    vct: [%[7]s]
    max_token_age: 5m
`, u, estIssuer, docIssuer, consentIss, walletIssuer, providerAud, credType)
	path := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// baseClaims are a provider token's common claims, issued now for nonce
// (omitted if empty), with a unique jti: EdDSA signatures are
// deterministic, so two tokens with equal claims would be one token.
func baseClaims(iss, nonce string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": iss,
		"aud": providerAud,
		"iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
		"jti": randomHex(8),
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

// estimateToken is a faceage result: an estimate ± uncertainty, with or
// without a passed liveness check.
func (is *issuers) estimateToken(t testing.TB, nonce string, estimate, uncertainty float64, liveness bool) string {
	t.Helper()
	c := baseClaims(estIssuer, nonce)
	c["estimated_age"] = estimate
	c["estimated_age_error"] = uncertainty
	c["liveness_passed"] = liveness
	return is.est.sign(t, "JWT", c)
}

// docBirthDateToken is a docscan result naming a birth date.
func (is *issuers) docBirthDateToken(t testing.TB, nonce, birthDate string) string {
	t.Helper()
	is.note("id_document birth date", birthDate)
	c := baseClaims(docIssuer, nonce)
	c["birth_date"] = birthDate
	return is.doc.sign(t, "JWT", c)
}

// docOverToken is a docscan result with is_over_NN booleans only.
func (is *issuers) docOverToken(t testing.TB, nonce string, over map[int]bool) string {
	t.Helper()
	c := baseClaims(docIssuer, nonce)
	for n, v := range over {
		c[fmt.Sprintf("is_over_%d", n)] = v
	}
	return is.doc.sign(t, "JWT", c)
}

// consentToken is a guardian's consent to this signup (bound to nonce).
func (is *issuers) consentToken(t testing.TB, nonce string) string {
	t.Helper()
	c := baseClaims(consentIss, nonce)
	c["consent"] = true
	return is.consent.sign(t, "JWT", c)
}

// credential is an SD-JWT VC presentation from a wallet: an issuer-signed
// JWT with the age claims selectively disclosed, bound to a fresh holder
// key, and a key-binding JWT over the presentation for our issuer and
// nonce.
func (is *issuers) credential(t testing.TB, nonce string, over map[int]bool) string {
	t.Helper()
	holder := newSigningKey(t, "p256", "")
	var cnf map[string]any
	raw, err := json.Marshal(holder.pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cnf); err != nil {
		t.Fatal(err)
	}
	var disclosures, digests []any
	for n, v := range over {
		d, h := disclosure(t, fmt.Sprint(n), v)
		disclosures, digests = append(disclosures, d), append(digests, h)
	}
	// A disclosed name the verifier must ignore and never keep, and a decoy
	// digest, as real credentials carry.
	name := "Erika-" + randomHex(6)
	is.note("credential given_name", name)
	dName, hName := disclosure(t, "given_name", name)
	disclosures = append(disclosures, dName)
	_, decoy := disclosure(t, "decoy", randomHex(4))
	now := time.Now()
	payload := map[string]any{
		"iss":               walletIssuer,
		"iat":               now.Add(-24 * time.Hour).Unix(),
		"exp":               now.Add(365 * 24 * time.Hour).Unix(),
		"vct":               credType,
		"_sd_alg":           "sha-256",
		"cnf":               map[string]any{"jwk": cnf},
		"_sd":               []any{hName, decoy},
		"age_equal_or_over": map[string]any{"_sd": digests},
	}
	pres := is.wallet.sign(t, "dc+sd-jwt", payload) + "~"
	for _, d := range disclosures {
		pres += d.(string) + "~"
	}
	sum := sha256.Sum256([]byte(pres))
	kb := map[string]any{
		"iat":     now.Unix(),
		"aud":     issuer,
		"nonce":   nonce,
		"sd_hash": b64.EncodeToString(sum[:]),
	}
	return pres + holder.sign(t, "kb+jwt", kb)
}

// disclosure encodes an object-property disclosure with a random salt and
// returns it with its digest.
func disclosure(t testing.TB, name string, value any) (string, string) {
	t.Helper()
	b, err := json.Marshal([]any{b64.EncodeToString([]byte(randomHex(8))), name, value})
	if err != nil {
		t.Fatal(err)
	}
	enc := b64.EncodeToString(b)
	sum := sha256.Sum256([]byte(enc))
	return enc, b64.EncodeToString(sum[:])
}
