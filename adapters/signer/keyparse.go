package signer

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

var base64URL = base64.RawURLEncoding

// format is how a key file is encoded, decided by its extension so that a
// file is never silently parsed as something its name does not promise.
type format int

const (
	formatNone format = iota
	formatPEM
	formatJWK
)

func keyFormat(name string) format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pem", ".key":
		return formatPEM
	case ".json", ".jwk":
		return formatJWK
	default:
		return formatNone
	}
}

// parseKey decodes one private key and returns it as ed25519.PrivateKey or
// *ecdsa.PrivateKey on P-256, re-derived from its private scalar or seed so
// that an inconsistent public part in the file cannot change the kid.
func parseKey(f format, data []byte) (crypto.Signer, error) {
	switch f {
	case formatPEM:
		return parsePEM(data)
	case formatJWK:
		return parseJWK(data)
	default:
		return nil, fmt.Errorf("%w: unknown key file format", ErrMalformedKey)
	}
}

func parsePEM(data []byte) (crypto.Signer, error) {
	var (
		block *pem.Block
		rest  = data
	)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		// openssl ecparam -genkey writes the curve parameters ahead of the
		// key; they carry nothing the key does not.
		if b.Type == "EC PARAMETERS" {
			continue
		}
		if block != nil {
			return nil, fmt.Errorf("%w: more than one PEM block (%s, %s); put each key in its own file", ErrMalformedKey, block.Type, b.Type)
		}
		block = b
	}
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrMalformedKey)
	}
	if len(block.Headers) != 0 {
		// Legacy "Proc-Type: 4,ENCRYPTED" keys.
		return nil, fmt.Errorf("%w: PEM headers present (encrypted keys are not supported)", ErrUnsupportedKey)
	}

	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PKCS#8: %w", ErrMalformedKey, err)
		}
		return normalize(k)
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			if strings.Contains(err.Error(), "unknown elliptic curve") {
				return nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
			}
			return nil, fmt.Errorf("%w: SEC 1: %w", ErrMalformedKey, err)
		}
		return normalize(k)
	case "PUBLIC KEY", "EC PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("%w (PEM block %q)", ErrPublicKeyOnly, block.Type)
	case "RSA PRIVATE KEY":
		return nil, fmt.Errorf("%w: RSA (only Ed25519 and ECDSA P-256 are supported)", ErrUnsupportedKey)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%w: encrypted PKCS#8 (store the key unencrypted and protect the file instead)", ErrUnsupportedKey)
	case "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("%w: OpenSSH format (convert with: ssh-keygen -p -m PKCS8 -f FILE)", ErrUnsupportedKey)
	default:
		return nil, fmt.Errorf("%w: PEM block %q", ErrUnsupportedKey, block.Type)
	}
}

func parseJWK(data []byte) (crypto.Signer, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformedKey)
	}
	var set struct {
		Keys json.RawMessage `json:"keys"`
	}
	if json.Unmarshal(trimmed, &set) == nil && set.Keys != nil {
		// One key per file keeps "newest by modification time" meaningful.
		return nil, fmt.Errorf("%w: a JWK Set; put each key in its own file", ErrMalformedKey)
	}
	key, err := jwk.ParseKey(trimmed)
	if err != nil {
		return nil, fmt.Errorf("%w: JWK: %w", ErrMalformedKey, err)
	}
	private, err := jwk.IsPrivateKey(key)
	if err != nil {
		// Symmetric keys are neither public nor private.
		return nil, fmt.Errorf("%w: JWK of type %s", ErrUnsupportedKey, key.KeyType())
	}
	if !private {
		return nil, fmt.Errorf("%w (JWK of type %s)", ErrPublicKeyOnly, key.KeyType())
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		// jwx reports unknown curves (P-384 is known, but e.g. secp256k1
		// may not be) and malformed members alike.
		return nil, fmt.Errorf("%w: JWK: %w", ErrMalformedKey, err)
	}
	return normalize(raw)
}

// normalize checks the type and curve of a key and rebuilds it from its
// private part alone, so the public key (and so the kid) is always the one
// the private key makes.
func normalize(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%w: Ed25519 private key of %d bytes", ErrMalformedKey, len(k))
		}
		return ed25519.NewKeyFromSeed(k.Seed()), nil
	case *ecdsa.PrivateKey:
		// The big.Int fields are deprecated, but a hand-built key may leave
		// them nil, and the conversions below would panic on that.
		if k == nil || k.Curve == nil || k.D == nil || k.X == nil || k.Y == nil {
			return nil, fmt.Errorf("%w: incomplete ECDSA key", ErrMalformedKey)
		}
		if name := k.Curve.Params().Name; name != "P-256" {
			return nil, fmt.Errorf("%w: ECDSA on curve %s (only Ed25519 and ECDSA P-256 are supported)", ErrUnsupportedKey, name)
		}
		// Bytes also rejects a public point that is not d·G.
		d, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedKey, err)
		}
		nk, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedKey, err)
		}
		if !nk.PublicKey.Equal(&k.PublicKey) {
			return nil, fmt.Errorf("%w: ECDSA public point does not match the private scalar", ErrMalformedKey)
		}
		return nk, nil
	case *rsa.PrivateKey:
		return nil, fmt.Errorf("%w: RSA (only Ed25519 and ECDSA P-256 are supported)", ErrUnsupportedKey)
	case crypto.Signer:
		return nil, fmt.Errorf("%w: %T (only Ed25519 and ECDSA P-256 are supported)", ErrUnsupportedKey, k)
	default:
		return nil, fmt.Errorf("%w: %T is not a private key", ErrUnsupportedKey, k)
	}
}
