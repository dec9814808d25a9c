package service

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ageassure/ageassure/policy"
)

// Assurance describes how strongly the age claim is backed, as an IEEE
// 2089.1 level and the methods that produced it.
type Assurance struct {
	Level   string   `json:"level"`
	Methods []string `json:"methods"`
	// Buffer is the doubt applied to an age estimate at each age of
	// interest, in years (policy buffer plus the provider's uncertainty),
	// when an estimate decided.
	Buffer map[string]float64 `json:"buffer,omitempty"`
}

// Assurance levels (IEEE 2089.1).
const (
	AssuranceAsserted = "asserted"
	AssuranceStandard = "standard"
	AssuranceEnhanced = "enhanced"
	AssuranceStrict   = "strict"
)

// MethodSelfDeclaration is the method of a declared birth date or age.
const MethodSelfDeclaration = "self_declaration"

// attestationClaims is the JWT payload a platform verifies offline. It
// carries the decision and age thresholds, and deliberately nothing that
// identifies the applicant: no birth date, subject or device.
type attestationClaims struct {
	Issuer         string          `json:"iss"`
	Audience       string          `json:"aud"`
	IssuedAt       int64           `json:"iat"`
	Expires        int64           `json:"exp"`
	ID             string          `json:"jti"`
	Nonce          string          `json:"nonce,omitempty"`
	Decision       policy.Decision `json:"decision"`
	AgeBand        policy.Band     `json:"age_band"`
	AgeEqualOrOver thresholdSet    `json:"age_equal_or_over"`
	Assurance      Assurance       `json:"assurance"`
	Jurisdiction   string          `json:"jurisdiction"`
	Policy         string          `json:"policy"`
}

// thresholdSet renders as {"13": true, "16": false} with keys in ascending
// numeric order, so the same decision always signs the same bytes.
type thresholdSet []policy.Threshold

// MarshalJSON writes the thresholds as an object keyed by age.
func (t thresholdSet) MarshalJSON() ([]byte, error) {
	return t.appendJSON(make([]byte, 0, 2+len(t)*12)), nil
}

// MarshalJSONTo is what the json package calls instead of MarshalJSON (it
// takes precedence): it hands the encoder the very bytes MarshalJSON
// returns, as the json package does with MarshalJSON's result, but built
// in a stack buffer, so the attestation and the response each save an
// allocation.
func (t thresholdSet) MarshalJSONTo(enc *jsontext.Encoder) error {
	var buf [64]byte
	return enc.WriteValue(t.appendJSON(buf[:0]))
}

// appendJSON appends the object form, e.g. {"13":true,"16":false}.
func (t thresholdSet) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, th := range t {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, int64(th.Age), 10)
		b = append(b, '"', ':')
		b = strconv.AppendBool(b, th.Met)
	}
	return append(b, '}')
}

// UnmarshalJSON reads the object form back, so Go clients can decode a
// response into CheckResponse.
func (t *thresholdSet) UnmarshalJSON(b []byte) error {
	var m map[string]bool
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := make(thresholdSet, 0, len(m))
	for k, v := range m {
		age, err := strconv.Atoi(k)
		if err != nil {
			return fmt.Errorf("age_equal_or_over: key %q is not an age", k)
		}
		out = append(out, policy.Threshold{Age: age, Met: v})
	}
	slices.SortFunc(out, func(a, b policy.Threshold) int { return cmp.Compare(a.Age, b.Age) })
	*t = out
	return nil
}
