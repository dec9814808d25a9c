package service

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/adapters/verifier"
	"github.com/ageassure/ageassure/policy"
)

// provider is an age-assurance provider under test: a key, and a real
// HTTP server publishing its JWKS (which the test can take down).
type provider struct {
	id      string
	issuer  string
	key     ed25519.PrivateKey
	jwks    []byte
	srv     *httptest.Server
	down    atomic.Bool
	fetches atomic.Int64
}

func newProvider(t *testing.T, id string) *provider {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, id+"-1")
	_ = k.Set(jwk.AlgorithmKey, jwa.EdDSA)
	set := jwk.NewSet()
	_ = set.AddKey(k)
	b, _ := json.Marshal(set)
	p := &provider{id: id, issuer: "https://" + id + ".example", key: priv, jwks: b}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		if p.down.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(p.jwks)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// token signs claims as the provider, with the usual registered claims.
func (p *provider) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range map[string]any{"iss": p.issuer, "aud": "ageassure-test", "iat": fixedNow.Unix(), "exp": fixedNow.Add(10 * time.Minute).Unix()} {
		_ = tok.Set(k, v)
	}
	for k, v := range claims {
		_ = tok.Set(k, v)
	}
	payload, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, p.id+"-1")
	signed, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA, p.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func (p *provider) config(types ...string) verifier.Provider {
	return verifier.Provider{
		ID: p.id, Types: types, Issuer: p.issuer, JWKSURL: p.srv.URL + "/jwks",
		Algorithms: []string{"EdDSA"}, Audience: "ageassure-test", MaxTokenAge: time.Hour,
		Timeout: 300 * time.Millisecond, Breaker: verifier.Breaker{Failures: 2, Open: time.Minute},
	}
}

// evidenceEnv is a service with a real verifier over the given providers.
func evidenceEnv(t *testing.T, provs []verifier.Provider) *testEnv {
	t.Helper()
	return evidenceEnvWith(t, provs, nil)
}

// evidenceEnvWith is evidenceEnv with more options set by configure.
func evidenceEnvWith(t *testing.T, provs []verifier.Provider, configure func(o *Options)) *testEnv {
	t.Helper()
	ps, err := verifier.NewProviders(provs)
	if err != nil {
		t.Fatal(err)
	}
	return newTestEnvWith(t, func(e *testEnv, o *Options) {
		v, err := verifier.New(context.Background(), ps, verifier.Options{
			Replay:    localcache.NewReplay(localcache.Options{Clock: e.clock.Now}),
			ReplayKey: []byte("replay-key-for-the-service-tests-0123456789"),
			Clock:     e.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		o.Evidence = v
		if configure != nil {
			configure(o)
		}
	})
}

func checkWith(jur string, age int, nonce string, evidence ...string) string {
	return fmt.Sprintf(`{"jurisdiction":%q,"declared":{"age":%d},"evidence":[%s],"context":{"nonce":%q}}`,
		jur, age, strings.Join(evidence, ","), nonce)
}

func signed(typ, provider, token string) string {
	return fmt.Sprintf(`{"type":%q,"provider":%q,"token":%q}`, typ, provider, token)
}

func TestEvidenceEndToEnd(t *testing.T) {
	face := newProvider(t, "faceage")
	docs := newProvider(t, "docscan")
	consent := newProvider(t, "guardian")
	e := evidenceEnv(t, []verifier.Provider{face.config("age_estimation"), docs.config("id_document"), consent.config("parental_consent")})
	set := fetchJWKS(t, e)

	t.Run("estimate decides, with its buffer in the response and the attestation", func(t *testing.T) {
		tok := face.token(t, map[string]any{"age_estimate": 25.0, "age_estimate_uncertainty": 1.5, "nonce": "n-1"})
		r := decisionOf(t, e, checkWith("US", 25, "n-1", signed("age_estimation", "faceage", tok)))
		if r.Decision != policy.Allow || r.Assurance.Level != AssuranceStandard || r.Assurance.Buffer["13"] != 3.5 {
			t.Fatalf("decision %s, assurance %+v", r.Decision, r.Assurance)
		}
		if len(r.Evidence) != 1 || r.Evidence[0].Outcome != policy.OutcomeAccepted {
			t.Errorf("evidence results %+v", r.Evidence)
		}
		parsed, err := jwt.Parse([]byte(r.Attestation), jwt.WithKeySet(set), jwt.WithValidate(false))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := parsed.Get("assurance")
		am, _ := a.(map[string]any)
		if am["level"] != "standard" || !strings.Contains(fmt.Sprint(am["methods"]), "age_estimation") || am["buffer"] == nil {
			t.Errorf("attestation assurance %v", a)
		}

		// The same token again is a replay: absent, with its reason.
		r = decisionOf(t, e, checkWith("US", 25, "n-1", signed("age_estimation", "faceage", tok)))
		if r.Evidence[0].Reason != verifier.ReasonReplayed || r.Assurance.Level != AssuranceAsserted {
			t.Errorf("replay: %+v, assurance %+v", r.Evidence, r.Assurance)
		}
		if !hasRule(r, "evidence.replayed") {
			t.Errorf("no evidence.replayed reason: %+v", r.Reasons)
		}
	})

	t.Run("declared 25, estimate fails 13: escalated naming both", func(t *testing.T) {
		tok := face.token(t, map[string]any{"age_estimate": 8.0, "age_estimate_uncertainty": 1.0, "nonce": "n-2"})
		r := decisionOf(t, e, checkWith("DE", 25, "n-2", signed("age_estimation", "faceage", tok)))
		if r.Decision != policy.AdditionalVerificationRequired || !hasRule(r, "de.evidence-contradiction") {
			t.Errorf("decision %s, reasons %+v", r.Decision, r.Reasons)
		}
	})

	t.Run("verified under the minimum denies whatever was declared", func(t *testing.T) {
		tok := docs.token(t, map[string]any{"birthdate": "2014-02-28", "nonce": "n-3"})
		r := decisionOf(t, e, checkWith("DE", 30, "n-3", signed("id_document", "docscan", tok)))
		if r.Decision != policy.Deny || r.AgeBand != policy.BandUnder13 || r.Assurance.Level != AssuranceEnhanced {
			t.Errorf("decision %s %s %s", r.Decision, r.AgeBand, r.Assurance.Level)
		}
	})

	t.Run("parental consent turns consent-required into allow", func(t *testing.T) {
		tok := consent.token(t, map[string]any{"consent": true, "nonce": "n-4"})
		r := decisionOf(t, e, checkWith("FR", 14, "n-4", signed("parental_consent", "guardian", tok)))
		if r.Decision != policy.Allow || !hasRule(r, "fr.parental-consent-given") || len(r.Obligations) == 0 {
			t.Errorf("decision %s, reasons %+v, obligations %v", r.Decision, r.Reasons, r.Obligations)
		}
	})

	t.Run("consent bound to another nonce is rejected", func(t *testing.T) {
		tok := consent.token(t, map[string]any{"consent": true, "nonce": "someone-else"})
		r := decisionOf(t, e, checkWith("FR", 14, "n-5", signed("parental_consent", "guardian", tok)))
		if r.Decision != policy.ParentalConsentRequired || r.Evidence[0].Reason != verifier.ReasonNonceMismatch {
			t.Errorf("decision %s, evidence %+v", r.Decision, r.Evidence)
		}
	})

	t.Run("a token signed by another key counts as absent", func(t *testing.T) {
		impostor := newProvider(t, "faceage") // same kid, other key
		tok := impostor.token(t, map[string]any{"age_estimate": 30.0, "age_estimate_uncertainty": 1.0, "nonce": "n-6"})
		r := decisionOf(t, e, checkWith("US", 12, "n-6", signed("age_estimation", "faceage", tok)))
		if r.Decision != policy.Deny || r.Evidence[0].Reason != verifier.ReasonSignatureInvalid {
			t.Errorf("decision %s, evidence %+v", r.Decision, r.Evidence)
		}
	})

	t.Run("garbage and unknown providers are reasons, not 500s", func(t *testing.T) {
		r := decisionOf(t, e, checkWith("US", 20, "n-7", signed("age_estimation", "faceage", "not.a.jws"), signed("id_document", "nobody", "x.y.z")))
		if r.Evidence[0].Reason != verifier.ReasonMalformedToken || r.Evidence[1].Reason != verifier.ReasonUnknownProvider {
			t.Errorf("evidence %+v", r.Evidence)
		}
	})

	t.Run("the OS age range is a declaration with provenance", func(t *testing.T) {
		r := decisionOf(t, e, checkWith("US", 25, "n-8", `{"type":"platform_age_range","lower":13,"upper":15,"source":"self_declared"}`))
		if r.Decision != policy.AdditionalVerificationRequired || r.Assurance.Level != AssuranceAsserted || !hasRule(r, "us.evidence-contradiction") {
			t.Errorf("decision %s, assurance %s, reasons %+v", r.Decision, r.Assurance.Level, r.Reasons)
		}
	})
}

// TestEvidenceProviderDown: a provider whose keys cannot be fetched makes
// its evidence unverifiable; decisions stay safe (never an allow on its
// strength), requests stay within the provider timeout, and are immediate
// once its breaker is open.
func TestEvidenceProviderDown(t *testing.T) {
	face := newProvider(t, "faceage")
	face.down.Store(true)
	e := evidenceEnv(t, []verifier.Provider{face.config("age_estimation")})
	var slowest time.Duration
	for i := 0; i < 6; i++ {
		tok := face.token(t, map[string]any{"age_estimate": 30.0, "age_estimate_uncertainty": 1.0, "nonce": fmt.Sprintf("n-%d", i)})
		start := time.Now()
		// A declared 15-year-old in DE with an estimate of 30 that cannot be
		// verified: parental consent stays required.
		r := decisionOf(t, e, checkWith("DE", 15, fmt.Sprintf("n-%d", i), signed("age_estimation", "faceage", tok)))
		slowest = max(slowest, time.Since(start))
		if r.Decision != policy.ParentalConsentRequired || r.Evidence[0].Reason != verifier.ReasonUnverifiable {
			t.Fatalf("request %d: %s, evidence %+v", i, r.Decision, r.Evidence)
		}
	}
	// Sanity bound, not a performance assertion: no request may hang.
	if slowest > 5*time.Second {
		t.Errorf("slowest request took %s with the provider down", slowest)
	}
	if n := face.fetches.Load(); n > 4 {
		t.Errorf("%d JWKS fetches: the breaker did not stop them", n)
	}
}

func hasRule(r CheckResponse, id string) bool {
	for _, x := range r.Reasons {
		if x.Rule == id {
			return true
		}
	}
	return false
}

// TestEvidenceLeavesNoTrace: a document token carrying a canary birth date,
// and the token itself, appear nowhere the service keeps or emits data:
// logs (debug, access log on), the cache, the decision log's entries, the
// metrics.
func TestEvidenceLeavesNoTrace(t *testing.T) {
	docs := newProvider(t, "docscan")
	ps, _ := verifier.NewProviders([]verifier.Provider{docs.config("id_document")})
	rec := &recordingLog{inner: nopLog{}}
	e := newTestEnvWith(t, func(e *testEnv, o *Options) {
		v, err := verifier.New(context.Background(), ps, verifier.Options{
			Replay: localcache.NewReplay(localcache.Options{Clock: e.clock.Now}), ReplayKey: []byte("replay-key-for-the-service-tests-0123456789"), Clock: e.clock.Now,
			Logger: o.Logger,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		o.Evidence, o.DecisionLog = v, rec
	})
	birth := "1983-09-14"
	tok := docs.token(t, map[string]any{"birthdate": birth, "nonce": canaries.nonce})
	body := fmt.Sprintf(`{"jurisdiction":"DE","declared":{"age":43},"evidence":[{"type":"id_document","provider":"docscan","token":%q}],"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q}}`,
		tok, canaries.device, canaries.subject, canaries.nonce)
	r := decisionOf(t, e, body)
	if r.Evidence[0].Outcome != policy.OutcomeAccepted || r.Assurance.Level != AssuranceEnhanced {
		t.Fatalf("the document was not used: %+v", r.Evidence)
	}
	var cached []string
	e.cache.Range(func(key string, val []byte, _ time.Time) bool {
		cached = append(cached, key, string(val), fmt.Sprintf("%x", val))
		return true
	})
	var entries []string
	for _, en := range rec.entries {
		b, err := en.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, string(b))
	}
	_, metrics := e.do(t, "GET", "/metrics", "", nil)
	places := map[string]string{
		"logs": e.logs.String(), "cache": strings.Join(cached, "\n"), "decision log": strings.Join(entries, "\n"), "metrics": string(metrics),
	}
	assertNoCanaries(t, places)
	for where, text := range places {
		// The token, its payload segment, and the birth date in any form.
		payload := strings.Split(tok, ".")[1]
		for _, v := range append(canaryForms(birth), tok, payload, strings.ReplaceAll(birth, "-", "")) {
			if strings.Contains(text, v) {
				t.Errorf("%s contains evidence data %q", where, v[:min(len(v), 40)])
			}
		}
	}
}
