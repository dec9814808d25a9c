package decisionlog

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/service/logentry"
)

// ErrNotVerified: Verify found a problem (VerifyResult.Err wraps it).
var ErrNotVerified = errors.New("decisionlog: log not verified")

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Since is a checkpoint saved from an earlier verification (raw signed
	// note). The log must have grown from it consistently: same entries,
	// never smaller.
	Since []byte
	// MaxProblems stops collecting after this many (default 100): one
	// broken bundle can otherwise produce thousands of lines.
	MaxProblems int
	// Progress, if set, is called after each entry bundle with the number
	// of entries checked so far and the total.
	Progress func(done, total uint64)
	// Entry, if set, is called with every entry the tree is recomputed
	// from, in order, with exactly the bytes hashed. A caller that reads
	// the log's contents through it (audit report) reads in the same pass
	// what was verified, not a second fetch the log could answer
	// differently. It is only trustworthy once the result is OK.
	Entry func(Leaf)
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	// Checkpoint is the log's checkpoint, if it could be read and verified.
	Checkpoint *Checkpoint
	// Problems name each failure and where it is ("entry 17: …",
	// "checkpoint signature invalid: …"). Empty means the log verified.
	Problems []string
	// Truncated counts problems beyond MaxProblems.
	Truncated int
	// Entries is the number of entries checked.
	Entries uint64
}

// OK reports whether the log verified.
func (r *VerifyResult) OK() bool { return len(r.Problems) == 0 }

// Err is nil when the log verified; otherwise one line naming the first
// problem and how many more there are.
func (r *VerifyResult) Err() error {
	if r.OK() {
		return nil
	}
	more := len(r.Problems) - 1 + r.Truncated
	switch more {
	case 0:
		return fmt.Errorf("%w: %s", ErrNotVerified, r.Problems[0])
	case 1:
		return fmt.Errorf("%w: %s (and 1 more problem)", ErrNotVerified, r.Problems[0])
	}
	return fmt.Errorf("%w: %s (and %d more problems)", ErrNotVerified, r.Problems[0], more)
}

func (r *VerifyResult) add(max int, format string, args ...any) {
	if len(r.Problems) >= max {
		r.Truncated++
		return
	}
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Verify checks a whole log against its verifier key:
//
//  1. the checkpoint is signed by the key and names the key's origin;
//  2. with a saved checkpoint: it is not rolled back, and the log is
//     consistent with it (a consistency proof from the tiles, and the
//     entries' own root at the saved size);
//  3. every entry bundle is present and complete, and every entry parses
//     as a canonical, schema-valid (PII-free) entry with a unique decision
//     id;
//  4. the tree is recomputed from the entries (transparency-dev/merkle's
//     compact range, RFC 6962 hashing): every hash tile must hold exactly
//     the recomputed hashes, and the root must be the checkpoint's.
//
// Problems in the log are reported in the result, each naming what and
// where; the error is only for a log that cannot be read at all (network,
// permissions) or a malformed Since.
func Verify(ctx context.Context, r *Reader, v note.Verifier, opts VerifyOptions) (*VerifyResult, error) {
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = 100
	}
	res := &VerifyResult{}
	add := func(format string, args ...any) { res.add(opts.MaxProblems, format, args...) }

	cp, err := r.ReadCheckpoint(ctx, v)
	switch {
	case errors.Is(err, ErrSource):
		return nil, err
	case err != nil:
		add("%v", err)
		return res, nil
	}
	res.Checkpoint = cp

	var since *Checkpoint
	if opts.Since != nil {
		since, err = ParseCheckpoint(opts.Since, v)
		if err != nil {
			return nil, fmt.Errorf("saved checkpoint: %w", err)
		}
		switch {
		case cp.Size < since.Size:
			add("checkpoint rolled back: size %d < saved %d", cp.Size, since.Size)
			since = nil
		case cp.Size == since.Size && !bytes.Equal(cp.Hash, since.Hash):
			add("checkpoint forked: size %d as saved, but a different root", cp.Size)
			since = nil
		case cp.Size > since.Size && since.Size > 0:
			if err := checkConsistency(ctx, r, since, cp); err != nil {
				add("checkpoint inconsistent with saved checkpoint (size %d → %d): %v", since.Size, cp.Size, err)
			}
		}
	}

	t := newTreeCheck(ctx, r, cp.Size, add)
	seen := make(map[string]uint64)
	for idx := uint64(0); idx*layout.EntryBundleWidth < cp.Size; idx++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		want := bundleLen(idx, cp.Size)
		path := layout.EntriesPath(idx, layout.PartialTileSize(0, idx, cp.Size))
		first := idx * layout.EntryBundleWidth
		entries, err := r.bundle(ctx, idx, cp.Size)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			add("%s: missing (entries %d–%d)", path, first, first+want-1)
			t.broken = true
			continue
		case errors.Is(err, ErrSource):
			return nil, fmt.Errorf("%s: %w", path, err)
		case err != nil:
			add("%s: malformed (entries %d–%d): %v", path, first, first+want-1, err)
			t.broken = true
			continue
		case uint64(len(entries)) < want:
			add("%s: holds %d entries, the checkpoint implies %d (entries removed)", path, len(entries), want)
			t.broken = true
		}
		n := min(uint64(len(entries)), want)
		for i, data := range entries[:n] {
			index := first + uint64(i)
			checkEntry(index, data, seen, add)
			t.append(index, data)
			if opts.Entry != nil {
				opts.Entry(Leaf{Index: index, Data: data})
			}
			if since != nil && t.tree != nil && t.tree.End() == since.Size {
				t.checkRootAt(since, "saved checkpoint")
			}
		}
		res.Entries += n
		if opts.Progress != nil {
			opts.Progress(first+n, cp.Size)
		}
	}
	t.finish(cp)
	return res, nil
}

// checkEntry checks one entry's encoding and schema and that its decision
// id is new. Messages never quote the entry.
func checkEntry(index uint64, data []byte, seen map[string]uint64, add func(string, ...any)) {
	e, err := logentry.Parse(data)
	switch {
	case errors.Is(err, logentry.ErrNotCanonical):
		add("entry %d: not canonical", index)
		return
	case err != nil:
		add("entry %d: malformed (not a JSON entry of schema v%d)", index, logentry.Version)
		return
	}
	if err := e.Validate(); err != nil {
		add("entry %d: %v", index, err)
		return
	}
	if prev, dup := seen[e.DecisionID]; dup {
		add("entry %d: decision id repeats entry %d", index, prev)
		return
	}
	seen[e.DecisionID] = index
}

// checkConsistency proves, from the log's tiles, that cp extends since.
func checkConsistency(ctx context.Context, r *Reader, since, cp *Checkpoint) error {
	pb, err := client.NewProofBuilder(ctx, cp.Size, r.TileFetcher())
	if err != nil {
		return err
	}
	p, err := pb.ConsistencyProof(ctx, since.Size, cp.Size)
	if err != nil {
		return fmt.Errorf("no consistency proof: %v", err)
	}
	return proof.VerifyConsistency(rfc6962.DefaultHasher, since.Size, cp.Size, p, since.Hash, cp.Hash)
}

// treeCheck recomputes the tree from the entries with a compact range and
// compares every tile the log holds against it, tile by tile, as the
// entries stream past (the approach of Tessera's fsck, with messages that
// name entries).
type treeCheck struct {
	ctx     context.Context
	r       *Reader
	size    uint64
	add     func(string, ...any)
	tree    *compact.Range
	pending map[compact.NodeID][][]byte // tile (level, index) → hashes so far
	broken  bool                        // an entry is missing: no tree to compare
}

func newTreeCheck(ctx context.Context, r *Reader, size uint64, add func(string, ...any)) *treeCheck {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return &treeCheck{ctx: ctx, r: r, size: size, add: add, tree: rf.NewEmptyRange(0),
		pending: make(map[compact.NodeID][][]byte)}
}

func (t *treeCheck) append(index uint64, data []byte) {
	if t.broken {
		return
	}
	if err := t.tree.Append(rfc6962.DefaultHasher.HashLeaf(data), t.visit); err != nil {
		t.add("entry %d: cannot add to tree: %v", index, err)
		t.broken = true
	}
}

// visit collects the hashes that tiles store (tree levels 0, 8, 16, …) and
// checks a tile as soon as it is full.
func (t *treeCheck) visit(id compact.NodeID, h []byte) {
	if id.Level%layout.TileHeight != 0 {
		return
	}
	k := compact.NodeID{Level: id.Level / layout.TileHeight, Index: id.Index / layout.TileWidth}
	t.pending[k] = append(t.pending[k], h)
	if len(t.pending[k]) == layout.TileWidth {
		t.checkTile(uint64(k.Level), k.Index, t.pending[k])
		delete(t.pending, k)
	}
}

// checkTile compares one tile of the log with the recomputed hashes.
func (t *treeCheck) checkTile(level, index uint64, want [][]byte) {
	p := layout.PartialTileSize(level, index, t.size)
	path := layout.TilePath(level, index, p)
	raw, err := t.r.f.ReadTile(t.ctx, level, index, p)
	if errors.Is(err, fs.ErrNotExist) {
		t.add("%s: missing", path)
		return
	}
	if err != nil {
		t.add("%s: unreadable: %v", path, err)
		return
	}
	var tile api.HashTile
	if err := tile.UnmarshalText(raw); err != nil {
		t.add("%s: malformed: %v", path, err)
		return
	}
	got := tile.Nodes
	if len(got) > len(want) && p != 0 {
		got = got[:len(want)] // a full tile served for a partial one
	}
	if len(got) != len(want) {
		t.add("%s: holds %d hashes, the entries imply %d", path, len(got), len(want))
		return
	}
	for i := range want {
		if bytes.Equal(got[i], want[i]) {
			continue
		}
		if level == 0 {
			e := index*layout.TileWidth + uint64(i)
			t.add("entry %d: hash does not match %s (the entry, its bundle or the tile was altered)", e, path)
		} else {
			t.add("%s: hash %d does not match the tree recomputed from the entries", path, i)
		}
	}
}

// checkRootAt compares the recomputed root of the entries so far with a
// checkpoint of that size.
func (t *treeCheck) checkRootAt(cp *Checkpoint, what string) {
	root, err := t.root()
	if err != nil {
		t.add("%s: cannot compute root: %v", what, err)
		return
	}
	if !bytes.Equal(root, cp.Hash) {
		t.add("%s: root mismatch at size %d: the entries hash to %x, the %s says %x", what, cp.Size, root, what, cp.Hash)
	}
}

func (t *treeCheck) root() ([]byte, error) {
	if t.tree.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	return t.tree.GetRootHash(nil)
}

// finish checks the right-edge (partial) tiles and the root.
func (t *treeCheck) finish(cp *Checkpoint) {
	if t.broken {
		return
	}
	keys := slices.SortedFunc(maps.Keys(t.pending), func(a, b compact.NodeID) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Index, b.Index))
	})
	for _, k := range keys {
		t.checkTile(uint64(k.Level), k.Index, t.pending[k])
	}
	t.checkRootAt(cp, "checkpoint")
}
