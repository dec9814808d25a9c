package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/adapters/decisionlog"
)

// proofDoc is what `audit prove` prints: self-contained, so anyone can
// check it with RFC 6962 and the log's verifier key, without ageassure.
type proofDoc struct {
	DecisionID string `json:"decision_id"`
	// Entry is the logged entry, byte for byte (canonical JSON), as a
	// string: its leaf hash is SHA-256(0x00 ‖ these bytes).
	Entry          string   `json:"entry"`
	LeafIndex      uint64   `json:"leaf_index"`
	TreeSize       uint64   `json:"tree_size"`
	LeafHash       []byte   `json:"leaf_hash"`
	InclusionProof [][]byte `json:"inclusion_proof"`
	RootHash       []byte   `json:"root_hash"`
	// Checkpoint is the signed checkpoint (C2SP tlog-checkpoint) whose root
	// the proof reaches.
	Checkpoint         string `json:"checkpoint"`
	CheckpointVerified bool   `json:"checkpoint_verified"`
	HowToVerify        string `json:"how_to_verify"`
}

const howToVerify = "Check the checkpoint's signature with the log's verifier key (C2SP signed-note); " +
	"leaf_hash = SHA-256(0x00 || entry); fold inclusion_proof from leaf_hash at leaf_index in a tree of tree_size " +
	"(RFC 9162 section 2.1.3.2) and compare with the checkpoint's root hash. Hashes are base64."

// auditProve prints a decision's entry and its inclusion proof.
func auditProve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := auditFlags("prove", "Usage: ageassure audit prove --log <dir|URL> --decision-id <id> [--key <verifier key>]\n\n"+
		"Finds the decision's entry and prints it, as JSON, with its inclusion proof against the log's\n"+
		"current checkpoint: verifiable by anyone with the log's verifier key.", stderr)
	logSrc := fs.String("log", "", "the log: a `folder` or the service's URL")
	id := fs.String("decision-id", "", "the decision's `id` (the attestation's jti)")
	key := fs.String("key", "", "the log's verifier `key`, inline or as a file: check the checkpoint's signature first\n(without it the proof is printed with checkpoint_verified false)")
	progress := fs.Bool("progress", false, "draw a progress bar on stderr even when it is not a terminal")
	if code, ok := parseAuditFlags(fs, args, stderr); !ok {
		return code
	}
	if *id == "" {
		fmt.Fprintln(stderr, "ageassure audit prove: --decision-id is required")
		return 2
	}
	var v note.Verifier
	if *key != "" {
		var err error
		if v, err = loadVerifier(*key); err != nil {
			fmt.Fprintf(stderr, "ageassure audit prove: %v\n", err)
			return 2
		}
	}
	r, err := openLogSource(*logSrc)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit prove: %v\n", err)
		return 2
	}
	update, finish := progressFunc(stderr, *progress, "searching")
	p, err := decisionlog.Prove(ctx, r, v, *id, update)
	finish()
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit prove: %v\n", err)
		return 1
	}
	doc := proofDoc{
		DecisionID: p.DecisionID, Entry: string(p.Entry), LeafIndex: p.Index, TreeSize: p.Checkpoint.Size,
		LeafHash: p.LeafHash, InclusionProof: p.Hashes, RootHash: p.Checkpoint.Hash,
		Checkpoint: string(p.Checkpoint.Raw), CheckpointVerified: p.Checkpoint.Verified, HowToVerify: howToVerify,
	}
	if doc.InclusionProof == nil {
		doc.InclusionProof = [][]byte{}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintf(stderr, "ageassure audit prove: %v\n", err)
		return 1
	}
	if !p.Checkpoint.Verified {
		fmt.Fprintln(stderr, "ageassure audit prove: warning: no --key, the checkpoint's signature was not checked")
	}
	return 0
}
