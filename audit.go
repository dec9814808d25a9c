package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/adapters/decisionlog"
)

const auditUsage = `Usage: ageassure audit <command> [flags]

Commands for regulators and auditors. They read the decision log from its
folder or from the service's URL (the log is under <URL>/log/), and need
nothing but the log and its verifier key.

  key       print the log's note verifier key
  verify    check the signed checkpoint, the whole tree and every entry
  prove     print a decision's entry and its inclusion proof
  report    aggregate decisions by day, jurisdiction, decision, band, method
            (with --key: only from a log that verifies, and saying what was verified)

ageassure audit <command> --help lists a command's flags.
`

// audit runs `ageassure audit <command>`. Exit status: 0 success (for
// verify: the log verified), 1 failure (for verify: a problem found), 2 bad
// usage.
func audit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	switch args[0] {
	case "key":
		return auditKey(ctx, args[1:], stdout, stderr)
	case "verify":
		return auditVerify(ctx, args[1:], stdout, stderr)
	case "prove":
		return auditProve(ctx, args[1:], stdout, stderr)
	case "report":
		return auditReport(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, auditUsage)
		return 0
	}
	fmt.Fprintf(stderr, "ageassure audit: unknown command %q\n\n%s", args[0], auditUsage)
	return 2
}

// auditFlags is a command's flag set, wired like serve's: environment
// fallbacks, --help listing every flag.
func auditFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("audit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = flagUsage(fs, stderr, synopsis)
	return fs
}

// parseAuditFlags parses args; it returns an exit status when the command
// must stop (0 after --help, 2 on bad usage).
func parseAuditFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := parseFlags(fs, args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		fmt.Fprintf(stderr, "ageassure %s: %v\n", fs.Name(), err)
		return 2, false
	}
	return 0, true
}

// auditHTTP is the client for reading a log over HTTP: bounded, so a
// stalled server cannot hang an audit forever.
var auditHTTP = &http.Client{Timeout: 30 * time.Second}

// openLogSource opens --log: a folder or a URL.
func openLogSource(log string) (*decisionlog.Reader, error) {
	if log == "" {
		return nil, errors.New("--log is required (a log folder or the service's URL)")
	}
	return decisionlog.OpenReader(log, auditHTTP)
}

// verifierID names a verifier key as its note key does, without the key
// material: "<name>+<hash>" (the hash in 8 hex digits).
func verifierID(v note.Verifier) string { return fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()) }

// loadVerifier reads --key: a note verifier key ("<origin>+<hash>+<key>")
// given inline, or the path of a file holding one.
func loadVerifier(key string) (note.Verifier, error) {
	if key == "" {
		return nil, errors.New("--key is required: the log's verifier key (from `ageassure audit key`), inline or as a file")
	}
	k := strings.TrimSpace(key)
	if v, err := note.NewVerifier(k); err == nil {
		return v, nil
	}
	b, err := os.ReadFile(key)
	if err != nil {
		return nil, fmt.Errorf("--key: neither a verifier key nor a readable file: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("--key %s: not a note verifier key", key)
	}
	return v, nil
}
