package verifier

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/policy"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Test constants: who we are, what the request binds to, and when "now" is.
const (
	ourIssuer    = "https://ageassure.example"
	testNonce    = "n-7f3a9c"
	testAudience = "ageassure-test"
	estIssuer    = "https://estimator.example"
	docIssuer    = "https://idcheck.example"
	consentIss   = "https://consent.example"
	walletIssuer = "https://wallet-issuer.example"
	testVCT      = "urn:eudi:age_verification:1"
)

var (
	testNow   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testToday = policy.Date{Year: 2026, Month: time.March, Day: 1}
	testBind  = policy.Binding{Nonce: testNonce, Audience: ourIssuer, Tenant: "acme"}
	replayKey = []byte("0123456789abcdef0123456789abcdef")
)

// testKey is a key pair generated in the test, with its public JWK.
type testKey struct {
	priv crypto.Signer
	alg  jwa.SignatureAlgorithm
	kid  string
	pub  jwk.Key
}

func newTestKey(t testing.TB, kind, kid string) *testKey {
	t.Helper()
	var (
		priv crypto.Signer
		alg  jwa.SignatureAlgorithm
		err  error
	)
	switch kind {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
		alg = jwa.EdDSA
	case "p256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		alg = jwa.ES256
	case "p384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		alg = jwa.ES384
	case "rsa":
		priv = rsaKey(t)
		alg = jwa.RS256
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.FromRaw(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		if err := pub.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	return &testKey{priv: priv, alg: alg, kid: kid, pub: pub}
}

// rsaKey generates one 2048-bit RSA key per test binary: generation is slow.
var rsaKey = func() func(testing.TB) *rsa.PrivateKey {
	var once sync.Once
	var k *rsa.PrivateKey
	return func(t testing.TB) *rsa.PrivateKey {
		once.Do(func() {
			var err error
			if k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
				t.Fatal(err)
			}
		})
		return k
	}
}()

// jwksOf returns the JWK Set JSON of the keys' public halves.
func jwksOf(t testing.TB, keys ...*testKey) []byte {
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

// signJWS signs claims (any JSON value, or raw bytes) with k, with the
// given typ (omitted if empty) and k's kid.
func signJWS(t testing.TB, k *testKey, alg jwa.SignatureAlgorithm, typ string, claims any) string {
	t.Helper()
	var payload []byte
	switch c := claims.(type) {
	case []byte:
		payload = c
	default:
		var err error
		if payload, err = json.Marshal(c); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	if k.kid != "" {
		_ = hdr.Set(jws.KeyIDKey, k.kid)
	}
	if typ != "" {
		_ = hdr.Set(jws.TypeKey, typ)
	}
	if alg == "" {
		alg = k.alg
	}
	var key any = k.priv
	tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// unsigned builds a compact JWS with an arbitrary header and an empty
// signature, for "alg": "none" and friends.
func unsigned(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(claims)
	return b64.EncodeToString(h) + "." + b64.EncodeToString(p) + "."
}

// claimsAt returns the common claims of a provider token issued at now.
func claimsAt(now time.Time, iss string, extra map[string]any) map[string]any {
	c := map[string]any{
		"iss": iss,
		"aud": testAudience,
		"iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
		"jti": "j-" + iss,
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// fixture is a set of providers with inline keys, and the keys.
type fixture struct {
	est, doc, consent, issuer, holder, other *testKey
	providers                                []Provider
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		est:     newTestKey(t, "ed25519", "est-1"),
		doc:     newTestKey(t, "p256", "doc-1"),
		consent: newTestKey(t, "ed25519", "consent-1"),
		issuer:  newTestKey(t, "p256", "wallet-1"),
		holder:  newTestKey(t, "p256", ""),
		other:   newTestKey(t, "ed25519", "est-1"), // same kid, different key
	}
	f.providers = []Provider{
		{ID: "estimator", Types: []string{policy.EvidenceAgeEstimation}, Issuer: estIssuer,
			JWKS: jwksOf(t, f.est), Algorithms: []string{"EdDSA"}, Audience: testAudience},
		{ID: "idcheck", Types: []string{policy.EvidenceIDDocument}, Issuer: docIssuer,
			JWKS: jwksOf(t, f.doc), Algorithms: []string{"ES256"}, Audience: testAudience, MaxTokenAge: 30 * time.Minute},
		{ID: "guardian", Types: []string{policy.EvidenceParentalConsent}, Issuer: consentIss,
			JWKS: jwksOf(t, f.consent), Algorithms: []string{"EdDSA"}, Audience: testAudience},
		{ID: "wallet", Types: []string{policy.EvidenceDigitalCredential}, Issuer: walletIssuer,
			JWKS: jwksOf(t, f.issuer), Algorithms: []string{"ES256"}, VCT: []string{testVCT}},
	}
	return f
}

// verifier builds a Verifier over the fixture's providers with a real
// in-process replay store.
func (f *fixture) verifier(t testing.TB, mod ...func(*Options)) *Verifier {
	t.Helper()
	ps, err := NewProviders(f.providers)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Replay:    localcache.NewReplay(localcache.Options{Clock: func() time.Time { return testNow }}),
		ReplayKey: replayKey,
		Clock:     func() time.Time { return testNow },
	}
	for _, m := range mod {
		m(&opts)
	}
	v, err := New(context.Background(), ps, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// verifyOne verifies a single item with the default binding.
func verifyOne(v *Verifier, item policy.EvidenceItem) policy.Evidence {
	return v.Verify(context.Background(), []policy.EvidenceItem{item}, testBind, testToday)[0]
}

// ---- SD-JWT building ----

// disclose returns an encoded object-property disclosure and its digest.
func disclose(salt, name string, value any) (string, string) {
	b, _ := json.Marshal([]any{salt, name, value})
	enc := b64.EncodeToString(b)
	return enc, digestOf(enc)
}

// discloseElem returns an encoded array-element disclosure and its digest.
func discloseElem(salt string, value any) (string, string) {
	b, _ := json.Marshal([]any{salt, value})
	enc := b64.EncodeToString(b)
	return enc, digestOf(enc)
}

// cred is an SD-JWT VC under construction; every field can be spoiled by
// a test before build.
type cred struct {
	issuerKey   *testKey
	issuerTyp   string
	payload     map[string]any
	disclosures []string
	holderKey   *testKey // signs the KB-JWT
	kbTyp       string
	kb          map[string]any // nil: no KB-JWT
	sdHash      string         // "" computes the right one
}

// newCred returns a valid credential: age_equal_or_over {18, 16} selectively
// disclosed, a decoy digest, a disclosed given_name, bound to f.holder.
func (f *fixture) newCred(t testing.TB) *cred {
	t.Helper()
	d18, h18 := disclose("c2FsdC0xOA", "18", true)
	d16, h16 := disclose("c2FsdC0xNg", "16", true)
	dName, hName := disclose("c2FsdC1ubQ", "given_name", "Erika")
	_, decoy := disclose("ZGVjb3k", "decoy", 1)
	cnf := map[string]any{}
	b, _ := json.Marshal(f.holder.pub)
	_ = json.Unmarshal(b, &cnf)
	return &cred{
		issuerKey: f.issuer,
		issuerTyp: "dc+sd-jwt",
		payload: map[string]any{
			"iss":               walletIssuer,
			"iat":               testNow.Add(-24 * time.Hour).Unix(),
			"exp":               testNow.Add(365 * 24 * time.Hour).Unix(),
			"vct":               testVCT,
			"_sd_alg":           "sha-256",
			"cnf":               map[string]any{"jwk": cnf},
			"_sd":               []any{hName, decoy},
			"age_equal_or_over": map[string]any{"_sd": []any{h18, h16}},
		},
		disclosures: []string{d18, dName, d16},
		holderKey:   f.holder,
		kbTyp:       "kb+jwt",
		kb: map[string]any{
			"iat":   testNow.Unix(),
			"aud":   ourIssuer,
			"nonce": testNonce,
		},
	}
}

// build serializes the presentation.
func (c *cred) build(t testing.TB) string {
	t.Helper()
	pres := signJWS(t, c.issuerKey, "", c.issuerTyp, c.payload) + "~"
	for _, d := range c.disclosures {
		pres += d + "~"
	}
	if c.kb == nil {
		return pres
	}
	kb := make(map[string]any, len(c.kb)+1)
	for k, v := range c.kb {
		kb[k] = v
	}
	if _, set := kb["sd_hash"]; !set {
		h := c.sdHash
		if h == "" {
			sum := sha256.Sum256([]byte(pres))
			h = b64.EncodeToString(sum[:])
		}
		kb["sd_hash"] = h
	}
	return pres + signJWS(t, c.holderKey, "", c.kbTyp, kb)
}

// ---- JWKS server ----

// jwksServer is a real HTTP JWKS endpoint whose behaviour a test switches:
// serve the keys, fail with 500, or hang until the client gives up.
type jwksServer struct {
	*httptest.Server
	mode  atomic.Int32 // 0 ok, 1 error, 2 hang
	body  atomic.Pointer[[]byte]
	hits  atomic.Int64
	block chan struct{}
}

const (
	modeOK int32 = iota
	modeError
	modeHang
)

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{block: make(chan struct{})}
	s.body.Store(&body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		switch s.mode.Load() {
		case modeError:
			http.Error(w, "down", http.StatusInternalServerError)
		case modeHang:
			select {
			case <-r.Context().Done():
			case <-s.block:
			}
		default:
			w.Header().Set("Content-Type", "application/jwk-set+json")
			_, _ = w.Write(*s.body.Load())
		}
	}))
	t.Cleanup(func() {
		close(s.block)
		s.Close()
	})
	return s
}

func (s *jwksServer) setKeys(body []byte) { s.body.Store(&body) }

// ---- fakes ----

// degradedReplay answers like rediscache while Redis is unreachable.
type degradedReplay struct{}

var errTestDegraded = errors.New("replay store degraded")

func (degradedReplay) FirstUse(context.Context, string, time.Duration) (bool, error) {
	return true, errTestDegraded
}

// alwaysFresh is a replay guard that remembers nothing, for benchmarks that
// reuse one token.
type alwaysFresh struct{}

func (alwaysFresh) FirstUse(context.Context, string, time.Duration) (bool, error) { return true, nil }

// recordingReplay wraps a guard and records keys and ttls.
type recordingReplay struct {
	inner ReplayGuard
	mu    sync.Mutex
	keys  []string
	ttls  []time.Duration
}

func (r *recordingReplay) FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.ttls = append(r.ttls, ttl)
	r.mu.Unlock()
	return r.inner.FirstUse(ctx, key, ttl)
}

// contains reports whether s contains any of the pieces.
func containsAny(s string, pieces ...string) (string, bool) {
	for _, p := range pieces {
		if p != "" && strings.Contains(s, p) {
			return p, true
		}
	}
	return "", false
}
