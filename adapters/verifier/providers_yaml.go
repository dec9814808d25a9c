package verifier

// The providers file's YAML form and its decoding, kept apart from the
// validated Provider so the file format can change without touching the
// verifier.

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// rawFile is the providers file as written.
type rawFile struct {
	Providers []rawProvider `yaml:"providers"`
}

type rawProvider struct {
	ID           string     `yaml:"id"`
	Types        []string   `yaml:"types"`
	Issuer       string     `yaml:"issuer"`
	JWKSURL      string     `yaml:"jwks_url"`
	JWKS         yaml.Node  `yaml:"jwks"`
	Algorithms   []string   `yaml:"algorithms"`
	Audience     string     `yaml:"audience"`
	MaxTokenAge  duration   `yaml:"max_token_age"`
	Leeway       *duration  `yaml:"leeway"`
	RequireNonce bool       `yaml:"require_nonce"`
	VCT          []string   `yaml:"vct"`
	Claims       ClaimNames `yaml:"claims"`
	Timeout      duration   `yaml:"timeout"`
	Breaker      rawBreaker `yaml:"breaker"`
	Refresh      duration   `yaml:"refresh"`
}

type rawBreaker struct {
	Failures *int     `yaml:"failures"`
	Open     duration `yaml:"open"`
}

// provider converts the YAML form, applying defaults.
func (r *rawProvider) provider() (Provider, error) {
	p := Provider{
		ID:           r.ID,
		Types:        r.Types,
		Issuer:       r.Issuer,
		JWKSURL:      r.JWKSURL,
		Algorithms:   r.Algorithms,
		Audience:     r.Audience,
		MaxTokenAge:  time.Duration(r.MaxTokenAge),
		RequireNonce: r.RequireNonce,
		VCT:          r.VCT,
		Claims:       r.Claims,
		Timeout:      time.Duration(r.Timeout),
		Breaker:      Breaker{Open: time.Duration(r.Breaker.Open)},
		Refresh:      time.Duration(r.Refresh),
	}
	if r.Leeway != nil {
		p.Leeway = time.Duration(*r.Leeway)
		if p.Leeway == 0 {
			p.Leeway = -1 // "leeway: 0s" is meaningful: keep it through applyDefaults
		}
	}
	if f := r.Breaker.Failures; f != nil {
		if *f < 1 || *f > 1000 {
			return Provider{}, fieldErrorf("breaker", "failures %d is outside 1..1000", *f)
		}
		p.Breaker.Failures = uint32(*f)
	}
	if r.JWKS.Kind != 0 {
		b, err := jwksJSON(&r.JWKS)
		if err != nil {
			return Provider{}, fieldErrorf("jwks", "%v", err)
		}
		p.JWKS = b
	}
	applyDefaults(&p)
	if p.Leeway == -1 {
		p.Leeway = 0
	}
	return p, nil
}

// jwksJSON turns an inline jwks — a YAML mapping, or a string holding JSON —
// into JSON for jwk.Parse.
func jwksJSON(n *yaml.Node) ([]byte, error) {
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		return []byte(n.Value), nil
	case n.Kind == yaml.MappingNode:
		var v map[string]any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	default:
		return nil, errors.New("must be a JWK Set: a mapping with \"keys\", or a string holding its JSON")
	}
}

// duration is a YAML duration that must be written with units ("30s"),
// because a bare number would silently be nanoseconds.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration such as \"30s\"", n.Line)
	}
	if n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as \"30s\" or \"2m\"", n.Line, n.Value)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q is negative", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

// yamlLine matches the line number yaml.v3 puts in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?(?:unmarshal errors:\s*)?line (\d+): (.*)$`)

// notFound rewrites yaml.v3's "field x not found in type verifier.rawProvider".
var notFound = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlError turns a yaml.v3 error into one line, "file:line: problem".
func yamlError(name string, err error) error {
	msg := strings.TrimSpace(err.Error())
	var te *yaml.TypeError
	more := 0
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
		more = len(te.Errors) - 1
	}
	loc := name
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		loc = name + ":" + m[1]
		msg = m[2]
	}
	if m := notFound.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("unknown field %q", m[1])
	}
	msg = strings.ReplaceAll(msg, "\n", "; ")
	if more > 0 {
		msg += fmt.Sprintf(" (and %d more)", more)
	}
	return fmt.Errorf("providers file %s: %w: %s", loc, ErrInvalidProviders, msg)
}

// positions finds line numbers in the parsed document, for errors found
// after decoding.
type positions struct {
	top   int
	items []*yaml.Node // provider mappings
}

func positionsOf(doc *yaml.Node) positions {
	p := positions{top: 1}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return p
	}
	root := doc.Content[0]
	p.top = root.Line
	if root.Kind != yaml.MappingNode {
		return p
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "providers" && root.Content[i+1].Kind == yaml.SequenceNode {
			p.top = root.Content[i].Line
			p.items = root.Content[i+1].Content
		}
	}
	return p
}

// item returns the line of provider i.
func (p positions) item(i int) int {
	if i < len(p.items) {
		return p.items[i].Line
	}
	return p.top
}

// field returns the line of field in provider i, or the provider's line.
func (p positions) field(i int, field string) int {
	if i >= len(p.items) {
		return p.top
	}
	n := p.items[i]
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == field {
			return n.Content[j].Line
		}
	}
	return n.Line
}
