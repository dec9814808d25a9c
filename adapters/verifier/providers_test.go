package verifier

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLoadProvidersExample(t *testing.T) {
	ps, err := LoadProviders(filepath.Join("testdata", "providers.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ps.Len() != 4 {
		t.Fatalf("Len = %d, want 4", ps.Len())
	}
	got, ok := ps.Lookup("faceage")
	if !ok {
		t.Fatal("faceage missing")
	}
	want := Provider{
		ID: "faceage", Types: []string{"age_estimation"}, Issuer: "https://api.faceage.example",
		JWKSURL: "https://api.faceage.example/.well-known/jwks.json", Algorithms: []string{"ES256"},
		Audience: "ageassure-prod", MaxTokenAge: 10 * time.Minute, Leeway: DefaultLeeway,
		Claims: ClaimNames{Estimate: "estimated_age", Uncertainty: "estimated_age_error", Liveness: "liveness_passed",
			BirthDate: "birthdate", OverPrefix: "age_over_", Consent: "consent", Nonce: "nonce"},
		Timeout: 1500 * time.Millisecond, Breaker: Breaker{Failures: 5, Open: 30 * time.Second}, Refresh: 15 * time.Minute,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("faceage (-want +got):\n%s", diff)
	}
	g, _ := ps.Lookup("guardian")
	if g.Leeway != 10*time.Second || g.Timeout != DefaultTimeout || g.Breaker != (Breaker{DefaultBreakerFailures, DefaultBreakerOpen}) || len(g.JWKS) == 0 {
		t.Errorf("guardian defaults: %+v", g)
	}
	if _, err := parseKeyring(g.JWKS, true); err != nil {
		t.Errorf("guardian inline jwks: %v", err)
	}
	d, _ := ps.Lookup("docscan")
	if !d.RequireNonce || d.Claims.OverPrefix != "is_over_" || d.Claims.BirthDate != "birth_date" {
		t.Errorf("docscan: %+v", d)
	}
}

// TestProvidersDocExample keeps the README's example providers file and the tested
// one identical.
func TestProvidersDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(filepath.Join("testdata", "providers.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(ex)+"```") {
		t.Error("README.md does not contain testdata/providers.example.yaml verbatim in a yaml block")
	}
	for _, r := range Reasons() {
		if !strings.Contains(string(doc), "`"+r+"`") {
			t.Errorf("README.md does not document reason %q", r)
		}
	}
}

const okKey = `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"_KA5i8XsHsW9aIDpiJGevhCWRy_-SfhgUcYZxD3DWgc"}]}`

func TestParseProvidersErrors(t *testing.T) {
	base := func(extra string) string {
		return "providers:\n" +
			"  - id: p1\n" +
			"    types: [age_estimation]\n" +
			"    issuer: https://p1.example\n" +
			"    jwks_url: https://p1.example/jwks\n" +
			"    algorithms: [EdDSA]\n" +
			"    audience: us\n" + extra
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "p.yaml: invalid providers: empty file"},
		{"no list", "other: 1\n", "p.yaml:1: invalid providers: unknown field \"other\""},
		{"not YAML", "providers: [\n", "p.yaml:1: invalid providers: did not find expected node content"},
		{"unknown field", base("    audiance: x\n"), "p.yaml:8: invalid providers: unknown field \"audiance\""},
		{"unknown claim name field", base("    claims: {estimat: x}\n"), "p.yaml:8: invalid providers: unknown field \"estimat\""},
		{"repeated key", base("    audience: again\n"), "p.yaml:8:"},
		{"duration without unit", base("    timeout: 2\n"), "p.yaml:8: invalid providers: \"2\" is not a duration"},
		{"negative duration", base("    leeway: -1s\n"), "p.yaml:8: invalid providers: duration \"-1s\" is negative"},
		{"two documents", base("---\nproviders: []\n"), "more than one YAML document"},
		{"bad id", strings.Replace(base(""), "id: p1", "id: P 1", 1), "p.yaml:2: invalid providers: provider \"P 1\": id:"},
		{"no types", strings.Replace(base(""), "types: [age_estimation]", "types: []", 1), "p.yaml:3: invalid providers: provider \"p1\": types: at least one"},
		{"platform range", strings.Replace(base(""), "[age_estimation]", "[platform_age_range]", 1), "p.yaml:3: invalid providers: provider \"p1\": types: platform_age_range is an unsigned declaration"},
		{"unknown type", strings.Replace(base(""), "[age_estimation]", "[age_guess]", 1), "types: unknown evidence type \"age_guess\""},
		{"no issuer", strings.Replace(base(""), "    issuer: https://p1.example\n", "", 1), "p.yaml:2: invalid providers: provider \"p1\": issuer: required"},
		{"alg none", strings.Replace(base(""), "[EdDSA]", "[EdDSA, none]", 1), "p.yaml:6: invalid providers: provider \"p1\": algorithms: \"none\" is never allowed"},
		{"alg HS256", strings.Replace(base(""), "[EdDSA]", "[HS256]", 1), "algorithms: \"HS256\" is never allowed"},
		{"alg unknown", strings.Replace(base(""), "[EdDSA]", "[ES999]", 1), "algorithms: unknown algorithm \"ES999\""},
		{"no algorithms", strings.Replace(base(""), "    algorithms: [EdDSA]\n", "", 1), "algorithms: required"},
		{"both key sources", base("    jwks: '" + okKey + "'\n"), "p.yaml:8: invalid providers: provider \"p1\": jwks: set either jwks_url or jwks"},
		{"no key source", strings.Replace(base(""), "    jwks_url: https://p1.example/jwks\n", "", 1), "jwks_url: required"},
		{"plain http", strings.Replace(base(""), "https://p1.example/jwks", "http://p1.example/jwks", 1), "p.yaml:5: invalid providers: provider \"p1\": jwks_url: \"http://p1.example/jwks\": plain http is only allowed on loopback"},
		{"private key inline", strings.Replace(base(""), "    jwks_url: https://p1.example/jwks\n", "    jwks: '{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}]}'\n", 1), "jwks: key 0: holds a private key"},
		{"oct key inline", strings.Replace(base(""), "    jwks_url: https://p1.example/jwks\n", "    jwks: {keys: [{kty: oct, k: c2VjcmV0}]}\n", 1), "jwks: key 0: symmetric (oct) keys are never accepted"},
		{"garbage inline", strings.Replace(base(""), "    jwks_url: https://p1.example/jwks\n", "    jwks: [1, 2]\n", 1), "jwks: must be a JWK Set"},
		{"no audience", strings.Replace(base(""), "    audience: us\n", "", 1), "p.yaml:2: invalid providers: provider \"p1\": audience: required for age_estimation tokens"},
		{"leeway too long", base("    leeway: 1h\n"), "p.yaml:8: invalid providers: provider \"p1\": leeway: 1h0m0s is outside"},
		{"timeout too long", base("    timeout: 5m\n"), "timeout: 5m0s is outside"},
		{"breaker failures", base("    breaker: {failures: 0}\n"), "breaker: failures 0 is outside 1..1000"},
		{"refresh too short", base("    refresh: 10ms\n"), "refresh: 10ms is below 1s"},
		{"vct on a non-credential provider", base("    vct: [x]\n"), "vct: only applies to digital_credential providers"},
		{"duplicate id", base("") + strings.TrimPrefix(base(""), "providers:\n"), "p.yaml:8: invalid providers: provider id \"p1\" repeats provider #1"},
		{"duplicate credential issuer", "providers:\n" +
			"  - {id: a, types: [digital_credential], issuer: https://i.example, jwks_url: https://i.example/k, algorithms: [ES256]}\n" +
			"  - {id: b, types: [digital_credential], issuer: https://i.example, jwks_url: https://i.example/k, algorithms: [ES256]}\n",
			"p.yaml:3: invalid providers: provider \"b\": issuer \"https://i.example\" is already the trusted credential issuer of provider \"a\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProviders([]byte(tt.in), "p.yaml")
			if err == nil {
				t.Fatal("ParseProviders succeeded")
			}
			if !errors.Is(err, ErrInvalidProviders) {
				t.Errorf("error does not wrap ErrInvalidProviders: %v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is more than one line: %q", msg)
			}
		})
	}
}

func TestParseProvidersLeewayZero(t *testing.T) {
	in := "providers:\n  - {id: p, types: [age_estimation], issuer: i, jwks: '" + okKey + "', algorithms: [EdDSA], audience: a, leeway: 0s}\n"
	ps, err := ParseProviders([]byte(in), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := ps.Lookup("p"); p.Leeway != 0 {
		t.Errorf("leeway = %v, want 0 (set explicitly)", p.Leeway)
	}
}

func TestNewProvidersDefaults(t *testing.T) {
	ps, err := NewProviders([]Provider{{ID: "p", Types: []string{"digital_credential"}, Issuer: "i", JWKS: []byte(okKey), Algorithms: []string{"EdDSA"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ps.Lookup("p")
	want := Provider{ID: "p", Types: []string{"digital_credential"}, Issuer: "i", JWKS: []byte(okKey), Algorithms: []string{"EdDSA"},
		Leeway: DefaultLeeway, Timeout: DefaultTimeout, Refresh: DefaultRefresh, Claims: DefaultClaimNames(),
		Breaker: Breaker{Failures: DefaultBreakerFailures, Open: DefaultBreakerOpen}}
	if diff := cmp.Diff(want, p, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := NewProviders([]Provider{{ID: "p"}}); !errors.Is(err, ErrInvalidProviders) {
		t.Errorf("invalid provider: %v", err)
	}
	if _, ok := (*Providers)(nil).Lookup("x"); ok {
		t.Error("nil Providers found something")
	}
}
