package decisionlog

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// noteKey is a log's signing identity: the signer Tessera uses and the
// verifier key string published to auditors.
type noteKey struct {
	signer   note.Signer
	verifier string // "<name>+<hash>+<base64 key>"
}

// loadOrCreateKey reads the key at o.KeyFile, or creates it when it is the
// default key of a new log. It never creates a key for a log that already
// has a checkpoint: that would silently fork the log's identity.
func loadOrCreateKey(o Options, defaultKey bool) (*noteKey, error) {
	raw, err := os.ReadFile(o.KeyFile)
	switch {
	case err == nil:
		if fi, err := os.Stat(o.KeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			o.Logger.Warn("decision log key file is readable by other users; chmod 600 it",
				slog.String("key_file", o.KeyFile), slog.String("mode", fi.Mode().Perm().String()))
		}
		return parseKey(strings.TrimSpace(string(raw)), o.KeyFile)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s: %v", ErrKey, o.KeyFile, err)
	case !defaultKey:
		return nil, fmt.Errorf("%w: %s does not exist (an explicit key file is never created)", ErrKey, o.KeyFile)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "checkpoint")); err == nil {
		return nil, fmt.Errorf("%w: the log in %s has checkpoints but its key %s is missing; restore the key or pass its file",
			ErrKey, o.Dir, o.KeyFile)
	}
	origin := o.Origin
	if origin == "" {
		origin = DefaultOrigin
	}
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, fmt.Errorf("%w: origin %q cannot name a note key: %v", ErrKey, origin, err)
	}
	if err := writeKeyFile(o.KeyFile, skey); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			return loadOrCreateKey(o, false)
		}
		return nil, fmt.Errorf("%w: creating %s: %v", ErrKey, o.KeyFile, err)
	}
	o.Logger.Info("decision log key created", slog.String("key_file", o.KeyFile), slog.String("origin", origin))
	return parseKey(skey, o.KeyFile)
}

// writeKeyFile creates path with mode 0600 (its folder 0700) atomically: the
// key is written to a temporary file, synced, then linked into place, so a
// crash never leaves a half-written key and a concurrent creator loses
// cleanly with fs.ErrExist.
func writeKeyFile(path, skey string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".note-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(skey + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// parseKey turns a note private key into a signer and its verifier key.
// Error messages name the file, never its contents.
func parseKey(skey, file string) (*noteKey, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a note signing key", ErrKey, file)
	}
	vkey, err := verifierKey(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrKey, file, err)
	}
	return &noteKey{signer: signer, verifier: vkey}, nil
}

// verifierKey derives the public verifier key from a note private key
// ("PRIVATE+KEY+<name>+<hash>+<base64(alg ‖ seed)>").
func verifierKey(skey string) (string, error) {
	const prefix = "PRIVATE+KEY+"
	rest, ok := strings.CutPrefix(skey, prefix)
	if !ok {
		return "", errors.New("not a note private key")
	}
	parts := strings.SplitN(rest, "+", 3) // base64 key data may hold "+"
	if len(parts) != 3 {
		return "", errors.New("malformed note private key")
	}
	priv, err := decodeEd25519Seed(parts[2])
	if err != nil {
		return "", err
	}
	vkey, err := note.NewEd25519VerifierKey(parts[0], priv.Public().(ed25519PublicKey))
	if err != nil {
		return "", err
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", err
	}
	return vkey, nil
}
