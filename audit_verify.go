package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"

	"github.com/ageassure/ageassure/adapters/decisionlog"
)

// auditVerify checks a whole log and names every problem with where it is.
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := auditFlags("verify", "Usage: ageassure audit verify --log <dir|URL> --key <verifier key> [--since <checkpoint file>]\n\n"+
		"Checks the checkpoint's signature, recomputes the Merkle tree from every entry and compares\n"+
		"it with the log's tiles and the checkpoint, checks consistency with a saved checkpoint, and\n"+
		"checks that every entry is canonical and PII-free by schema. Exit 0 only if all holds; otherwise\n"+
		"each problem is printed with what and where, and the exit status is 1.", stderr)
	logSrc := fs.String("log", "", "the log: a `folder` or the service's URL")
	key := fs.String("key", "", "the log's note verifier `key`, inline or as a file (from: ageassure audit key)")
	since := fs.String("since", "", "a checkpoint `file` saved by an earlier verify: the log must extend it")
	save := fs.String("save-checkpoint", "", "after a successful verify, save the checkpoint to this `file` (for --since next time)")
	progress := fs.Bool("progress", false, "draw a progress bar on stderr even when it is not a terminal")
	if code, ok := parseAuditFlags(fs, args, stderr); !ok {
		return code
	}
	v, err := loadVerifier(*key)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit verify: %v\n", err)
		return 2
	}
	r, err := openLogSource(*logSrc)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit verify: %v\n", err)
		return 2
	}
	opts := decisionlog.VerifyOptions{}
	if *since != "" {
		if opts.Since, err = os.ReadFile(*since); err != nil {
			fmt.Fprintf(stderr, "ageassure audit verify: --since: %v\n", err)
			return 2
		}
	}
	update, finish := progressFunc(stderr, *progress, "verifying")
	opts.Progress = update
	res, err := decisionlog.Verify(ctx, r, v, opts)
	finish()
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit verify: %v\n", err)
		return 1
	}
	if !res.OK() {
		for _, p := range res.Problems {
			fmt.Fprintf(stdout, "FAIL %s\n", p)
		}
		if res.Truncated > 0 {
			fmt.Fprintf(stdout, "FAIL … and %d more problems\n", res.Truncated)
		}
		fmt.Fprintf(stdout, "log %s: NOT VERIFIED (%d problems)\n", r.Location(), len(res.Problems)+res.Truncated)
		return 1
	}
	cp := res.Checkpoint
	fmt.Fprintf(stdout, "log %s: verified\n  origin     %s\n  entries    %d (all canonical and within the schema)\n  root       %s\n  key        %s\n",
		r.Location(), cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Hash), verifierID(v))
	if opts.Since != nil {
		fmt.Fprintln(stdout, "  consistent with the saved checkpoint given by --since")
	}
	if *save != "" {
		if err := os.WriteFile(*save, cp.Raw, 0o644); err != nil {
			fmt.Fprintf(stderr, "ageassure audit verify: --save-checkpoint: %v\n", err)
			return 1
		}
	}
	return 0
}
