package service

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	stdjson "encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/adapters/signer"
)

// loadOpenAPI parses and validates the embedded description, examples
// included, so every test below works on a document known to be valid.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("loading openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPISpecIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}

	t.Run("routes", func(t *testing.T) {
		env := newTestEnvWith(t, func(_ *testEnv, o *Options) { o.LogHandler = http.NotFoundHandler() })
		engine, ok := env.svc.Handler().(*gin.Engine)
		if !ok {
			t.Fatalf("Handler() is %T, want *gin.Engine", env.svc.Handler())
		}
		var served, described []string
		for _, r := range engine.Routes() {
			served = append(served, r.Method+" "+ginPathToOpenAPI(r.Path))
		}
		for path, item := range doc.Paths.Map() {
			for method := range item.Operations() {
				described = append(described, method+" "+path)
			}
		}
		slices.Sort(served)
		slices.Sort(described)
		if len(served) == 0 {
			t.Fatal("the handler serves no routes")
		}
		for _, r := range served {
			if !slices.Contains(described, r) {
				t.Errorf("route %s is served but not in openapi.yaml", r)
			}
		}
		for _, r := range described {
			if !slices.Contains(served, r) {
				t.Errorf("operation %s is in openapi.yaml but not served", r)
			}
		}
	})

	// The stable codes are read from problem.go itself, so a code added
	// there without documenting it fails here.
	t.Run("problem codes", func(t *testing.T) {
		codes, fields := stableCodes(t)
		if len(codes) == 0 || len(fields) == 0 {
			t.Fatalf("found %d Code* and %d Field* constants in problem.go", len(codes), len(fields))
		}
		sameSet(t, "ProblemCode enum vs Code* constants", schemaEnum(t, doc, "ProblemCode"), codes)
		sameSet(t, "FieldErrorCode enum vs Field* constants", schemaEnum(t, doc, "FieldErrorCode"), fields)
	})

	t.Run("limits", func(t *testing.T) {
		s := doc.Components.Schemas
		if got := *s["CheckRequest"].Value.Properties["signals"].Value.MaxItems; got != MaxSignals {
			t.Errorf("signals maxItems = %d, want MaxSignals = %d", got, MaxSignals)
		}
		if got := *s["OpaqueRef"].Value.MaxLength; got != MaxRefBytes {
			t.Errorf("OpaqueRef maxLength = %d, want MaxRefBytes = %d", got, MaxRefBytes)
		}
		if got := *s["Declared"].Value.Properties["age"].Value.Max; got != MaxAge {
			t.Errorf("declared.age maximum = %v, want MaxAge = %d", got, MaxAge)
		}
		if got := *s["UserReportsSignal"].Value.Properties["count"].Value.Max; got != maxReportCount {
			t.Errorf("user_reports.count maximum = %v, want %d", got, maxReportCount)
		}
		if !strings.Contains(doc.Paths.Value("/v1/age-checks").Post.Description, strconv.Itoa(MaxBodyBytes)) {
			t.Errorf("POST /v1/age-checks description does not state MaxBodyBytes (%d)", MaxBodyBytes)
		}
	})
}

// ginPathToOpenAPI turns gin's ":name" and "*name" segments into "{name}".
func ginPathToOpenAPI(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// stableCodes returns the values of the Code* and Field* string constants
// declared in problem.go.
func stableCodes(t *testing.T) (codes, fields []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "problem.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case strings.HasPrefix(name.Name, "Code"):
					codes = append(codes, v)
				case strings.HasPrefix(name.Name, "Field"):
					fields = append(fields, v)
				}
			}
		}
	}
	return codes, fields
}

func schemaEnum(t *testing.T, doc *openapi3.T, name string) []string {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil {
		t.Fatalf("no schema %s", name)
	}
	var out []string
	for _, v := range ref.Value.Enum {
		out = append(out, v.(string))
	}
	return out
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(slices.Compact(got), slices.Compact(want)) {
		t.Errorf("%s: got %q, want %q", what, got, want)
	}
}

// specVerdict is what the description itself says about a request.
type specVerdict int

const (
	// specAccepts: the request conforms to openapi.yaml.
	specAccepts specVerdict = iota
	// specRejects: openapi.yaml can express why the request is wrong, and
	// the validator must reject it too.
	specRejects
	// specSilent: the rule is in descriptions only (a byte limit, an
	// unassigned country code, a date relative to today, a duplicate JSON
	// member, a duplicate signal type); the validator may accept it.
	specSilent
)

// exchange is one real request and what must come of it.
type exchange struct {
	name    string
	method  string
	path    string
	body    string
	headers map[string]string // nil: the default for the path (see below)
	chunked bool              // send without a Content-Length
	status  int
	code    string // the problem code, for error answers
	field   string // one errors[].code the answer must contain, if set
	request specVerdict
}

func TestResponsesConformToOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t)
	opts := validationOptions(env.key)

	auth := func(key string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
	}
	signals17 := make([]string, 17)
	for i := range signals17 {
		signals17[i] = `{"type":"user_reports","count":1}`
	}
	bigButValid := `{"jurisdiction":"DE",` + strings.Repeat(" ", MaxBodyBytes) + `"declared":{"age":30}}`

	cases := []exchange{
		// Decisions in several jurisdictions, each a valid request.
		{name: "readme", body: `{"jurisdiction":"DE","declared":{"birth_date":"2012-05-01"},"signals":[{"type":"underage_likelihood","score":0.91},{"type":"user_reports","count":3}],"context":{"stage":"signup","device_ref":"opaque","subject_ref":"opaque","nonce":"opaque"}}`, status: 200},
		{name: "DE adult", body: `{"jurisdiction":"DE","declared":{"age":30}}`, status: 200},
		{name: "DE child", body: `{"jurisdiction":"DE","declared":{"age":9}}`, status: 200},
		{name: "US-UT lower-case", body: `{"jurisdiction":"us-ut","declared":{"age":14}}`, status: 200},
		{name: "US under 13", body: `{"jurisdiction":"US","declared":{"birth_date":"2016-01-31"}}`, status: 200},
		{name: "GB-SCT reassessment", body: `{"jurisdiction":"GB-SCT","declared":{"age":15},"context":{"stage":"reassessment","nonce":"n-1"}}`, status: 200},
		{name: "FR", body: `{"jurisdiction":"FR","declared":{"age":14},"signals":[]}`, status: 200},
		{name: "AU-NSW", body: `{"jurisdiction":"AU-NSW","declared":{"age":16},"signals":[{"type":"user_reports","count":0}]}`, status: 200},
		{name: "MX default pack", body: `{"jurisdiction":"MX","declared":{"age":17}}`, status: 200},
		{name: "IT subdivision of an unlisted country", body: `{"jurisdiction":"IT-RM","declared":{"age":40}}`, status: 200},
		{name: "leap-day birth", body: `{"jurisdiction":"CA-QC","declared":{"birth_date":"2008-02-29"},"signals":[{"type":"underage_likelihood","score":0}]}`, status: 200},
		{name: "age 130", body: `{"jurisdiction":"JP","declared":{"age":130},"context":{"device_ref":"d"}}`, status: 200},
		// Known divergence: the decoder treats null as an absent member, so
		// the service accepts what openapi.yaml (no nullable members) rejects.
		{name: "null optional members", body: `{"jurisdiction":"DE","declared":{"age":14,"birth_date":null},"signals":null,"context":{"stage":null,"nonce":null}}`, status: 200, request: specRejects},
		{name: "credential without provider", body: `{"jurisdiction":"GB","declared":{"age":19},"evidence":[{"type":"digital_credential","token":"a~b~c"}],"context":{"nonce":"n-2"}}`, status: 200},
		{name: "open range as upper 0", body: `{"jurisdiction":"GB","declared":{"age":19},"evidence":[{"type":"platform_age_range","lower":18,"upper":0,"source":"self_declared"}]}`, status: 200},
		{name: "charset utf-8", body: `{"jurisdiction":"DE","declared":{"age":30}}`, status: 200,
			headers: map[string]string{"Authorization": "Bearer " + env.key, "Content-Type": "application/json; charset=UTF-8"}},
		{name: "lower-case bearer", body: `{"jurisdiction":"DE","declared":{"age":30}}`, status: 200,
			headers: map[string]string{"Authorization": "bearer " + env.key, "Content-Type": "application/json"}},

		// 400 malformed_json.
		{name: "not JSON", body: `{"jurisdiction":`, status: 400, code: CodeMalformedJSON, field: FieldMalformedJSON, request: specRejects},
		{name: "trailing data", body: `{"jurisdiction":"DE","declared":{"age":30}} x`, status: 400, code: CodeMalformedJSON, field: FieldMalformedJSON, request: specSilent},
		{name: "invalid UTF-8", body: "{\"jurisdiction\":\"DE\",\"declared\":{\"age\":30},\"context\":{\"nonce\":\"\xff\"}}", status: 400, code: CodeMalformedJSON, field: FieldMalformedJSON, request: specSilent},
		{name: "duplicate member", body: `{"jurisdiction":"DE","jurisdiction":"FR","declared":{"age":30}}`, status: 400, code: CodeMalformedJSON, field: FieldDuplicate, request: specSilent},
		{name: "empty body", body: ``, status: 400, code: CodeMalformedJSON, request: specRejects},

		// 400 validation_failed, one class each.
		{name: "unknown member", body: `{"jurisdiction":"DE","declared":{"age":30},"photo":{}}`, status: 400, code: CodeValidationFailed, field: FieldUnknown, request: specRejects},
		{name: "unknown nested member", body: `{"jurisdiction":"DE","declared":{"age":30,"month":1}}`, status: 400, code: CodeValidationFailed, field: FieldUnknown, request: specRejects},
		{name: "wrong type", body: `{"jurisdiction":276,"declared":{"age":30}}`, status: 400, code: CodeValidationFailed, field: FieldInvalidType, request: specRejects},
		{name: "array body", body: `[]`, status: 400, code: CodeValidationFailed, field: FieldInvalidType, request: specRejects},
		// JSON Schema counts 14.0 as an integer; the decoder does not.
		{name: "integral float age", body: `{"jurisdiction":"DE","declared":{"age":14.0}}`, status: 400, code: CodeValidationFailed, field: FieldInvalidType, request: specSilent},
		{name: "fractional age", body: `{"jurisdiction":"DE","declared":{"age":14.5}}`, status: 400, code: CodeValidationFailed, field: FieldInvalidType, request: specRejects},
		{name: "missing everything", body: `{}`, status: 400, code: CodeValidationFailed, field: FieldRequired, request: specRejects},
		{name: "empty jurisdiction", body: `{"jurisdiction":"","declared":{"age":30}}`, status: 400, code: CodeValidationFailed, field: FieldRequired, request: specRejects},
		{name: "invalid jurisdiction", body: `{"jurisdiction":"DEU","declared":{"age":30}}`, status: 400, code: CodeValidationFailed, field: FieldInvalidJurisdiction, request: specRejects},
		{name: "unknown jurisdiction", body: `{"jurisdiction":"UK","declared":{"age":30}}`, status: 400, code: CodeValidationFailed, field: FieldUnknownJurisdiction, request: specSilent},
		{name: "unknown subdivision", body: `{"jurisdiction":"US-UTT","declared":{"age":30}}`, status: 400, code: CodeValidationFailed, field: FieldUnknownJurisdiction, request: specSilent},
		{name: "invalid birth date", body: `{"jurisdiction":"DE","declared":{"birth_date":"2023-02-29"}}`, status: 400, code: CodeValidationFailed, field: FieldInvalidBirthDate, request: specRejects},
		{name: "birth date not a date", body: `{"jurisdiction":"DE","declared":{"birth_date":"01/05/2012"}}`, status: 400, code: CodeValidationFailed, field: FieldInvalidBirthDate, request: specRejects},
		{name: "future birth date", body: `{"jurisdiction":"DE","declared":{"birth_date":"2030-01-01"}}`, status: 400, code: CodeValidationFailed, field: FieldFutureBirthDate, request: specSilent},
		{name: "age over 130", body: `{"jurisdiction":"DE","declared":{"age":131}}`, status: 400, code: CodeValidationFailed, field: FieldAgeOutOfRange, request: specRejects},
		{name: "negative age", body: `{"jurisdiction":"DE","declared":{"age":-1}}`, status: 400, code: CodeValidationFailed, field: FieldAgeOutOfRange, request: specRejects},
		{name: "birth date over 130 years ago", body: `{"jurisdiction":"DE","declared":{"birth_date":"1890-01-01"}}`, status: 400, code: CodeValidationFailed, field: FieldAgeOutOfRange, request: specSilent},
		{name: "declared both", body: `{"jurisdiction":"DE","declared":{"birth_date":"2000-01-01","age":26}}`, status: 400, code: CodeValidationFailed, field: FieldDeclaredBoth, request: specRejects},
		{name: "declared neither", body: `{"jurisdiction":"DE","declared":{}}`, status: 400, code: CodeValidationFailed, field: FieldDeclaredNeither, request: specRejects},
		{name: "invalid stage", body: `{"jurisdiction":"DE","declared":{"age":30},"context":{"stage":"login"}}`, status: 400, code: CodeValidationFailed, field: FieldInvalidStage, request: specRejects},
		{name: "empty reference", body: `{"jurisdiction":"DE","declared":{"age":30},"context":{"device_ref":""}}`, status: 400, code: CodeValidationFailed, field: FieldEmpty, request: specRejects},
		{name: "reference too long", body: `{"jurisdiction":"DE","declared":{"age":30},"context":{"nonce":"` + strings.Repeat("n", MaxRefBytes+1) + `"}}`, status: 400, code: CodeValidationFailed, field: FieldTooLong, request: specRejects},
		{name: "too many signals", body: `{"jurisdiction":"DE","declared":{"age":30},"signals":[` + strings.Join(signals17, ",") + `]}`, status: 400, code: CodeValidationFailed, field: FieldTooMany, request: specRejects},
		{name: "unknown signal type", body: `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"vibes","score":1}]}`, status: 400, code: CodeValidationFailed, field: FieldUnknownSignalType, request: specRejects},
		{name: "signal without type", body: `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"score":1}]}`, status: 400, code: CodeValidationFailed, field: FieldRequired, request: specRejects},
		{name: "duplicate signal", body: `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"user_reports","count":1},{"type":"user_reports","count":2}]}`, status: 400, code: CodeValidationFailed, field: FieldDuplicateSignal, request: specSilent},
		{name: "score out of range", body: `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"underage_likelihood","score":1.5}]}`, status: 400, code: CodeValidationFailed, field: FieldInvalidSignalValue, request: specRejects},
		{name: "count out of range", body: `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"user_reports","count":1000001}]}`, status: 400, code: CodeValidationFailed, field: FieldInvalidSignalValue, request: specRejects},
		{name: "missing score", body: `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"underage_likelihood"}]}`, status: 400, code: CodeValidationFailed, field: FieldRequired, request: specRejects},
		{name: "other type's value", body: `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"user_reports","count":1,"score":0.5}]}`, status: 400, code: CodeValidationFailed, field: FieldUnexpectedSignalData, request: specRejects},
		{name: "every structural error at once", body: `{"jurisdiction":276,"declared":{"age":"30","month":1},"photo":{},"signals":[{"type":"user_reports","count":1,"weight":1}]}`, status: 400, code: CodeValidationFailed, field: FieldUnknown, request: specRejects},
		{name: "every error at once", body: `{"jurisdiction":"UK","declared":{"age":200},"signals":[{"type":"x"}],"context":{"stage":"","subject_ref":""}}`, status: 400, code: CodeValidationFailed, field: FieldEmpty, request: specRejects},

		// 401, 413, 415.
		{name: "no credentials", body: `{"jurisdiction":"DE","declared":{"age":30}}`, headers: map[string]string{"Content-Type": "application/json"}, status: 401, code: CodeMissingCredentials, request: specRejects},
		{name: "basic credentials", body: `{"jurisdiction":"DE","declared":{"age":30}}`, headers: map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "Content-Type": "application/json"}, status: 401, code: CodeMissingCredentials, request: specRejects},
		{name: "unknown key", body: `{"jurisdiction":"DE","declared":{"age":30}}`, headers: auth("not-a-key"), status: 401, code: CodeInvalidCredentials, request: specRejects},
		{name: "too large", body: bigButValid, status: 413, code: CodePayloadTooLarge, request: specSilent},
		{name: "too large, chunked", body: bigButValid, chunked: true, status: 413, code: CodePayloadTooLarge, request: specSilent},
		{name: "text/plain", body: `{"jurisdiction":"DE","declared":{"age":30}}`, headers: map[string]string{"Authorization": "Bearer " + env.key, "Content-Type": "text/plain"}, status: 415, code: CodeUnsupportedMediaType, request: specRejects},
		{name: "latin-1 charset", body: `{"jurisdiction":"DE","declared":{"age":30}}`, headers: map[string]string{"Authorization": "Bearer " + env.key, "Content-Type": "application/json; charset=iso-8859-1"}, status: 415, code: CodeUnsupportedMediaType, request: specSilent},
		{name: "no content type", body: `{"jurisdiction":"DE","declared":{"age":30}}`, headers: map[string]string{"Authorization": "Bearer " + env.key}, status: 415, code: CodeUnsupportedMediaType, request: specRejects},

		// 404 and 405: not operations, checked against the shared responses.
		{name: "unknown path", method: "GET", path: "/v2/age-checks", status: 404, code: CodeNotFound},
		{name: "trailing slash", method: "POST", path: "/v1/age-checks/", body: `{}`, status: 404, code: CodeNotFound},
		{name: "GET age-checks", method: "GET", path: "/v1/age-checks", status: 405, code: CodeMethodNotAllowed},
		{name: "POST healthz", method: "POST", path: "/healthz", status: 405, code: CodeMethodNotAllowed},
		{name: "DELETE jwks", method: "DELETE", path: "/.well-known/jwks.json", status: 405, code: CodeMethodNotAllowed},

		// The other operations.
		{name: "jwks", method: "GET", path: "/.well-known/jwks.json", status: 200},
		{name: "openapi.yaml", method: "GET", path: "/openapi.yaml", status: 200},
		{name: "healthz", method: "GET", path: "/healthz", status: 200},
		{name: "readyz", method: "GET", path: "/readyz", status: 200},
		{name: "metrics", method: "GET", path: "/metrics", status: 200},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.method == "" {
				tc.method, tc.path = http.MethodPost, "/v1/age-checks"
				if tc.headers == nil {
					tc.headers = auth(env.key)
				}
			}
			resp, body := send(t, env.srv, tc)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			checkProblemCode(t, tc, body)
			checkExchange(t, doc, router, opts, tc, resp, body)
			if tc.status == http.StatusOK && tc.path == "/v1/age-checks" {
				checkAttestation(t, doc, body)
			}
		})
	}

	t.Run("readyz draining", func(t *testing.T) {
		env := newTestEnv(t)
		env.svc.Drain()
		tc := exchange{method: "GET", path: "/readyz", status: 503}
		resp, body := send(t, env.srv, tc)
		if resp.StatusCode != tc.status {
			t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
		}
		checkExchange(t, doc, router, opts, tc, resp, body)
	})

	t.Run("overloaded", func(t *testing.T) {
		g := newGate()
		env := newOneSlotEnv(t, g, 10*time.Millisecond, holdSlot(g))
		held := postAsync(t, env, slotCheck)
		g.arrived(t, "the check holding the slot")
		tc := exchange{body: `{"jurisdiction":"DE","declared":{"age":30}}`, status: 503, code: CodeOverloaded,
			method: http.MethodPost, path: "/v1/age-checks", headers: auth(env.key)}
		resp, body := send(t, env.srv, tc)
		if resp.StatusCode != tc.status {
			t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
		}
		checkProblemCode(t, tc, body)
		checkExchange(t, doc, router, validationOptions(env.key), tc, resp, body)
		g.release()
		receive(t, held)
	})

	t.Run("jwks with P-256 and retired Ed25519 keys", func(t *testing.T) {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := signer.New(ec, ed)
		if err != nil {
			t.Fatal(err)
		}
		key, tenants, err := DevTenant("acme")
		if err != nil {
			t.Fatal(err)
		}
		svc, err := New(Options{
			Policy:  builtinPolicy(t),
			Signer:  sig,
			Devices: localcache.NewDeviceMemory(localcache.Options{MaxEntries: 10}),
			Cache:   localcache.NewKV(localcache.Options{MaxEntries: 10}),
			Tenants: tenants,
			Clock:   func() time.Time { return fixedNow },
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(svc.Handler())
		defer srv.Close()

		jwks := exchange{method: "GET", path: "/.well-known/jwks.json", status: 200}
		resp, body := send(t, srv, jwks)
		if !bytes.Contains(body, []byte(`"EC"`)) || !bytes.Contains(body, []byte(`"OKP"`)) {
			t.Fatalf("want an EC and an OKP key, got %s", body)
		}
		checkExchange(t, doc, router, validationOptions(key), jwks, resp, body)

		check := exchange{method: "POST", path: "/v1/age-checks", body: `{"jurisdiction":"DE","declared":{"age":30}}`,
			headers: auth(key), status: 200}
		resp, body = send(t, srv, check)
		checkExchange(t, doc, router, validationOptions(key), check, resp, body)
		if h := checkAttestation(t, doc, body); h["alg"] != "ES256" {
			t.Errorf("attestation alg = %v, want ES256", h["alg"])
		}
	})

	t.Run("validator rejects wrong answers", func(t *testing.T) {
		testValidatorRejects(t, doc, router, env, opts)
	})
}

// validationOptions makes the validator check what the service checks for
// bearerAuth, and fail on any status the description does not list.
func validationOptions(key string) *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if in.SecuritySchemeName != "bearerAuth" {
				return in.NewError(errors.New("unexpected security scheme " + in.SecuritySchemeName))
			}
			scheme, k, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
			if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(k) != key {
				return in.NewError(errors.New("no valid bearer API key"))
			}
			return nil
		},
	}
}

// newRequest builds the request tc describes against base.
func newRequest(t *testing.T, base string, tc exchange) *http.Request {
	t.Helper()
	var body io.Reader = strings.NewReader(tc.body)
	if tc.chunked {
		body = io.MultiReader(body) // hides the length: sent chunked
	}
	req, err := http.NewRequest(tc.method, base+tc.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tc.headers {
		req.Header.Set(k, v)
	}
	return req
}

func send(t *testing.T, srv *httptest.Server, tc exchange) (*http.Response, []byte) {
	t.Helper()
	resp, err := srv.Client().Do(newRequest(t, srv.URL, tc))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// checkProblemCode makes sure each case tests what its name says.
func checkProblemCode(t *testing.T, tc exchange, body []byte) {
	t.Helper()
	if tc.code == "" {
		return
	}
	var p problemBody
	if err := stdjson.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Code != tc.code {
		t.Errorf("code %q, want %q; body %s", p.Code, tc.code, body)
	}
	if tc.field != "" && !slices.ContainsFunc(p.Errors, func(e FieldError) bool { return e.Code == tc.field }) {
		t.Errorf("errors lack code %q; body %s", tc.field, body)
	}
}

// checkExchange validates the request (as tc.request says) and the response
// against the description. Paths and methods the description does not have
// must be unknown to its router too, and their answers must match the shared
// NotFound and MethodNotAllowed responses.
func checkExchange(t *testing.T, doc *openapi3.T, router routers.Router, opts *openapi3filter.Options, tc exchange, resp *http.Response, body []byte) {
	t.Helper()
	ctx := context.Background()
	req := newRequest(t, "http://ageassure.invalid", tc)
	route, params, err := router.FindRoute(req)
	switch tc.status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		want, component := routers.ErrPathNotFound, "NotFound"
		if tc.status == http.StatusMethodNotAllowed {
			want, component = routers.ErrMethodNotAllowed, "MethodNotAllowed"
		}
		// kin-openapi's router ignores a trailing slash; the description
		// (and the service) does not.
		lenient := err == nil && tc.status == http.StatusNotFound && route.Path != req.URL.Path
		if !lenient && (err == nil || err.Error() != want.Error()) {
			t.Fatalf("router: %v, want %v", err, want)
		}
		route = &routers.Route{Spec: doc, Path: tc.path, Method: tc.method, Operation: &openapi3.Operation{
			Responses: openapi3.NewResponses(openapi3.WithStatus(tc.status, doc.Components.Responses[component])),
		}}
	default:
		if err != nil {
			t.Fatalf("router: %v", err)
		}
	}

	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if tc.status != http.StatusNotFound && tc.status != http.StatusMethodNotAllowed {
		err := openapi3filter.ValidateRequest(ctx, in)
		switch tc.request {
		case specAccepts:
			if err != nil {
				t.Errorf("the service accepted a request openapi.yaml rejects: %v", err)
			}
		case specRejects:
			if err == nil {
				t.Errorf("openapi.yaml accepts this request, which it should reject (the service answers %d)", tc.status)
			}
		}
	}

	if err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	}); err != nil {
		t.Errorf("response does not conform to openapi.yaml: %v\n%s %s\n%s", err, resp.Status, resp.Header, truncate(body))
	}
}

// checkAttestation validates the attestation's header and claims against
// the AttestationHeader and AttestationClaims schemas and returns the header.
func checkAttestation(t *testing.T, doc *openapi3.T, body []byte) map[string]any {
	t.Helper()
	var r struct {
		Attestation string `json:"attestation"`
	}
	if err := stdjson.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(r.Attestation, ".")
	if len(parts) != 3 {
		t.Fatalf("attestation %q is not a compact JWS", r.Attestation)
	}
	var header map[string]any
	for i, schema := range []string{"AttestationHeader", "AttestationClaims"} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		var v map[string]any
		if err := stdjson.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		if err := doc.Components.Schemas[schema].Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
			t.Errorf("attestation %s does not conform to openapi.yaml: %v\n%s", schema, err, raw)
		}
		if i == 0 {
			header = v
		}
	}
	return header
}

// testValidatorRejects proves the conformance checks can fail: real answers,
// each corrupted in one way the description forbids, must be rejected.
func testValidatorRejects(t *testing.T, doc *openapi3.T, router routers.Router, env *testEnv, opts *openapi3filter.Options) {
	ctx := context.Background()
	valid := exchange{method: "POST", path: "/v1/age-checks", body: `{"jurisdiction":"DE","declared":{"age":30}}`,
		headers: map[string]string{"Authorization": "Bearer " + env.key, "Content-Type": "application/json"}, status: 200}
	resp, okBody := send(t, env.srv, valid)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, okBody)
	}
	unauth := exchange{method: "POST", path: "/v1/age-checks", body: `{}`, status: 401}
	resp401, body401 := send(t, env.srv, unauth)
	if resp401.StatusCode != 401 {
		t.Fatalf("status %d: %s", resp401.StatusCode, body401)
	}
	invalid := exchange{method: "POST", path: "/v1/age-checks", body: `{"jurisdiction":"DE","declared":{"age":300}}`,
		headers: valid.headers, status: 400}
	resp400, body400 := send(t, env.srv, invalid)
	if resp400.StatusCode != 400 {
		t.Fatalf("status %d: %s", resp400.StatusCode, body400)
	}

	mutate := func(body []byte, f func(m map[string]any)) []byte {
		var m map[string]any
		if err := stdjson.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := stdjson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	without := func(h http.Header, name string) http.Header {
		h = h.Clone()
		h.Del(name)
		return h
	}
	type bad struct {
		name   string
		tc     exchange
		status int
		header http.Header
		body   []byte
	}
	bads := []bad{
		{"decision not in the enum", valid, 200, resp.Header,
			mutate(okBody, func(m map[string]any) { m["decision"] = "maybe" })},
		{"age_band not in the enum", valid, 200, resp.Header,
			mutate(okBody, func(m map[string]any) { m["age_band"] = "adult" })},
		{"threshold not a boolean", valid, 200, resp.Header,
			mutate(okBody, func(m map[string]any) { m["age_equal_or_over"].(map[string]any)["18"] = "yes" })},
		{"missing attestation", valid, 200, resp.Header,
			mutate(okBody, func(m map[string]any) { delete(m, "attestation") })},
		{"undocumented member", valid, 200, resp.Header,
			mutate(okBody, func(m map[string]any) { m["age"] = 30 })},
		{"bad policy hash", valid, 200, resp.Header,
			mutate(okBody, func(m map[string]any) { m["policy"].(map[string]any)["hash"] = "md5:00" })},
		{"obligations null", valid, 200, resp.Header,
			mutate(okBody, func(m map[string]any) { m["obligations"] = nil })},
		{"no Cache-Control", valid, 200, without(resp.Header, "Cache-Control"), okBody},
		{"wrong content type", valid, 200, func() http.Header {
			h := resp.Header.Clone()
			h.Set("Content-Type", "text/html")
			return h
		}(), okBody},
		{"undocumented status", valid, 418, resp.Header, okBody},
		{"problem code not for 400", invalid, 400, resp400.Header,
			mutate(body400, func(m map[string]any) { m["code"] = CodeNotFound })},
		{"field code not in the enum", invalid, 400, resp400.Header,
			mutate(body400, func(m map[string]any) { m["errors"].([]any)[0].(map[string]any)["code"] = "too_old" })},
		{"401 without WWW-Authenticate", unauth, 401, without(resp401.Header, "WWW-Authenticate"), body401},
		{"401 with a 400 status member", unauth, 401, resp401.Header,
			mutate(body401, func(m map[string]any) { m["status"] = 400 })},
	}
	for _, b := range bads {
		t.Run(b.name, func(t *testing.T) {
			req := newRequest(t, "http://ageassure.invalid", b.tc)
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatal(err)
			}
			err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
				Status:                 b.status,
				Header:                 b.header,
				Body:                   io.NopCloser(bytes.NewReader(b.body)),
				Options:                opts,
			})
			if err == nil {
				t.Errorf("the validator accepted a corrupted answer:\n%d %v\n%s", b.status, b.header, truncate(b.body))
			}
		})
	}

	// The same holds for the attestation schemas.
	for _, name := range []string{"AttestationClaims", "AttestationHeader"} {
		if err := doc.Components.Schemas[name].Value.VisitJSON(map[string]any{"decision": "maybe"}); err == nil {
			t.Errorf("%s accepts a corrupted value", name)
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
