package verifier

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ageassure/ageassure/policy"
	"go.yaml.in/yaml/v3"
)

// Defaults applied to fields a provider leaves out.
const (
	DefaultLeeway          = 30 * time.Second
	DefaultTimeout         = 2 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerOpen     = 30 * time.Second
	DefaultRefresh         = 15 * time.Minute
	// DefaultKeyBindingMaxAge bounds the iat of an SD-JWT key-binding JWT
	// when a digital_credential provider sets no max_token_age: a
	// presentation is made for one request, seconds before it.
	DefaultKeyBindingMaxAge = 5 * time.Minute
)

// Bounds on configurable durations, so that a typo ("30m" for "30s") is an
// error rather than a verifier that waits half an hour.
const (
	maxLeeway  = 5 * time.Minute
	maxTimeout = time.Minute
	minRefresh = time.Second
)

// ClaimNames are the payload claims a provider's tokens carry their results
// in. Providers name things differently; the defaults are the names
// ageassure suggests.
type ClaimNames struct {
	// Estimate is the estimated age in years, a number (age_estimation).
	// Default "age_estimate".
	Estimate string `yaml:"estimate"`
	// Uncertainty is the ± years of Estimate, a number; absent means 0.
	// Default "age_estimate_uncertainty".
	Uncertainty string `yaml:"uncertainty"`
	// Liveness is a boolean: the estimate was taken with a liveness check;
	// absent means false. Default "liveness".
	Liveness string `yaml:"liveness"`
	// BirthDate is a "YYYY-MM-DD" string (id_document). Default "birthdate"
	// (the OpenID Connect name).
	BirthDate string `yaml:"birthdate"`
	// OverPrefix prefixes boolean threshold claims: "age_over_" reads
	// age_over_13, age_over_18, … (id_document, digital_credential).
	// Default "age_over_".
	OverPrefix string `yaml:"over_prefix"`
	// Consent is a boolean that must be true (parental_consent). Default
	// "consent".
	Consent string `yaml:"consent"`
	// Nonce is the string that binds a token to the request's nonce.
	// Default "nonce".
	Nonce string `yaml:"nonce"`
}

// DefaultClaimNames returns the claim names used where a provider sets none.
func DefaultClaimNames() ClaimNames {
	return ClaimNames{
		Estimate:    "age_estimate",
		Uncertainty: "age_estimate_uncertainty",
		Liveness:    "liveness",
		BirthDate:   "birthdate",
		OverPrefix:  "age_over_",
		Consent:     "consent",
		Nonce:       "nonce",
	}
}

// Breaker configures the circuit breaker in front of a provider's JWKS
// endpoint: after Failures consecutive failed fetches it opens, and for
// Open no fetch is attempted (evidence needing new keys is unverifiable at
// once instead of after a timeout); then one probe decides.
type Breaker struct {
	Failures uint32        // default 5
	Open     time.Duration // default 30s
}

// Provider is one age-assurance provider, wallet issuer or consent service
// whose signed tokens ageassure verifies. See the README ("The providers file") for the file
// format; the fields mirror it.
type Provider struct {
	// ID names the provider in requests ("provider": "<id>") and in logs;
	// a lower-case slug.
	ID string
	// Types are the evidence types the provider's tokens may be used as:
	// age_estimation, id_document, digital_credential, parental_consent. A
	// token offered as another type is refused (type_not_allowed), so a key
	// trusted for consent cannot vouch for an age.
	Types []string
	// Issuer must equal the tokens' iss. For digital_credential it is also
	// how a credential finds its provider: the trusted issuer list.
	Issuer string
	// JWKSURL is where the provider publishes its JWK Set (https, or http
	// on a loopback address for tests). Exactly one of JWKSURL and JWKS.
	// A fetch follows at most three redirects, each to a URL this rule
	// accepts, and none from https to plain http.
	JWKSURL string
	// JWKS is an inline JWK Set (JSON) of public keys, for providers that
	// publish no endpoint or for pinning.
	JWKS []byte
	// Algorithms are the JWS algorithms accepted from this provider; "none"
	// and HMAC (HS*) are never accepted, whatever is configured.
	Algorithms []string
	// Audience must be one of the tokens' aud values. Required for
	// age_estimation, id_document and parental_consent; for
	// digital_credential it is optional (an SD-JWT VC is issued to a
	// holder, not to us, and usually has no aud — the key-binding JWT's
	// aud is checked against our issuer instead).
	Audience string
	// MaxTokenAge bounds now − iat (and makes iat required). For
	// digital_credential it bounds the key-binding JWT's iat instead
	// (default DefaultKeyBindingMaxAge); the credential itself may be old.
	MaxTokenAge time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway in NewProviders; in a file, "leeway: 0s" means none.
	Leeway time.Duration
	// RequireNonce makes a nonce claim equal to the request's nonce
	// mandatory. Without it a nonce is checked only when the token carries
	// one. parental_consent always requires it.
	RequireNonce bool
	// VCT, for digital_credential, restricts the credential types (vct)
	// trusted from this issuer; empty trusts any.
	VCT []string
	// Claims are the payload claim names to read.
	Claims ClaimNames
	// Timeout bounds one JWKS fetch, and so the extra latency a request
	// pays when the provider is down and its breaker still closed.
	Timeout time.Duration
	// Breaker guards the JWKS endpoint.
	Breaker Breaker
	// Refresh is the minimum interval between JWKS refreshes (jwk.Cache's
	// min refresh interval; a longer Cache-Control max-age wins).
	Refresh time.Duration
}

// Providers is a validated, immutable set of providers.
type Providers struct {
	list     []Provider
	byID     map[string]int
	byIssuer map[string]int // digital_credential providers by issuer
}

// Len returns the number of providers.
func (p *Providers) Len() int {
	if p == nil {
		return 0
	}
	return len(p.list)
}

// Lookup returns the provider with the given id, so the request decoder can
// reject an unknown provider with a 400 before verifying anything.
func (p *Providers) Lookup(id string) (Provider, bool) {
	if p == nil {
		return Provider{}, false
	}
	i, ok := p.byID[id]
	if !ok {
		return Provider{}, false
	}
	return p.list[i], true
}

// List returns the providers in file order. The slice is the caller's.
func (p *Providers) List() []Provider {
	if p == nil {
		return nil
	}
	return slices.Clone(p.list)
}

// LoadProviders reads and validates a providers file (--providers). Every
// error is one line naming the file and, where possible, the line.
func LoadProviders(path string) (*Providers, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("providers file %s: %w", path, err)
	}
	return ParseProviders(data, path)
}

// ParseProviders validates a providers file's content; name is the file
// name used in errors. Decoding is strict: unknown fields, repeated keys,
// durations without units and more than one YAML document are errors, since
// a misspelt field would otherwise silently drop a check.
func ParseProviders(data []byte, name string) (*Providers, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("providers file %s: %w: empty file", name, ErrInvalidProviders)
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("providers file %s: %w: more than one YAML document", name, ErrInvalidProviders)
	}

	var raw rawFile
	sdec := yaml.NewDecoder(bytes.NewReader(data))
	sdec.KnownFields(true)
	if err := sdec.Decode(&raw); err != nil {
		return nil, yamlError(name, err)
	}
	pos := positionsOf(&doc)
	if raw.Providers == nil {
		return nil, fmt.Errorf("providers file %s:%d: %w: no providers (expected a top-level \"providers:\" list)", name, pos.top, ErrInvalidProviders)
	}
	list := make([]Provider, len(raw.Providers))
	for i, rp := range raw.Providers {
		p, err := rp.provider()
		if err == nil {
			list[i] = p
			err = validate(&list[i])
		}
		if err != nil {
			var fe *fieldError
			line := pos.item(i)
			if errors.As(err, &fe) {
				line = pos.field(i, fe.field)
			}
			return nil, fmt.Errorf("providers file %s:%d: %w: provider %s: %s", name, line, ErrInvalidProviders, label(i, rp.ID), err)
		}
	}
	ps, err := build(list)
	if err != nil {
		var de *dupError
		line := pos.top
		if errors.As(err, &de) {
			line = pos.field(de.index, de.field)
		}
		return nil, fmt.Errorf("providers file %s:%d: %w", name, line, err)
	}
	return ps, nil
}

// NewProviders validates a provider list built in code (tests, other
// configuration sources), applying the same defaults and rules as
// ParseProviders.
func NewProviders(list []Provider) (*Providers, error) {
	list = slices.Clone(list)
	for i := range list {
		applyDefaults(&list[i])
		if err := validate(&list[i]); err != nil {
			return nil, fmt.Errorf("%w: provider %s: %w", ErrInvalidProviders, label(i, list[i].ID), err)
		}
	}
	return build(list)
}

// label names provider i in an error.
func label(i int, id string) string {
	if id == "" {
		return fmt.Sprintf("#%d", i+1)
	}
	return strconv.Quote(id)
}

// build indexes validated providers, refusing repeated ids and two
// credential providers claiming one issuer (which would make the trusted
// issuer ambiguous).
func build(list []Provider) (*Providers, error) {
	ps := &Providers{list: list, byID: make(map[string]int, len(list)), byIssuer: make(map[string]int)}
	for i, p := range list {
		if j, dup := ps.byID[p.ID]; dup {
			return nil, &dupError{index: i, field: "id", msg: fmt.Sprintf("%v: provider id %q repeats provider #%d", ErrInvalidProviders, p.ID, j+1)}
		}
		ps.byID[p.ID] = i
		if slices.Contains(p.Types, policy.EvidenceDigitalCredential) {
			if j, dup := ps.byIssuer[p.Issuer]; dup {
				return nil, &dupError{index: i, field: "issuer", msg: fmt.Sprintf("%v: provider %q: issuer %q is already the trusted credential issuer of provider %q", ErrInvalidProviders, p.ID, p.Issuer, list[j].ID)}
			}
			ps.byIssuer[p.Issuer] = i
		}
	}
	return ps, nil
}

// dupError is a cross-provider conflict, positioned at provider index.
type dupError struct {
	index int
	field string
	msg   string
}

func (e *dupError) Error() string { return e.msg }
func (e *dupError) Unwrap() error { return ErrInvalidProviders }

// fieldError is a problem with one field, so the YAML path can point at it.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func fieldErrorf(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// signedTypes are the evidence types a provider can vouch for.
var signedTypes = []string{
	policy.EvidenceAgeEstimation,
	policy.EvidenceIDDocument,
	policy.EvidenceDigitalCredential,
	policy.EvidenceParentalConsent,
}

// allowedAlgorithms are the asymmetric JWS algorithms a provider may use.
// "none" and HS* are absent on purpose: a symmetric key cannot be
// published, and "none" verifies nothing.
var allowedAlgorithms = []string{
	"EdDSA", "ES256", "ES384", "ES512",
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
}

func applyDefaults(p *Provider) {
	if p.Leeway == 0 {
		p.Leeway = DefaultLeeway
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Breaker.Failures == 0 {
		p.Breaker.Failures = DefaultBreakerFailures
	}
	if p.Breaker.Open == 0 {
		p.Breaker.Open = DefaultBreakerOpen
	}
	if p.Refresh == 0 {
		p.Refresh = DefaultRefresh
	}
	d := DefaultClaimNames()
	for _, c := range []struct {
		dst *string
		def string
	}{
		{&p.Claims.Estimate, d.Estimate}, {&p.Claims.Uncertainty, d.Uncertainty},
		{&p.Claims.Liveness, d.Liveness}, {&p.Claims.BirthDate, d.BirthDate},
		{&p.Claims.OverPrefix, d.OverPrefix}, {&p.Claims.Consent, d.Consent},
		{&p.Claims.Nonce, d.Nonce},
	} {
		if *c.dst == "" {
			*c.dst = c.def
		}
	}
}

// validate checks one provider with defaults applied.
func validate(p *Provider) error {
	if !idPattern.MatchString(p.ID) {
		return fieldErrorf("id", "%q must be a lower-case slug matching %s", p.ID, idPattern)
	}
	if len(p.Types) == 0 {
		return fieldErrorf("types", "at least one of %s is required", strings.Join(signedTypes, ", "))
	}
	for i, t := range p.Types {
		switch {
		case t == policy.EvidencePlatformAgeRange:
			return fieldErrorf("types", "%s is an unsigned declaration: it needs no provider", t)
		case !slices.Contains(signedTypes, t):
			return fieldErrorf("types", "unknown evidence type %q (one of %s)", t, strings.Join(signedTypes, ", "))
		case slices.Contains(p.Types[:i], t):
			return fieldErrorf("types", "%q listed twice", t)
		}
	}
	if strings.TrimSpace(p.Issuer) == "" {
		return fieldErrorf("issuer", "required: the iss every token of the provider carries")
	}
	switch {
	case p.JWKSURL != "" && len(p.JWKS) > 0:
		return fieldErrorf("jwks", "set either jwks_url or jwks, not both")
	case p.JWKSURL == "" && len(p.JWKS) == 0:
		return fieldErrorf("jwks_url", "required (or an inline jwks): the provider's public keys")
	case p.JWKSURL != "":
		if err := checkJWKSURL(p.JWKSURL); err != nil {
			return fieldErrorf("jwks_url", "%v", err)
		}
	default:
		if _, err := parseKeyring(p.JWKS, true); err != nil {
			return fieldErrorf("jwks", "%v", err)
		}
	}
	if len(p.Algorithms) == 0 {
		return fieldErrorf("algorithms", "required: the JWS algorithms the provider signs with (%s)", strings.Join(allowedAlgorithms, ", "))
	}
	for i, a := range p.Algorithms {
		switch {
		case strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS"):
			return fieldErrorf("algorithms", "%q is never allowed: only asymmetric signatures prove who signed", a)
		case !slices.Contains(allowedAlgorithms, a):
			return fieldErrorf("algorithms", "unknown algorithm %q (one of %s)", a, strings.Join(allowedAlgorithms, ", "))
		case slices.Contains(p.Algorithms[:i], a):
			return fieldErrorf("algorithms", "%q listed twice", a)
		}
	}
	needsAud := slices.ContainsFunc(p.Types, func(t string) bool { return t != policy.EvidenceDigitalCredential })
	if needsAud && p.Audience == "" {
		return fieldErrorf("audience", "required for %s tokens: without it a token issued to another relying party would be accepted", strings.Join(slices.DeleteFunc(slices.Clone(p.Types), func(t string) bool { return t == policy.EvidenceDigitalCredential }), ", "))
	}
	if p.MaxTokenAge < 0 {
		return fieldErrorf("max_token_age", "must not be negative")
	}
	if p.Leeway < 0 || p.Leeway > maxLeeway {
		return fieldErrorf("leeway", "%v is outside 0s..%v", p.Leeway, maxLeeway)
	}
	if len(p.VCT) > 0 && !slices.Contains(p.Types, policy.EvidenceDigitalCredential) {
		return fieldErrorf("vct", "only applies to digital_credential providers")
	}
	for _, v := range p.VCT {
		if v == "" {
			return fieldErrorf("vct", "empty credential type")
		}
	}
	for _, c := range []struct{ name, v string }{
		{"estimate", p.Claims.Estimate}, {"uncertainty", p.Claims.Uncertainty},
		{"liveness", p.Claims.Liveness}, {"birthdate", p.Claims.BirthDate},
		{"over_prefix", p.Claims.OverPrefix}, {"consent", p.Claims.Consent},
		{"nonce", p.Claims.Nonce},
	} {
		if strings.TrimSpace(c.v) != c.v || c.v == "_sd" || c.v == "..." {
			return fieldErrorf("claims", "%s: %q is not a usable claim name", c.name, c.v)
		}
	}
	if p.Timeout <= 0 || p.Timeout > maxTimeout {
		return fieldErrorf("timeout", "%v is outside (0s, %v]", p.Timeout, maxTimeout)
	}
	if p.Breaker.Open <= 0 {
		return fieldErrorf("breaker", "open must be positive")
	}
	if p.Refresh < minRefresh {
		return fieldErrorf("refresh", "%v is below %v", p.Refresh, minRefresh)
	}
	return nil
}

// checkJWKSURL accepts https URLs, and http only on loopback addresses:
// keys fetched over plain http could be swapped by anyone on the path.
func checkJWKSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.User != nil {
		return errors.New("must not carry credentials")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("%q: plain http is only allowed on loopback addresses; use https", s)
	default:
		return fmt.Errorf("%q: scheme must be https", s)
	}
}
