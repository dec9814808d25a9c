package decisionlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/service/logentry"
)

// Proof is an entry with its inclusion proof against a checkpoint:
// everything anyone needs to check, with RFC 6962 and the log's verifier
// key alone, that the log committed to this entry.
type Proof struct {
	DecisionID string
	Index      uint64
	Entry      []byte // the canonical entry bytes, as logged
	LeafHash   []byte // SHA-256(0x00 ‖ Entry)
	Hashes     [][]byte
	Checkpoint *Checkpoint
}

// errStopScan ends a scan early once the entry is found.
var errStopScan = errors.New("found")

// Prove finds the entry of decisionID (a linear scan of the entries: the
// log has no index by id, on purpose) and builds its inclusion proof from
// the log's tiles against the current checkpoint, verifying it before
// returning. v may be nil to skip the checkpoint's signature check (the
// result says so in Checkpoint.Verified). progress may be nil.
func Prove(ctx context.Context, r *Reader, v note.Verifier, decisionID string, progress func(done, total uint64)) (*Proof, error) {
	cp, err := r.ReadCheckpoint(ctx, v)
	if err != nil {
		return nil, err
	}
	var found *Proof
	err = r.Leaves(ctx, cp.Size, func(l Leaf) error {
		if progress != nil && (l.Index%1024 == 0 || l.Index+1 == cp.Size) {
			progress(l.Index+1, cp.Size)
		}
		e, err := logentry.Parse(l.Data)
		if err != nil || e.DecisionID != decisionID {
			return nil
		}
		found = &Proof{DecisionID: decisionID, Index: l.Index, Entry: l.Data}
		return errStopScan
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %s (searched %d entries)", ErrNotFound, decisionID, cp.Size)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, r.TileFetcher())
	if err != nil {
		return nil, err
	}
	hashes, err := pb.InclusionProof(ctx, found.Index)
	if err != nil {
		return nil, fmt.Errorf("building inclusion proof for entry %d: %w", found.Index, err)
	}
	found.LeafHash = rfc6962.DefaultHasher.HashLeaf(found.Entry)
	found.Hashes = hashes
	found.Checkpoint = cp
	if err := found.Verify(); err != nil {
		return nil, fmt.Errorf("entry %d: the log's tiles do not prove it: %w", found.Index, err)
	}
	return found, nil
}

// Verify checks the inclusion proof against the checkpoint's root (not the
// checkpoint's signature: that is ParseCheckpoint's job).
func (p *Proof) Verify() error {
	return proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, p.Checkpoint.Size,
		rfc6962.DefaultHasher.HashLeaf(p.Entry), p.Hashes, p.Checkpoint.Hash)
}
