package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ageassure/ageassure/adapters/decisionlog"
)

// auditKey prints the log's verifier key: from the key file of a log folder
// (the operator's view) or from GET <URL>/log/key (to pin it, compare it
// with the key obtained out of band).
func auditKey(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := auditFlags("key", "Usage: ageassure audit key (--log-dir <dir> [--log-key <file>] | --log <URL>)\n\n"+
		"Prints the decision log's note verifier key, which `audit verify --key` takes.", stderr)
	logDir := fs.String("log-dir", "", "log `folder`: read the key file of the log in it (as serve --log-dir)")
	logKey := fs.String("log-key", "", "note key `file`, when not the default one inside the log folder (as serve --log-key)")
	logURL := fs.String("log", "", "the service's `URL`: fetch the key it publishes at /log/key")
	if code, ok := parseAuditFlags(fs, args, stderr); !ok {
		return code
	}
	var vkey string
	var err error
	switch {
	case *logURL != "" && *logDir == "":
		var r *decisionlog.Reader
		if r, err = openLogSource(*logURL); err == nil {
			vkey, err = r.FetchVerifierKey(ctx)
		}
	case *logDir != "" || *logKey != "":
		vkey, err = decisionlog.ReadVerifierKey(orDefault(*logDir, "./data/log"), *logKey)
	default:
		fmt.Fprintln(stderr, "ageassure audit key: give --log-dir (or --log-key), or --log <URL>")
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit key: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, vkey)
	return 0
}
