package verifier

// SD-JWT (RFC 9901, draft-ietf-oauth-selective-disclosure-jwt) and SD-JWT VC
// (draft-ietf-oauth-sd-jwt-vc) presentations:
//
//	<issuer-signed JWT>~<disclosure 1>~…~<disclosure N>~<KB-JWT>
//
// This file parses the presentation and the disclosures, and rebuilds the
// disclosed claims from the issuer-signed payload. Verification of the
// signatures and of the key binding is in credential.go.

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Limits on a presentation, so a hostile one costs bounded work.
const (
	maxDisclosures = 256
	maxSDDepth     = 16
)

// Reserved names of the SD-JWT payload.
const (
	sdKey       = "_sd"
	sdAlgKey    = "_sd_alg"
	ellipsisKey = "..."
	sdAlgSHA256 = "sha-256"
)

// presentation is an SD-JWT split into its parts.
type presentation struct {
	issuerJWT   string
	disclosures []string
	kbJWT       string // "" when the presentation has no key binding
	// hashInput is the presentation up to and including the last '~', the
	// input of the KB-JWT's sd_hash.
	hashInput string
}

// parsePresentation splits an SD-JWT presentation. It checks the framing
// only: each part is decoded and verified later.
func parsePresentation(s string) (*presentation, error) {
	if len(s) > maxTokenBytes {
		return nil, errors.New("presentation too large")
	}
	if !inCompactAlphabet(s, ".~") {
		return nil, errors.New("a character outside base64url, '.' and '~'")
	}
	last := strings.LastIndexByte(s, '~')
	if last < 0 {
		return nil, errors.New("not an SD-JWT: no '~'")
	}
	p := &presentation{hashInput: s[:last+1], kbJWT: s[last+1:]}
	parts := strings.Split(s[:last], "~")
	p.issuerJWT = parts[0]
	if p.issuerJWT == "" {
		return nil, errors.New("not an SD-JWT: empty issuer-signed JWT")
	}
	p.disclosures = parts[1:]
	if len(p.disclosures) > maxDisclosures {
		return nil, fmt.Errorf("more than %d disclosures", maxDisclosures)
	}
	for i, d := range p.disclosures {
		if d == "" {
			return nil, fmt.Errorf("disclosure %d is empty", i+1)
		}
	}
	return p, nil
}

// disclosure is one decoded disclosure.
type disclosure struct {
	digest string
	name   string // the claim name; "" for an array element
	array  bool   // a [salt, value] array-element disclosure
	value  any
	used   bool
}

// digestOf is the SD-JWT digest of a disclosure: base64url(SHA-256) of its
// encoded form, exactly as sent (RFC 9901 §4.2.3).
func digestOf(encoded string) string {
	sum := sha256.Sum256([]byte(encoded))
	return b64.EncodeToString(sum[:])
}

// parseDisclosure decodes one disclosure: base64url of a JSON array, either
// [salt, name, value] for an object property or [salt, value] for an array
// element. Names that would clash with SD-JWT's own structure ("_sd",
// "...") are refused.
func parseDisclosure(encoded string) (*disclosure, error) {
	if !inCompactAlphabet(encoded, "") {
		return nil, errors.New("disclosure is not base64url")
	}
	raw, err := b64.DecodeString(encoded)
	if err != nil {
		return nil, errors.New("disclosure is not base64url")
	}
	var arr []any
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, errors.New("disclosure is not a JSON array")
	}
	d := &disclosure{digest: digestOf(encoded)}
	switch len(arr) {
	case 2:
		d.array, d.value = true, arr[1]
	case 3:
		name, ok := arr[1].(string)
		if !ok {
			return nil, errors.New("disclosure claim name is not a string")
		}
		if name == sdKey || name == ellipsisKey {
			return nil, errors.New("disclosure uses a reserved claim name")
		}
		d.name, d.value = name, arr[2]
	default:
		return nil, errors.New("disclosure must have 2 or 3 elements")
	}
	if _, ok := arr[0].(string); !ok {
		return nil, errors.New("disclosure salt is not a string")
	}
	return d, nil
}

// reconstructor rebuilds the disclosed claims (RFC 9901 §7.1).
type reconstructor struct {
	byDigest map[string]*disclosure
	seen     map[string]bool // every digest met, decoys included
}

// reconstruct returns the claims of payload with the disclosures applied.
// Every disclosure must be referenced exactly once; no digest may appear
// twice; no disclosure may overwrite a claim. The result holds no "_sd",
// "_sd_alg" or "..." entries.
func reconstruct(payload claims, encoded []string) (claims, error) {
	r := &reconstructor{byDigest: make(map[string]*disclosure, len(encoded)), seen: make(map[string]bool)}
	for i, e := range encoded {
		d, err := parseDisclosure(e)
		if err != nil {
			return nil, fmt.Errorf("disclosure %d: %w", i+1, err)
		}
		if _, dup := r.byDigest[d.digest]; dup {
			return nil, fmt.Errorf("disclosure %d is repeated", i+1)
		}
		r.byDigest[d.digest] = d
	}
	out, err := r.object(payload, 0)
	if err != nil {
		return nil, err
	}
	delete(out, sdAlgKey)
	for i, e := range encoded {
		if !r.byDigest[digestOf(e)].used {
			return nil, fmt.Errorf("disclosure %d is not referenced by any digest", i+1)
		}
	}
	return claims(out), nil
}

func (r *reconstructor) value(v any, depth int) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		return r.object(t, depth+1)
	case []any:
		return r.array(t, depth+1)
	default:
		return v, nil
	}
}

// use marks digest as met and returns its disclosure, nil for a decoy.
func (r *reconstructor) use(v any) (*disclosure, error) {
	digest, ok := v.(string)
	if !ok {
		return nil, errors.New("a digest is not a string")
	}
	if r.seen[digest] {
		return nil, errors.New("a digest appears more than once")
	}
	r.seen[digest] = true
	d := r.byDigest[digest]
	if d != nil {
		d.used = true
	}
	return d, nil
}

func (r *reconstructor) object(obj map[string]any, depth int) (map[string]any, error) {
	if depth > maxSDDepth {
		return nil, errors.New("claims nested too deeply")
	}
	if _, ok := obj[ellipsisKey]; ok {
		return nil, errors.New(`"..." outside an array element`)
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k == sdKey {
			continue
		}
		nv, err := r.value(v, depth)
		if err != nil {
			return nil, err
		}
		out[k] = nv
	}
	sd, ok := obj[sdKey]
	if !ok {
		return out, nil
	}
	digests, ok := sd.([]any)
	if !ok {
		return nil, errors.New(`"_sd" is not an array`)
	}
	for _, dv := range digests {
		d, err := r.use(dv)
		if err != nil {
			return nil, err
		}
		if d == nil {
			continue // a decoy
		}
		if d.array {
			return nil, errors.New("an array-element disclosure is referenced from an object")
		}
		if _, clash := out[d.name]; clash {
			return nil, errors.New("a disclosure would overwrite a claim")
		}
		nv, err := r.value(d.value, depth)
		if err != nil {
			return nil, err
		}
		out[d.name] = nv
	}
	return out, nil
}

func (r *reconstructor) array(arr []any, depth int) ([]any, error) {
	if depth > maxSDDepth {
		return nil, errors.New("claims nested too deeply")
	}
	out := make([]any, 0, len(arr))
	for _, el := range arr {
		if m, ok := el.(map[string]any); ok {
			if dv, ok := m[ellipsisKey]; ok {
				if len(m) != 1 {
					return nil, errors.New(`an array digest object has more than "..."`)
				}
				d, err := r.use(dv)
				if err != nil {
					return nil, err
				}
				if d == nil {
					continue // a decoy
				}
				if !d.array {
					return nil, errors.New("an object-property disclosure is referenced from an array")
				}
				nv, err := r.value(d.value, depth)
				if err != nil {
					return nil, err
				}
				out = append(out, nv)
				continue
			}
		}
		nv, err := r.value(el, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, nv)
	}
	return out, nil
}
