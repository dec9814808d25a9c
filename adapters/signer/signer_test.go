package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// --- key fixtures -----------------------------------------------------------

func mustEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustECDSA(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemPKCS8(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pemSEC1(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func pemPublic(t testing.TB, k crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func jwkJSON(t testing.TB, k any) []byte {
	t.Helper()
	j, err := jwk.FromRaw(k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kidOf computes the RFC 7638 thumbprint independently of the package.
func kidOf(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	j, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := j.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64URL.EncodeToString(tp)
}

type fileSpec struct {
	name string
	data []byte
	age  time.Duration // how long ago the file was modified
	mode os.FileMode
}

func writeDir(t testing.TB, files []fileSpec) string {
	t.Helper()
	dir := t.TempDir()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		mode := f.mode
		if mode == 0 {
			mode = 0o600
		}
		if err := os.WriteFile(p, f.data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile is subject to umask
			t.Fatal(err)
		}
		mt := base.Add(-f.age)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// claims is a realistic ~400-byte attestation payload with no identity data.
func claims(now time.Time) []byte {
	return fmt.Appendf(nil, `{"iss":"https://ageassure.example.org","aud":"https://platform.example.com",`+
		`"iat":%d,"nbf":%d,"exp":%d,"jti":"0f8c6f2e-5a57-4d4c-9b8e-2b1f3f0d6a41",`+
		`"age_over":{"13":true,"16":true,"18":true,"21":false},"method":"facial_estimation",`+
		`"assurance":"substantial","policy":"uk-osa-2025-07","nonce":"Zk9xR2c0dFhZc1ZqN2xQbQ",`+
		`"cnf":{"jkt":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"}}`,
		now.Unix(), now.Unix(), now.Add(10*time.Minute).Unix())
}

// verify parses token against the JWK Set document jwks, as a platform would.
func verify(token, jwks []byte) (jwt.Token, error) {
	set, err := jwk.Parse(jwks)
	if err != nil {
		return nil, err
	}
	return jwt.Parse(token, jwt.WithKeySet(set))
}

// --- Load -------------------------------------------------------------------

func TestLoad(t *testing.T) {
	ed := mustEd25519(t)
	p256a := mustECDSA(t, elliptic.P256())
	p256b := mustECDSA(t, elliptic.P256())
	edJWK := mustEd25519(t)
	ecJWK := mustECDSA(t, elliptic.P256())

	all := []fileSpec{
		{name: "ed25519.pem", data: pemPKCS8(t, ed), age: 50 * time.Hour},
		{name: "p256-sec1.key", data: pemSEC1(t, p256a), age: 40 * time.Hour},
		{name: "p256-pkcs8.pem", data: pemPKCS8(t, p256b), age: 30 * time.Hour},
		{name: "ed.jwk", data: jwkJSON(t, edJWK), age: 20 * time.Hour},
		{name: "ec.json", data: jwkJSON(t, ecJWK), age: 10 * time.Hour},
	}
	allKids := []string{
		kidOf(t, ed.Public()), kidOf(t, p256a.Public()), kidOf(t, p256b.Public()),
		kidOf(t, edJWK.Public()), kidOf(t, ecJWK.Public()),
	}
	// withAge returns all with file i made the newest.
	withNewest := func(i int) []fileSpec {
		fs := slices.Clone(all)
		fs[i].age = 0
		return fs
	}

	tests := []struct {
		name     string
		files    []fileSpec
		wantKid  string
		wantAlg  string
		wantKids []string
	}{
		{"jwk EC newest", all, kidOf(t, ecJWK.Public()), "ES256", allKids},
		{"ed25519 pem newest", withNewest(0), kidOf(t, ed.Public()), "EdDSA", allKids},
		{"sec1 newest", withNewest(1), kidOf(t, p256a.Public()), "ES256", allKids},
		{"pkcs8 p256 newest", withNewest(2), kidOf(t, p256b.Public()), "ES256", allKids},
		{"okp jwk newest", withNewest(3), kidOf(t, edJWK.Public()), "EdDSA", allKids},
		{
			"tie broken by greatest name",
			[]fileSpec{
				{name: "a.pem", data: pemPKCS8(t, ed), age: time.Hour},
				{name: "b.pem", data: pemPKCS8(t, p256a), age: time.Hour},
			},
			kidOf(t, p256a.Public()), "ES256",
			[]string{kidOf(t, ed.Public()), kidOf(t, p256a.Public())},
		},
		{
			"same key twice published once",
			[]fileSpec{
				{name: "old.pem", data: pemPKCS8(t, ed), age: time.Hour},
				{name: "new.jwk", data: jwkJSON(t, ed), age: 0},
			},
			kidOf(t, ed.Public()), "EdDSA",
			[]string{kidOf(t, ed.Public())},
		},
		{
			"ignored files",
			[]fileSpec{
				{name: "k.pem", data: pemPKCS8(t, ed)},
				{name: ".hidden.pem", data: []byte("garbage")},
				{name: "README.md", data: []byte("rotate keys monthly")},
				{name: "k.pub", data: pemPublic(t, ed.Public())},
			},
			kidOf(t, ed.Public()), "EdDSA",
			[]string{kidOf(t, ed.Public())},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			s, err := Load(dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := s.KeyID(); got != tt.wantKid {
				t.Errorf("KeyID() = %q, want %q", got, tt.wantKid)
			}
			if got := s.Algorithm(); got != tt.wantAlg {
				t.Errorf("Algorithm() = %q, want %q", got, tt.wantAlg)
			}
			checkJWKS(t, s.JWKS(), tt.wantKids)

			tok, err := s.Sign(claims(time.Now()))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			checkHeader(t, tok, tt.wantAlg, tt.wantKid)
			if _, err := verify(tok, s.JWKS()); err != nil {
				t.Errorf("token does not verify against own JWKS: %v", err)
			}
		})
	}
}

// checkJWKS asserts the document lists exactly wantKids, each a public
// signing key with the members verifiers need.
func checkJWKS(t *testing.T, doc []byte, wantKids []string) {
	t.Helper()
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	var kids []string
	for _, k := range raw.Keys {
		kid, _ := k["kid"].(string)
		kids = append(kids, kid)
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %s publishes private member %q", kid, private)
			}
		}
		if k["use"] != "sig" {
			t.Errorf("key %s: use = %v, want sig", kid, k["use"])
		}
		var want []string
		switch k["alg"] {
		case "EdDSA":
			want = []string{"alg", "crv", "kid", "kty", "use", "x"}
			if k["kty"] != "OKP" || k["crv"] != "Ed25519" {
				t.Errorf("key %s: kty/crv = %v/%v, want OKP/Ed25519", kid, k["kty"], k["crv"])
			}
		case "ES256":
			want = []string{"alg", "crv", "kid", "kty", "use", "x", "y"}
			if k["kty"] != "EC" || k["crv"] != "P-256" {
				t.Errorf("key %s: kty/crv = %v/%v, want EC/P-256", kid, k["kty"], k["crv"])
			}
		default:
			t.Errorf("key %s: alg = %v", kid, k["alg"])
		}
		if got := slices.Sorted(maps.Keys(k)); !slices.Equal(got, want) {
			t.Errorf("key %s members = %v, want %v", kid, got, want)
		}
	}
	slices.Sort(kids)
	wantKids = slices.Sorted(slices.Values(wantKids))
	if !slices.Equal(kids, wantKids) {
		t.Errorf("JWKS kids = %v, want %v", kids, wantKids)
	}
}

// checkHeader asserts the protected header is exactly alg, kid and typ.
func checkHeader(t *testing.T, tok []byte, alg, kid string) {
	t.Helper()
	parts := bytes.Split(tok, []byte("."))
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	hb, err := base64URL.DecodeString(string(parts[0]))
	if err != nil {
		t.Fatalf("header is not base64url: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	want := map[string]any{"alg": alg, "kid": kid, "typ": TokenType}
	if !maps.Equal(h, want) {
		t.Errorf("header = %v, want %v", h, want)
	}
}

func TestLoadWarnings(t *testing.T) {
	ed := mustEd25519(t)
	dir := writeDir(t, []fileSpec{
		{name: "loose.pem", data: pemPKCS8(t, ed), mode: 0o644},
		{name: "tight.pem", data: pemPKCS8(t, mustEd25519(t)), mode: 0o400},
		{name: "notes.txt", data: []byte("hello")},
	})
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	w := strings.Join(s.Warnings(), "\n")
	for _, want := range []string{"loose.pem", "0644", "notes.txt"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q do not mention %q", w, want)
		}
	}
	if strings.Contains(w, "tight.pem") {
		t.Errorf("warnings %q mention a 0400 file", w)
	}
}

func TestLoadFollowsSymlinks(t *testing.T) {
	// The layout of a Kubernetes secret volume.
	ed := mustEd25519(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "..data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "signing.pem"), pemPKCS8(t, ed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "signing.pem"), filepath.Join(dir, "signing.pem")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	s, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := s.KeyID(), kidOf(t, ed.Public()); got != want {
		t.Errorf("KeyID() = %q, want %q", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	ed := mustEd25519(t)
	rsaKey := mustRSA(t)
	p384 := mustECDSA(t, elliptic.P384())
	p256 := mustECDSA(t, elliptic.P256())
	good := fileSpec{name: "good.pem", data: pemPKCS8(t, ed)}

	tests := []struct {
		name     string
		files    []fileSpec
		wantErr  error
		wantFile string // the error must name this file
	}{
		{"empty folder", nil, ErrNoKeys, ""},
		{"only ignored files", []fileSpec{{name: "README", data: []byte("x")}, {name: ".k.pem", data: []byte("x")}}, ErrNoKeys, ""},
		{"garbage pem", []fileSpec{good, {name: "bad.pem", data: []byte("not a key")}}, ErrMalformedKey, "bad.pem"},
		{"garbage jwk", []fileSpec{good, {name: "bad.json", data: []byte(`{"kty":"EC","crv":"P-256","d":"!!"}`)}}, ErrMalformedKey, "bad.json"},
		{"corrupt pkcs8", []fileSpec{good, {name: "bad.key", data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}})}}, ErrMalformedKey, "bad.key"},
		{"rsa pkcs8", []fileSpec{good, {name: "rsa.pem", data: pemPKCS8(t, rsaKey)}}, ErrUnsupportedKey, "rsa.pem"},
		{"rsa pkcs1", []fileSpec{good, {name: "rsa.key", data: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})}}, ErrUnsupportedKey, "rsa.key"},
		{"rsa jwk", []fileSpec{good, {name: "rsa.jwk", data: jwkJSON(t, rsaKey)}}, ErrUnsupportedKey, "rsa.jwk"},
		{"p384 sec1", []fileSpec{good, {name: "p384.pem", data: pemSEC1(t, p384)}}, ErrUnsupportedKey, "p384.pem"},
		{"p384 pkcs8", []fileSpec{good, {name: "p384.key", data: pemPKCS8(t, p384)}}, ErrUnsupportedKey, "p384.key"},
		{"p384 jwk", []fileSpec{good, {name: "p384.json", data: jwkJSON(t, p384)}}, ErrUnsupportedKey, "p384.json"},
		{"symmetric jwk", []fileSpec{good, {name: "oct.jwk", data: []byte(`{"kty":"oct","k":"c2VjcmV0"}`)}}, ErrUnsupportedKey, "oct.jwk"},
		{"public pem", []fileSpec{good, {name: "pub.pem", data: pemPublic(t, ed.Public())}}, ErrPublicKeyOnly, "pub.pem"},
		{"public jwk", []fileSpec{good, {name: "pub.jwk", data: jwkJSON(t, p256.Public())}}, ErrPublicKeyOnly, "pub.jwk"},
		{"two keys in one file", []fileSpec{good, {name: "two.pem", data: append(pemPKCS8(t, ed), pemSEC1(t, p256)...)}}, ErrMalformedKey, "two.pem"},
		{"jwk set", []fileSpec{good, {name: "set.json", data: fmt.Appendf(nil, `{"keys":[%s]}`, jwkJSON(t, ed))}}, ErrMalformedKey, "set.json"},
		{"encrypted pkcs8", []fileSpec{good, {name: "enc.pem", data: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})}}, ErrUnsupportedKey, "enc.pem"},
		{
			"inconsistent EC jwk",
			[]fileSpec{good, {name: "mixed.json", data: func() []byte {
				var m map[string]any
				_ = json.Unmarshal(jwkJSON(t, p256), &m)
				var other map[string]any
				_ = json.Unmarshal(jwkJSON(t, mustECDSA(t, elliptic.P256())), &other)
				m["d"] = other["d"]
				b, _ := json.Marshal(m)
				return b
			}()}},
			ErrMalformedKey, "mixed.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			s, err := Load(dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load() = %v, %v; want error %v", s, err, tt.wantErr)
			}
			t.Log(err)
			if tt.wantFile != "" && !strings.Contains(err.Error(), filepath.Join(dir, tt.wantFile)) {
				t.Errorf("error %q does not name %s", err, tt.wantFile)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dangling := writeDir(t, nil)
	if err := os.Symlink(filepath.Join(dangling, "nowhere"), filepath.Join(dangling, "k.pem")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	for _, tt := range []struct {
		name, dir string
		want      error
	}{
		{"missing", filepath.Join(dir, "missing"), os.ErrNotExist},
		{"not a directory", file, nil},
		{"dangling key symlink", dangling, os.ErrNotExist},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Load() error = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("unreadable file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores file permissions")
		}
		d := writeDir(t, []fileSpec{{name: "k.pem", data: pemPKCS8(t, mustEd25519(t)), mode: 0o200}})
		if _, err := Load(d); !errors.Is(err, os.ErrPermission) {
			t.Errorf("Load() error = %v, want %v", err, os.ErrPermission)
		}
	})
}

// --- Sign / verify ----------------------------------------------------------

func TestSignVerify(t *testing.T) {
	edSigner, err := New(mustEd25519(t))
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := New(mustECDSA(t, elliptic.P256()))
	if err != nil {
		t.Fatal(err)
	}
	eph, err := Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	payload := claims(time.Now())

	for _, tt := range []struct {
		name    string
		s       *Signer
		wantAlg string
	}{
		{"EdDSA", edSigner, "EdDSA"},
		{"ES256", ecSigner, "ES256"},
		{"Ephemeral", eph, "EdDSA"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Algorithm(); got != tt.wantAlg {
				t.Errorf("Algorithm() = %q, want %q", got, tt.wantAlg)
			}
			tok, err := tt.s.Sign(payload)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			checkHeader(t, tok, tt.wantAlg, tt.s.KeyID())

			parsed, err := verify(tok, tt.s.JWKS())
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got, _ := parsed.Get("policy"); got != "uk-osa-2025-07" {
				t.Errorf("claim policy = %v", got)
			}
			if got, err := jws.Verify(tok, jws.WithKeySet(tt.s.PublicKeys())); err != nil || !bytes.Equal(got, payload) {
				t.Errorf("jws.Verify = %q, %v; want the payload", got, err)
			}

			parts := bytes.Split(tok, []byte("."))
			tamperedPayload := slices.Concat(parts[0], []byte("."),
				[]byte(base64URL.EncodeToString(bytes.Replace(payload, []byte(`"21":false`), []byte(`"21":true `), 1))),
				[]byte("."), parts[2])
			sig, _ := base64URL.DecodeString(string(parts[2]))
			sig[len(sig)/2] ^= 1
			tamperedSig := slices.Concat(parts[0], []byte("."), parts[1], []byte("."), []byte(base64URL.EncodeToString(sig)))

			for _, bad := range []struct {
				name        string
				token, jwks []byte
			}{
				{"tampered payload", tamperedPayload, tt.s.JWKS()},
				{"tampered signature", tamperedSig, tt.s.JWKS()},
				{"other signer's JWKS", tok, eph2(t).JWKS()},
			} {
				if _, err := verify(bad.token, bad.jwks); err == nil {
					t.Errorf("%s: verified", bad.name)
				}
			}
		})
	}
}

func eph2(t *testing.T) *Signer {
	t.Helper()
	s, err := Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRetiredKeyStillVerifies is the point of publishing every key: a token
// signed before a rotation verifies against the JWKS served after it.
func TestRetiredKeyStillVerifies(t *testing.T) {
	oldKey, newKey := mustEd25519(t), mustECDSA(t, elliptic.P256())
	before := writeDir(t, []fileSpec{{name: "2025-01.pem", data: pemPKCS8(t, oldKey), age: time.Hour}})
	s1, err := Load(before)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s1.Sign(claims(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	after := writeDir(t, []fileSpec{
		{name: "2025-01.pem", data: pemPKCS8(t, oldKey), age: time.Hour},
		{name: "2025-02.pem", data: pemSEC1(t, newKey)},
	})
	s2, err := Load(after)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID() == s1.KeyID() {
		t.Fatal("rotation did not change the signing key")
	}
	if _, err := verify(tok, s2.JWKS()); err != nil {
		t.Errorf("token signed by retired key does not verify: %v", err)
	}
}

// TestKeyIDIsRFC7638 checks the kid against the Ed25519 thumbprint of
// RFC 8037 Appendix A.3, so replicas and other implementations agree.
func TestKeyIDIsRFC7638(t *testing.T) {
	seed, err := base64URL.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.KeyID(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("KeyID() = %q, want %q", got, want)
	}
}

func TestNew(t *testing.T) {
	ed, ec := mustEd25519(t), mustECDSA(t, elliptic.P256())
	s, err := New(ed, ec, ed)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.KeyID(), kidOf(t, ed.Public()); got != want {
		t.Errorf("KeyID() = %q, want the first key %q", got, want)
	}
	checkJWKS(t, s.JWKS(), []string{kidOf(t, ed.Public()), kidOf(t, ec.Public())})

	for _, tt := range []struct {
		name string
		key  crypto.Signer
		want error
	}{
		{"nil", nil, ErrMalformedKey},
		{"P-384", mustECDSA(t, elliptic.P384()), ErrUnsupportedKey},
		{"short ed25519", ed25519.PrivateKey(make([]byte, 10)), ErrMalformedKey},
		{"typed nil ecdsa", (*ecdsa.PrivateKey)(nil), ErrMalformedKey},
		{"empty ecdsa", &ecdsa.PrivateKey{}, ErrMalformedKey},
		{"ecdsa with another key's point", &ecdsa.PrivateKey{PublicKey: mustECDSA(t, elliptic.P256()).PublicKey, D: ec.D}, ErrMalformedKey},
		{"rsa", mustRSA(t), ErrUnsupportedKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.key); !errors.Is(err, tt.want) {
				t.Errorf("New() error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestNewRederivesEd25519Public checks that a key whose stored public half
// is wrong still publishes (and is identified by) the public key its seed
// makes, which is what verifiers will need.
func TestNewRederivesEd25519Public(t *testing.T) {
	ed := mustEd25519(t)
	bad := slices.Clone(ed)
	copy(bad[32:], mustEd25519(t)[32:])
	s, err := New(bad)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.KeyID(), kidOf(t, ed.Public()); got != want {
		t.Errorf("KeyID() = %q, want %q", got, want)
	}
	tok, err := s.Sign(claims(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(tok, s.JWKS()); err != nil {
		t.Error(err)
	}
}

func mustRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestImmutable checks that callers cannot alter what the Signer serves.
func TestImmutable(t *testing.T) {
	s := eph2(t)
	orig := s.JWKS()
	b := s.JWKS()
	clear(b)
	set := s.PublicKeys()
	k, _ := set.Key(0)
	_ = k.Set(jwk.AlgorithmKey, jwa.RS256)
	_ = set.AddKey(k)
	if !bytes.Equal(s.JWKS(), orig) {
		t.Error("JWKS changed after modifying returned values")
	}
	if got := s.PublicKeys(); got.Len() != 1 {
		t.Errorf("PublicKeys().Len() = %d, want 1", got.Len())
	}
}

func TestSignConcurrent(t *testing.T) {
	for _, s := range []*Signer{eph2(t), mustSigner(t, mustECDSA(t, elliptic.P256()))} {
		payload := claims(time.Now())
		jwks := s.JWKS()
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Go(func() {
				for range 20 {
					tok, err := s.Sign(payload)
					if err == nil {
						_, err = verify(tok, jwks)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: %v", s.Algorithm(), err)
		}
	}
}

func mustSigner(t testing.TB, k crypto.Signer) *Signer {
	t.Helper()
	s, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// --- benchmarks -------------------------------------------------------------

func BenchmarkSignEdDSA(b *testing.B) {
	benchSign(b, mustSigner(b, mustEd25519(b)))
}

func BenchmarkSignES256(b *testing.B) {
	benchSign(b, mustSigner(b, mustECDSA(b, elliptic.P256())))
}

func benchSign(b *testing.B, s *Signer) {
	payload := claims(time.Now())
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignImpl compares signing through jws.Sign with the hand-rolled
// compact serialization that Sign uses.
func BenchmarkSignImpl(b *testing.B) {
	for _, s := range []*Signer{mustSigner(b, mustEd25519(b)), mustSigner(b, mustECDSA(b, elliptic.P256()))} {
		for _, impl := range []struct {
			name string
			fn   func([]byte) ([]byte, error)
		}{{"jwx", s.signJWX}, {"direct", s.Sign}} {
			b.Run(s.Algorithm()+"/"+impl.name, func(b *testing.B) {
				payload := claims(time.Now())
				b.ReportAllocs()
				for b.Loop() {
					if _, err := impl.fn(payload); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// signJWX is Sign done by jws.Sign, kept to measure Sign against and to check
// that Sign's output is what jwx itself produces. jwx v2 writes into the
// protected headers it is given, so they are built on every call.
func (s *Signer) signJWX(payload []byte) ([]byte, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, s.kid); err != nil {
		return nil, err
	}
	if err := hdr.Set(jws.TypeKey, TokenType); err != nil {
		return nil, err
	}
	return jws.Sign(payload, jws.WithKey(s.alg, s.priv, jws.WithProtectedHeaders(hdr)))
}

// TestSignMatchesJWX checks the hand-rolled serialization against jws.Sign:
// Ed25519 is deterministic, so the tokens must be byte-identical; ECDSA is
// not, so only the header and payload segments are compared.
func TestSignMatchesJWX(t *testing.T) {
	payload := claims(time.Now())
	for _, s := range []*Signer{eph2(t), mustSigner(t, mustECDSA(t, elliptic.P256()))} {
		t.Run(s.Algorithm(), func(t *testing.T) {
			got, err := s.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			want, err := s.signJWX(payload)
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() == "ES256" {
				cut := func(b []byte) []byte { return b[:bytes.LastIndexByte(b, '.')] }
				got, want = cut(got), cut(want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Sign() = %s\njws.Sign() = %s", got, want)
			}
		})
	}
}
