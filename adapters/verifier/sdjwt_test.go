package verifier

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDisclosureDigestDraftExample checks the digest function against the
// example in the SD-JWT specification (RFC 9901 §4.2.1 and §4.2.3, also in
// draft-ietf-oauth-selective-disclosure-jwt): the disclosure of given_name
// "John" and its published digest.
func TestDisclosureDigestDraftExample(t *testing.T) {
	const (
		enc  = "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd"
		want = "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4"
	)
	if got := digestOf(enc); got != want {
		t.Errorf("digestOf = %s, want %s", got, want)
	}
	d, err := parseDisclosure(enc)
	if err != nil {
		t.Fatal(err)
	}
	if d.name != "given_name" || d.value != "John" || d.array || d.digest != want {
		t.Errorf("parseDisclosure = %+v", d)
	}
	// The draft's JSON has spaces after the commas: the digest is over the
	// encoded string as sent, never over a re-serialization.
	raw, _ := b64.DecodeString(enc)
	if string(raw) != `["2GLC42sKQveCfGfryNRN9w", "given_name", "John"]` {
		t.Errorf("decoded disclosure = %s", raw)
	}
}

func TestParsePresentation(t *testing.T) {
	tests := []struct {
		in      string
		want    *presentation
		wantErr bool
	}{
		{in: "jwt~d1~d2~kb", want: &presentation{issuerJWT: "jwt", disclosures: []string{"d1", "d2"}, kbJWT: "kb", hashInput: "jwt~d1~d2~"}},
		{in: "jwt~d1~", want: &presentation{issuerJWT: "jwt", disclosures: []string{"d1"}, hashInput: "jwt~d1~"}},
		{in: "jwt~", want: &presentation{issuerJWT: "jwt", disclosures: []string{}, hashInput: "jwt~"}},
		{in: "jwt~kb", want: &presentation{issuerJWT: "jwt", disclosures: []string{}, kbJWT: "kb", hashInput: "jwt~"}},
		{in: "jwt", wantErr: true},
		{in: "~d1~kb", wantErr: true},
		{in: "jwt~~d2~kb", wantErr: true},
		{in: "jwt" + strings.Repeat("~d", maxDisclosures+1) + "~", wantErr: true},
		{in: strings.Repeat("a", maxTokenBytes) + "~", wantErr: true},
		{in: "jwt~d1\n~kb", wantErr: true},
		{in: "jwt~d1~kb ", wantErr: true},
		{in: "jwt=~d1~kb", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePresentation(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parsePresentation(%.40q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(presentation{})); diff != "" {
			t.Errorf("parsePresentation(%.40q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestReconstruct(t *testing.T) {
	dGiven, hGiven := disclose("s1", "given_name", "Erika")
	dUS, hUS := discloseElem("s2", "US")
	dDE, hDE := discloseElem("s3", "DE")
	dStreet, hStreet := disclose("s4", "street_address", "Heidestraße 17")
	// A disclosure whose value itself holds a digest (recursive disclosure).
	dAddr, hAddr := disclose("s5", "address", map[string]any{"locality": "Köln", "_sd": []any{hStreet}})
	_, hDecoy := disclose("s6", "decoy", 0)

	payload := claims{
		"iss":           walletIssuer,
		"_sd_alg":       "sha-256",
		"_sd":           []any{hGiven, hAddr, hDecoy},
		"nationalities": []any{map[string]any{"...": hUS}, map[string]any{"...": hDecoy + "x"}, "FR", map[string]any{"...": hDE}},
	}
	got, err := reconstruct(roundTrip(t, payload), []string{dDE, dAddr, dGiven, dStreet, dUS})
	if err != nil {
		t.Fatal(err)
	}
	want := claims{
		"iss":           walletIssuer,
		"given_name":    "Erika",
		"nationalities": []any{"US", "FR", "DE"},
		"address":       map[string]any{"locality": "Köln", "street_address": "Heidestraße 17"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reconstruct (-want +got):\n%s", diff)
	}

	// Disclosing nothing leaves only the always-visible claims.
	got, err = reconstruct(roundTrip(t, payload), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(claims{"iss": walletIssuer, "nationalities": []any{"FR"}}, got); diff != "" {
		t.Errorf("reconstruct without disclosures (-want +got):\n%s", diff)
	}
}

func TestReconstructErrors(t *testing.T) {
	d, h := disclose("s1", "given_name", "Erika")
	de, he := discloseElem("s2", "US")
	tests := map[string]struct {
		payload claims
		ds      []string
	}{
		"_sd not an array":             {claims{"_sd": "x"}, nil},
		"digest not a string":          {claims{"_sd": []any{1}}, nil},
		"digest twice":                 {claims{"_sd": []any{h}, "o": map[string]any{"_sd": []any{h}}}, []string{d}},
		"ellipsis with other keys":     {claims{"a": []any{map[string]any{"...": he, "x": 1}}}, []string{de}},
		"ellipsis in an object":        {claims{"...": he}, []string{de}},
		"element disclosure in _sd":    {claims{"_sd": []any{he}}, []string{de}},
		"property disclosure in array": {claims{"a": []any{map[string]any{"...": h}}}, []string{d}},
		"unreferenced":                 {claims{}, []string{d}},
		"repeated":                     {claims{"_sd": []any{h}}, []string{d, d}},
		"overwrite":                    {claims{"_sd": []any{h}, "given_name": "Max"}, []string{d}},
		"too deep":                     {deep(maxSDDepth + 2), nil},
	}
	for name, tt := range tests {
		if _, err := reconstruct(roundTrip(t, tt.payload), tt.ds); err == nil {
			t.Errorf("%s: reconstruct succeeded", name)
		}
	}
}

func TestParseDisclosureErrors(t *testing.T) {
	enc := func(v string) string { return b64.EncodeToString([]byte(v)) }
	for _, in := range []string{
		"", "!!", enc(`{}`), enc(`[]`), enc(`["s"]`), enc(`["s","n","v","x"]`),
		enc(`[1,"n","v"]`), enc(`["s",1,"v"]`), enc(`["s","_sd","v"]`), enc(`["s","...","v"]`),
		enc(`["s","n","v"]`) + "=",  // padding is not base64url without padding
		enc(`["s","n","v"]`) + "\n", // skipped by Go's decoder, but another spelling
		"\r" + enc(`["s","n","v"]`),
	} {
		if d, err := parseDisclosure(in); err == nil {
			t.Errorf("parseDisclosure(%q) = %+v, want an error", in, d)
		}
	}
}

// roundTrip gives a payload the types encoding/json produces, as the
// verifier sees them.
func roundTrip(t *testing.T, c claims) claims {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out, err := parseClaims(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func deep(n int) claims {
	var v any = "x"
	for range n {
		v = map[string]any{"a": v}
	}
	return claims{"a": v}
}
