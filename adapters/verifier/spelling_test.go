package verifier

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/policy"
)

// Tests that one token has one spelling: a byte Go's base64 decoder skips
// ('\n', '\r') or that a lenient decoder tolerates (' ', '=') keeps a
// signature valid, because JWS libraries verify the decoded header and
// payload. Such a respelled token must be refused, and must never win a
// second use of the token it respells.

// segment locates one base64url segment of a token: the byte range
// [start, end) of the segment in tok.
type segment struct {
	name string
	kind string // "jws" or "sd-jwt": which tokens it applies to
	find func(tok string) (start, end int)
}

// field returns the range of the i-th field of s split at sep.
func field(s string, sep byte, i int) (start, end int) {
	for range i {
		start += strings.IndexByte(s[start:], sep) + 1
	}
	end = len(s)
	if j := strings.IndexByte(s[start:], sep); j >= 0 {
		end = start + j
	}
	return start, end
}

// jwsPart is the i-th part (header, payload, signature) of the JWS that is
// the n-th '~'-separated part of tok; n < 0 counts from the end.
func jwsPart(n, i int) func(string) (int, int) {
	return func(tok string) (int, int) {
		m := n
		if m < 0 {
			m += strings.Count(tok, "~") + 1
		}
		ps, pe := field(tok, '~', m)
		s, e := field(tok[ps:pe], '.', i)
		return ps + s, ps + e
	}
}

var segments = []segment{
	{"JWS header", "jws", jwsPart(0, 0)},
	{"JWS payload", "jws", jwsPart(0, 1)},
	{"JWS signature", "jws", jwsPart(0, 2)},
	{"issuer JWT header", "sd-jwt", jwsPart(0, 0)},
	{"issuer JWT payload", "sd-jwt", jwsPart(0, 1)},
	{"issuer JWT signature", "sd-jwt", jwsPart(0, 2)},
	{"first disclosure", "sd-jwt", func(tok string) (int, int) { return field(tok, '~', 1) }},
	{"second disclosure", "sd-jwt", func(tok string) (int, int) { return field(tok, '~', 2) }},
	{"last disclosure", "sd-jwt", func(tok string) (int, int) { return field(tok, '~', strings.Count(tok, "~")-1) }},
	{"KB-JWT header", "sd-jwt", jwsPart(-1, 0)},
	{"KB-JWT payload", "sd-jwt", jwsPart(-1, 1)},
	{"KB-JWT signature", "sd-jwt", jwsPart(-1, 2)},
}

// respelling changes a segment of a token without changing what it decodes
// to under a lenient decoder. It returns "" when it does not apply.
type respelling struct {
	name string
	// skipped: Go's base64 decoders (even Strict) skip the bytes added, so
	// the segment decodes to the same bytes.
	skipped bool
	// outside: the bytes added are outside the compact alphabet.
	outside bool
	apply   func(seg string) string
}

func insertAt(ins string, mid bool) func(string) string {
	return func(seg string) string {
		if mid {
			return seg[:len(seg)/2] + ins + seg[len(seg)/2:]
		}
		return seg + ins
	}
}

// nonCanonical sets an unused low bit of the segment's last character: it
// decodes to the same bytes under a non-strict decoder. "" when the length
// leaves no unused bits.
func nonCanonical(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		return ""
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last|1])
}

var respellings = []respelling{
	{"LF inside", true, true, insertAt("\n", true)},
	{"LF at the end", true, true, insertAt("\n", false)},
	{"CR inside", true, true, insertAt("\r", true)},
	{"CRLF at the end", true, true, insertAt("\r\n", false)},
	{"space inside", false, true, insertAt(" ", true)},
	{"space at the end", false, true, insertAt(" ", false)},
	{"tab inside", false, true, insertAt("\t", true)},
	{"= inside", false, true, insertAt("=", true)},
	{"padding", false, true, padded},
	{"non-canonical trailing bits", false, false, nonCanonical},
}

// padded adds the '=' padding of standard base64url; "" when the length
// needs none.
func padded(seg string) string {
	n := (4 - len(seg)%4) % 4
	if n == 0 {
		return ""
	}
	return seg + strings.Repeat("=", n)
}

// respell applies r to the segment s of tok, "" if r does not apply.
func respell(tok string, s segment, r respelling) string {
	start, end := s.find(tok)
	seg := r.apply(tok[start:end])
	if seg == "" || seg == tok[start:end] {
		return ""
	}
	return tok[:start] + seg + tok[end:]
}

// tokenKind makes new valid tokens of one kind, each different.
type tokenKind struct {
	name string
	kind string // "jws" or "sd-jwt"
	mint func(t *testing.T) policy.EvidenceItem
}

func tokenKinds(f *fixture) []tokenKind {
	n := 0
	jti := func() map[string]any {
		n++
		return map[string]any{"jti": fmt.Sprint("spelling-", n)}
	}
	return []tokenKind{
		{"age estimation (EdDSA)", "jws", func(t *testing.T) policy.EvidenceItem {
			return policy.EvidenceItem{Type: policy.EvidenceAgeEstimation, Provider: "estimator",
				Token: signJWS(t, f.est, "", "", claimsAt(testNow, estIssuer, merge(jti(), map[string]any{"age_estimate": 20.0})))}
		}},
		{"id document (ES256)", "jws", func(t *testing.T) policy.EvidenceItem {
			return policy.EvidenceItem{Type: policy.EvidenceIDDocument, Provider: "idcheck",
				Token: signJWS(t, f.doc, "", "", claimsAt(testNow, docIssuer, merge(jti(), map[string]any{"age_over_18": true})))}
		}},
		{"digital credential", "sd-jwt", func(t *testing.T) policy.EvidenceItem {
			return policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "wallet", Token: f.newCred(t).build(t)}
		}},
	}
}

// TestRespelledTokenRefused: for every segment of a JWS and of an SD-JWT
// presentation and every respelling, on the in-process and the Redis
// replay store (two replicas):
//
//   - after the token is used, its respelling is not accepted;
//   - a respelling sent first is not accepted either, and does not burn the
//     token's use;
//   - a respelling that only adds bytes outside the compact alphabet is
//     malformed_token, wherever it is.
func TestRespelledTokenRefused(t *testing.T) {
	f := newFixture(t)
	kinds := tokenKinds(f)
	stores := []struct {
		name     string
		replicas func(t *testing.T) []*Verifier
	}{
		{"in-process", func(t *testing.T) []*Verifier {
			v := f.verifier(t)
			return []*Verifier{v, v}
		}},
		{"redis", func(t *testing.T) []*Verifier { return f.redisReplicas(t, 2) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			replicas := st.replicas(t)
			for _, k := range kinds {
				for _, seg := range segments {
					if seg.kind != k.kind {
						continue
					}
					for _, r := range respellings {
						t.Run(k.name+"/"+seg.name+"/"+r.name, func(t *testing.T) {
							checkRespelling(t, replicas, k, seg, r)
						})
					}
				}
			}
		})
	}
}

func checkRespelling(t *testing.T, replicas []*Verifier, k tokenKind, seg segment, r respelling) {
	// Used first, then respelled (on another replica).
	item := k.mint(t)
	twin := item
	if twin.Token = respell(item.Token, seg, r); twin.Token == "" {
		t.Skip("does not apply to this segment")
	}
	if got := verifyOne(replicas[0], item); !got.Accepted() {
		t.Fatalf("original: %s/%s", got.Outcome, got.Reason)
	}
	got := verifyOne(replicas[1], twin)
	if got.Accepted() {
		t.Fatalf("respelled token accepted after the original was used")
	}
	if r.outside && got.Reason != ReasonMalformedToken {
		t.Errorf("respelled token after the original: %s, want %s", got.Reason, ReasonMalformedToken)
	}

	// Respelled first, then the original.
	item = k.mint(t)
	twin = item
	twin.Token = respell(item.Token, seg, r)
	if got := verifyOne(replicas[0], twin); got.Accepted() {
		t.Errorf("respelled token accepted")
	} else if r.outside && got.Reason != ReasonMalformedToken {
		t.Errorf("respelled token: %s, want %s", got.Reason, ReasonMalformedToken)
	}
	if got := verifyOne(replicas[1], item); !got.Accepted() {
		t.Errorf("original after its respelling was refused: %s/%s, want accepted", got.Outcome, got.Reason)
	}
}

// TestReplayKeyIsOverDecodedContent: the replay key is a function of what
// the signatures cover, decoded, not of the token's spelling. Respellings
// that Go's decoder skips get past decodeJWS and the disclosure decoder
// (parseJWS and parsePresentation refuse them before), and must get the
// original's key; so must an ECDSA-malleated signature. Different tokens
// must not share a key.
func TestReplayKeyIsOverDecodedContent(t *testing.T) {
	f := newFixture(t)
	v := f.verifier(t)
	key := func(t *testing.T, kind, tok string) string {
		t.Helper()
		if kind == "jws" {
			j, err := decodeJWS(tok)
			if err != nil {
				t.Fatalf("decodeJWS: %v", err)
			}
			return v.jwsReplayKey(j)
		}
		parts := strings.Split(tok, "~")
		iss, err := decodeJWS(parts[0])
		if err != nil {
			t.Fatalf("issuer JWT: %v", err)
		}
		kb, err := decodeJWS(parts[len(parts)-1])
		if err != nil {
			t.Fatalf("KB-JWT: %v", err)
		}
		var ds [][]byte
		for _, d := range parts[1 : len(parts)-1] {
			raw, err := b64.DecodeString(d)
			if err != nil {
				t.Fatalf("disclosure: %v", err)
			}
			ds = append(ds, raw)
		}
		return v.credentialReplayKey(iss, ds, kb)
	}
	seen := map[string]string{}
	for _, k := range tokenKinds(f) {
		item := k.mint(t)
		want := key(t, k.kind, item.Token)
		if other, dup := seen[want]; dup {
			t.Errorf("%s and %s share a replay key", k.name, other)
		}
		seen[want] = k.name
		if other := key(t, k.kind, k.mint(t).Token); other == want {
			t.Errorf("%s: two tokens share a replay key", k.name)
		}
		if !strings.HasPrefix(want, replayNamespace) || localcache.ValidateNamespacedKey(want) != nil {
			t.Errorf("%s: replay key %q is not a namespaced HMAC", k.name, want)
		}
		for _, seg := range segments {
			if seg.kind != k.kind {
				continue
			}
			for _, r := range respellings {
				if !r.skipped {
					continue
				}
				tok := respell(item.Token, seg, r)
				if tok == "" {
					continue
				}
				if got := key(t, k.kind, tok); got != want {
					t.Errorf("%s/%s/%s: replay key differs from the original's", k.name, seg.name, r.name)
				}
			}
		}
		if k.name == "id document (ES256)" || k.kind == "sd-jwt" {
			if got := key(t, k.kind, malleateES256(t, item.Token)); got != want {
				t.Errorf("%s: malleated signature changes the replay key", k.name)
			}
		}
	}
}
