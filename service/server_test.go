package service

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// fetchJWKS reads the key set the server publishes, as a verifier would.
func fetchJWKS(t *testing.T, e *testEnv) jwk.Set {
	t.Helper()
	resp, body := e.do(t, http.MethodGet, "/.well-known/jwks.json", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS status %d", resp.StatusCode)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatalf("parsing JWKS: %v", err)
	}
	for it := set.Keys(context.Background()); it.Next(context.Background()); {
		k := it.Pair().Value.(jwk.Key)
		if k.KeyID() == "" || k.Algorithm().String() == "" || k.KeyUsage() != "sig" {
			t.Errorf("JWKS key lacks kid/alg/use: %v", k)
		}
	}
	return set
}

func TestAgeCheckEndToEnd(t *testing.T) {
	e := newTestEnv(t)
	set := fetchJWKS(t, e)
	tests := []struct {
		name       string
		body       string
		decision   string
		band       string
		rules      []string // every rule that must be listed
		thresholds map[string]bool
	}{
		{"DE 14 needs consent", `{"jurisdiction":"DE","declared":{"birth_date":"2012-05-01"},"context":{"nonce":"n-1"}}`,
			"parental_consent_required", "13_15", []string{"de.digital-consent-age"}, map[string]bool{"13": true, "16": false, "18": false}},
		{"DE 12 denied", `{"jurisdiction":"DE","declared":{"age":12}}`,
			"deny", "under_13", []string{"de.minimum-age"}, map[string]bool{"13": false}},
		{"DE 16 allowed", `{"jurisdiction":"DE","declared":{"age":16}}`,
			"allow", "16_17", []string{"de.of-age"}, map[string]bool{"16": true, "18": false}},
		{"risk escalates an allow", `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"underage_likelihood","score":0.91},{"type":"user_reports","count":3}]}`,
			"additional_verification_required", "18_plus", []string{"de.of-age", "de.risk-underage-likelihood", "de.risk-user-reports"}, map[string]bool{"18": true}},
		{"deny beats risk", `{"jurisdiction":"US","declared":{"age":10},"signals":[{"type":"user_reports","count":5}]}`,
			"deny", "under_13", []string{"us.minimum-age", "us.risk-user-reports"}, nil},
		{"unlisted country uses the default", `{"jurisdiction":"MX","declared":{"age":13}}`,
			"allow", "13_15", []string{"default.of-age"}, map[string]bool{"13": true}},
		{"AU under 16 denied", `{"jurisdiction":"AU","declared":{"age":15}}`,
			"deny", "13_15", []string{"au.minimum-age"}, map[string]bool{"16": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(t, tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			r := decodeResponse(t, body)
			if string(r.Decision) != tt.decision || string(r.AgeBand) != tt.band {
				t.Errorf("decision, band = %s, %s; want %s, %s (%s)", r.Decision, r.AgeBand, tt.decision, tt.band, body)
			}
			var got []string
			for _, rs := range r.Reasons {
				got = append(got, rs.Rule)
				if rs.Message == "" || rs.Citation == "" {
					t.Errorf("reason %s lacks message or citation", rs.Rule)
				}
			}
			for _, want := range tt.rules {
				if !slices.Contains(got, want) {
					t.Errorf("reasons %v lack %s", got, want)
				}
			}
			if r.Assurance.Level != AssuranceAsserted || !slices.Equal(r.Assurance.Methods, []string{MethodSelfDeclaration}) {
				t.Errorf("assurance = %+v", r.Assurance)
			}
			if !strings.HasPrefix(r.Policy.Hash, "sha256:") || r.Policy.ID == "" {
				t.Errorf("policy = %+v", r.Policy)
			}

			// The attestation verifies against the published JWKS, with the
			// claims the API documents and nothing identifying.
			tok, err := jwt.Parse([]byte(r.Attestation), jwt.WithKeySet(set), jwt.WithValidate(true),
				jwt.WithClock(jwt.ClockFunc(func() time.Time { return fixedNow })),
				jwt.WithAudience(e.tenant), jwt.WithIssuer("https://ageassure.test"))
			if err != nil {
				t.Fatalf("attestation does not verify: %v", err)
			}
			if tok.JwtID() != r.DecisionID {
				t.Errorf("jti %q != decision id %q", tok.JwtID(), r.DecisionID)
			}
			if got := tok.Expiration().Sub(tok.IssuedAt()); got != DefaultAttestationTTL {
				t.Errorf("exp - iat = %s", got)
			}
			if r.ExpiresAt != tok.Expiration().UTC().Format(time.RFC3339) {
				t.Errorf("expires_at %s != exp %s", r.ExpiresAt, tok.Expiration())
			}
			claims, _ := tok.AsMap(context.Background())
			if claims["decision"] != tt.decision || claims["age_band"] != tt.band || claims["policy"] != r.Policy.Hash {
				t.Errorf("claims %v", claims)
			}
			aeo, _ := claims["age_equal_or_over"].(map[string]any)
			for k, v := range tt.thresholds {
				if aeo[k] != v {
					t.Errorf("age_equal_or_over[%s] = %v, want %v (%v)", k, aeo[k], v, aeo)
				}
			}
			allowed := map[string]bool{"iss": true, "aud": true, "iat": true, "exp": true, "jti": true, "nonce": true,
				"decision": true, "age_band": true, "age_equal_or_over": true, "assurance": true, "jurisdiction": true, "policy": true}
			for k := range claims {
				if !allowed[k] {
					t.Errorf("unexpected claim %q", k)
				}
			}
			if strings.Contains(tt.body, `"nonce"`) && claims["nonce"] != "n-1" {
				t.Errorf("nonce not echoed: %v", claims["nonce"])
			}
		})
	}
}

// TestAttestationRejectedElsewhere: a verifier with another audience, or
// after expiry, refuses the token.
func TestAttestationRejectedElsewhere(t *testing.T) {
	e := newTestEnv(t)
	set := fetchJWKS(t, e)
	_, body := e.post(t, `{"jurisdiction":"FR","declared":{"age":20}}`)
	tok := []byte(decodeResponse(t, body).Attestation)
	if _, err := jwt.Parse(tok, jwt.WithKeySet(set), jwt.WithAudience("someone-else"),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return fixedNow }))); err == nil {
		t.Error("token accepted for another audience")
	}
	if _, err := jwt.Parse(tok, jwt.WithKeySet(set), jwt.WithAudience(e.tenant),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return fixedNow.Add(DefaultAttestationTTL + time.Minute) }))); err == nil {
		t.Error("expired token accepted")
	}
}

func TestAntiHopping(t *testing.T) {
	e := newTestEnv(t)
	steps := []struct {
		after    time.Duration
		body     string
		decision string
	}{
		{0, `{"jurisdiction":"DE","declared":{"age":10},"context":{"device_ref":"dev-1"}}`, "deny"},
		{time.Minute, `{"jurisdiction":"DE","declared":{"age":18},"context":{"device_ref":"dev-1"}}`, "additional_verification_required"},
		// Another device is unaffected.
		{0, `{"jurisdiction":"DE","declared":{"age":18},"context":{"device_ref":"dev-2"}}`, "allow"},
		// The window is 24 hours from the low declaration.
		{23 * time.Hour, `{"jurisdiction":"DE","declared":{"age":18},"context":{"device_ref":"dev-1"}}`, "additional_verification_required"},
		{2 * time.Hour, `{"jurisdiction":"DE","declared":{"age":18},"context":{"device_ref":"dev-1"}}`, "allow"},
	}
	for i, s := range steps {
		e.clock.Advance(s.after)
		resp, body := e.post(t, s.body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("step %d: status %d %s", i, resp.StatusCode, body)
		}
		r := decodeResponse(t, body)
		if string(r.Decision) != s.decision {
			t.Errorf("step %d: decision %s, want %s (%s)", i, r.Decision, s.decision, body)
		}
		if s.decision == "additional_verification_required" && !slices.ContainsFunc(r.Reasons, func(x Reason) bool { return x.Rule == "de.anti-hopping" }) {
			t.Errorf("step %d: no anti-hopping reason: %s", i, body)
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	e := newTestEnv(t)
	valid := `{"jurisdiction":"DE","declared":{"age":20}}`
	auth := "Bearer " + e.key
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    string
		status  int
		code    string
		pointer string
	}{
		{"no key", "POST", "/v1/age-checks", map[string]string{"Content-Type": "application/json"}, valid, 401, CodeMissingCredentials, ""},
		{"not bearer", "POST", "/v1/age-checks", map[string]string{"Authorization": "Basic " + e.key, "Content-Type": "application/json"}, valid, 401, CodeMissingCredentials, ""},
		{"wrong key", "POST", "/v1/age-checks", map[string]string{"Authorization": "Bearer nope", "Content-Type": "application/json"}, valid, 401, CodeInvalidCredentials, ""},
		{"auth before body checks", "POST", "/v1/age-checks", map[string]string{"Authorization": "Bearer nope", "Content-Type": "text/plain"}, "x", 401, CodeInvalidCredentials, ""},
		{"no content type", "POST", "/v1/age-checks", map[string]string{"Authorization": auth}, valid, 415, CodeUnsupportedMediaType, ""},
		{"text/plain", "POST", "/v1/age-checks", map[string]string{"Authorization": auth, "Content-Type": "text/plain"}, valid, 415, CodeUnsupportedMediaType, ""},
		{"latin-1 charset", "POST", "/v1/age-checks", map[string]string{"Authorization": auth, "Content-Type": "application/json; charset=latin1"}, valid, 415, CodeUnsupportedMediaType, ""},
		{"too large", "POST", "/v1/age-checks", map[string]string{"Authorization": auth, "Content-Type": "application/json"},
			`{"jurisdiction":"DE","declared":{"age":20},"context":{"nonce":"` + strings.Repeat("x", MaxBodyBytes) + `"}}`, 413, CodePayloadTooLarge, ""},
		{"malformed", "POST", "/v1/age-checks", map[string]string{"Authorization": auth, "Content-Type": "application/json"}, `{"a`, 400, CodeMalformedJSON, ""},
		{"validation", "POST", "/v1/age-checks", map[string]string{"Authorization": auth, "Content-Type": "application/json; charset=utf-8"},
			`{"jurisdiction":"DE","declared":{"birth_date":"2099-01-01"}}`, 400, CodeValidationFailed, "/declared/birth_date"},
		{"unknown route", "GET", "/v2/nothing", nil, "", 404, CodeNotFound, ""},
		{"wrong method", "GET", "/v1/age-checks", nil, "", 405, CodeMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, tt.method, tt.path, tt.body, tt.headers)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			var p problemBody
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("problem body %s: %v", body, err)
			}
			if p.Status != tt.status || p.Code != tt.code || p.Type != problemTypePrefix+tt.code || p.Title == "" {
				t.Errorf("problem = %+v", p)
			}
			if tt.pointer != "" && (len(p.Errors) == 0 || p.Errors[0].Pointer != tt.pointer) {
				t.Errorf("errors = %+v, want pointer %s", p.Errors, tt.pointer)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// None of those left anything behind.
	if n := e.devices.Len(); n != 0 {
		t.Errorf("device memory holds %d entries after failed requests", n)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	e := newTestEnv(t)
	e.post(t, `{"jurisdiction":"DE","declared":{"age":14}}`)
	tests := []struct {
		path   string
		status int
		want   []string
	}{
		{"/healthz", 200, []string{`"ok"`}},
		{"/readyz", 200, []string{`"ready"`, "sha256:"}},
		{"/openapi.yaml", 200, []string{"openapi: 3", "/v1/age-checks"}},
		{"/metrics", 200, []string{
			`ageassure_http_requests_total{code="200",method="POST",route="/v1/age-checks"} 1`,
			`ageassure_decisions_total{decision="parental_consent_required",jurisdiction="DE"} 1`,
			`ageassure_http_request_duration_seconds_bucket`,
			`ageassure_policy_info{`,
		}},
	}
	for _, tt := range tests {
		resp, body := e.do(t, "GET", tt.path, "", nil)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d", tt.path, resp.StatusCode)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: body lacks %q", tt.path, w)
			}
		}
	}
	e.svc.Drain()
	if resp, _ := e.do(t, "GET", "/readyz", "", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining: %d", resp.StatusCode)
	}
	if resp, _ := e.post(t, `{"jurisdiction":"DE","declared":{"age":14}}`); resp.StatusCode != http.StatusOK {
		t.Errorf("draining must keep serving, got %d", resp.StatusCode)
	}
}
