package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// fetcher is what Tessera's client fetchers provide.
type fetcher interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, l, i uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, i uint64, p uint8) ([]byte, error)
}

// Reader reads a decision log as an auditor does: from its folder, or from
// the service over HTTP, through Tessera's tlog-tiles client fetchers.
type Reader struct {
	f        fetcher
	location string
	keyURL   string // for URL sources: where GET /log/key is
	hc       *http.Client
}

// OpenReader opens a log folder, or an http(s) URL: the service's base URL
// (the log is then read under <URL>/log/), or the log's own base URL if it
// already ends in /log. hc may be nil (http.DefaultClient).
func OpenReader(location string, hc *http.Client) (*Reader, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		u, err := url.Parse(location)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%w: %q is not a URL", ErrSource, location)
		}
		u.RawQuery, u.Fragment = "", ""
		u.Path = strings.TrimSuffix(u.Path, "/")
		if !strings.HasSuffix(u.Path, "/log") {
			u.Path += "/log"
		}
		u.Path += "/"
		f, err := client.NewHTTPFetcher(u, hc)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSource, err)
		}
		return &Reader{f: f, location: u.String(), keyURL: u.String() + "key", hc: hc}, nil
	}
	fi, err := os.Stat(location)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a folder", ErrSource, location)
	}
	return &Reader{f: client.FileFetcher{Root: location}, location: location, hc: hc}, nil
}

// Location is where the reader reads from, for messages.
func (r *Reader) Location() string { return r.location }

// FetchVerifierKey fetches the verifier key the service publishes at
// /log/key. Only for URL sources; trust it only as far as the channel it
// came over: an auditor should pin the key out of band.
func (r *Reader) FetchVerifierKey(ctx context.Context) (string, error) {
	if r.keyURL == "" {
		return "", fmt.Errorf("%w: %s is a folder, not a URL: read the key with --log-dir", ErrSource, r.location)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.keyURL, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSource, err)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSource, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%w: GET %s: %s", ErrSource, r.keyURL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrSource, err)
	}
	vkey := strings.TrimSpace(string(b))
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("%w: %s did not serve a note verifier key", ErrSource, r.keyURL)
	}
	return vkey, nil
}

// ReadVerifierKey returns the verifier key of the log in dir from its note
// key file (default location unless keyFile is set).
func ReadVerifierKey(dir, keyFile string) (string, error) {
	if keyFile == "" {
		keyFile = dir + string(os.PathSeparator) + keyDirName + string(os.PathSeparator) + keyFileName
	}
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrKey, err)
	}
	k, err := parseKey(strings.TrimSpace(string(raw)), keyFile)
	if err != nil {
		return "", err
	}
	return k.verifier, nil
}

// Checkpoint is a parsed checkpoint with its raw signed note.
type Checkpoint struct {
	flog.Checkpoint
	Raw []byte
	// Verified is true when the signature was checked against a key.
	Verified bool
}

// Error kinds of checkpoint reading, for tests and messages.
var (
	errCheckpointMissing   = errors.New("checkpoint missing")
	errSignatureInvalid    = errors.New("checkpoint signature invalid")
	errCheckpointMalformed = errors.New("checkpoint malformed")
)

// ReadCheckpoint fetches the log's checkpoint. With a verifier it checks
// the signature and that the origin is the key's name; with nil it only
// parses (for commands an auditor runs without a key, which say so).
func (r *Reader) ReadCheckpoint(ctx context.Context, v note.Verifier) (*Checkpoint, error) {
	raw, err := r.f.ReadCheckpoint(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errCheckpointMissing
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	return ParseCheckpoint(raw, v)
}

// ParseCheckpoint parses a signed checkpoint, verifying it when v is not
// nil. Errors name the failure: signature, origin or format.
func ParseCheckpoint(raw []byte, v note.Verifier) (*Checkpoint, error) {
	var text string
	verified := false
	if v != nil {
		n, err := note.Open(raw, note.VerifierList(v))
		if err != nil {
			var unknown *note.UnverifiedNoteError
			var invalid *note.InvalidSignatureError
			switch {
			case errors.As(err, &unknown):
				return nil, fmt.Errorf("%w: no signature by key %s", errSignatureInvalid, v.Name())
			case errors.As(err, &invalid):
				return nil, fmt.Errorf("%w: bad signature by key %s", errSignatureInvalid, v.Name())
			}
			return nil, fmt.Errorf("%w: %v", errCheckpointMalformed, err)
		}
		text, verified = n.Text, true
	} else {
		_, err := note.Open(raw, note.VerifierList())
		var unknown *note.UnverifiedNoteError
		if !errors.As(err, &unknown) {
			return nil, fmt.Errorf("%w: not a signed note", errCheckpointMalformed)
		}
		text = unknown.Note.Text
	}
	var cp flog.Checkpoint
	if _, err := cp.Unmarshal([]byte(text)); err != nil {
		return nil, fmt.Errorf("%w: %v", errCheckpointMalformed, err)
	}
	if v != nil && cp.Origin != v.Name() {
		return nil, fmt.Errorf("%w: origin %q is not the key's name %q", errSignatureInvalid, cp.Origin, v.Name())
	}
	return &Checkpoint{Checkpoint: cp, Raw: raw, Verified: verified}, nil
}

// Leaf is one entry read from the log.
type Leaf struct {
	Index uint64
	Data  []byte
}

// bundle fetches and parses entry bundle idx of a tree of the given size.
// A missing bundle is fs.ErrNotExist, a transport failure ErrSource, and
// anything else a bundle that is there but malformed.
func (r *Reader) bundle(ctx context.Context, idx, size uint64) ([][]byte, error) {
	raw, err := r.f.ReadEntryBundle(ctx, idx, layout.PartialTileSize(0, idx, size))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return nil, err
	}
	return b.Entries, nil
}

// Leaves calls fn for every entry of a tree of the given size, in order,
// stopping at the first error (from the log or from fn).
func (r *Reader) Leaves(ctx context.Context, size uint64, fn func(Leaf) error) error {
	for idx := uint64(0); idx*layout.EntryBundleWidth < size; idx++ {
		entries, err := r.bundle(ctx, idx, size)
		if err != nil {
			return fmt.Errorf("%s: %w", layout.EntriesPath(idx, layout.PartialTileSize(0, idx, size)), err)
		}
		want := bundleLen(idx, size)
		if uint64(len(entries)) < want {
			return fmt.Errorf("%w: %s holds %d entries, want %d", ErrSource,
				layout.EntriesPath(idx, layout.PartialTileSize(0, idx, size)), len(entries), want)
		}
		for i, e := range entries[:want] {
			if err := fn(Leaf{Index: idx*layout.EntryBundleWidth + uint64(i), Data: e}); err != nil {
				return err
			}
		}
	}
	return nil
}

// bundleLen is how many entries of bundle idx a tree of size holds.
func bundleLen(idx, size uint64) uint64 {
	if p := layout.PartialTileSize(0, idx, size); p != 0 {
		return uint64(p)
	}
	return layout.EntryBundleWidth
}

// TileFetcher exposes the reader's tile fetcher for Tessera's client
// (proof builders) and independent checks.
func (r *Reader) TileFetcher() client.TileFetcherFunc { return r.f.ReadTile }

// LeafHash is the RFC 6962 leaf hash of an entry.
func LeafHash(data []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(data) }
