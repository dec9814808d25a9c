package decisionlog

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
)

type ed25519PublicKey = ed25519.PublicKey

// algEd25519 is the note format's algorithm byte for Ed25519 keys.
const algEd25519 = 1

// decodeEd25519Seed decodes the key data of a note private key: the
// algorithm byte then the 32-byte Ed25519 seed.
func decodeEd25519Seed(b64 string) (ed25519.PrivateKey, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) != 1+ed25519.SeedSize || data[0] != algEd25519 {
		return nil, errors.New("note private key is not an Ed25519 key")
	}
	return ed25519.NewKeyFromSeed(data[1:]), nil
}
