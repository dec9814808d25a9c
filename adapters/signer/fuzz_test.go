package signer

import (
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jws"
)

// FuzzLoadKey feeds arbitrary bytes to the key-file parser in both formats.
// The parser must never panic, must classify every failure under one of the
// sentinel errors, and anything it accepts must sign tokens that verify
// against the published key. Seeds (valid keys of every accepted encoding and
// near misses) are in testdata/fuzz/FuzzLoadKey.
func FuzzLoadKey(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("{}"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	payload := claims(time.Unix(1767225600, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fm := range []format{formatPEM, formatJWK} {
			priv, err := parseKey(fm, data)
			if err != nil {
				if !errors.Is(err, ErrMalformedKey) && !errors.Is(err, ErrUnsupportedKey) && !errors.Is(err, ErrPublicKeyOnly) {
					t.Errorf("format %d: unclassified error %v", fm, err)
				}
				continue
			}
			s, err := New(priv)
			if err != nil {
				t.Fatalf("format %d: parsed key rejected by New: %v", fm, err)
			}
			tok, err := s.Sign(payload)
			if err != nil {
				t.Fatalf("format %d: Sign: %v", fm, err)
			}
			if _, err := jws.Verify(tok, jws.WithKeySet(s.PublicKeys())); err != nil {
				t.Fatalf("format %d: token does not verify: %v", fm, err)
			}
		}
	})
}
