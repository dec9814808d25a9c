// Command ageassure is an age-assurance service for social networks: a
// stateless HTTP API that evaluates signup signals against per-jurisdiction
// policy and answers with a decision and a signed attestation.
//
// Usage:
//
//	ageassure serve [flags]     run the HTTP API
//	ageassure audit <command>   check the decision log (key, verify, prove, report)
//	ageassure policy <command>  work on a policy (lint, test, explain, diff, simulate, doc)
//	ageassure version           show the version, revision and Go version
//	ageassure help              show this help
//
// Every flag of a command can also be set with an environment variable
// AGEASSURE_<FLAG>, upper-cased with dashes as underscores; a flag on the
// command line wins over the environment.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	// Policies name IANA time zones; embedding the database keeps the
	// static binary correct on images without /usr/share/zoneinfo.
	_ "time/tzdata"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `ageassure — age assurance for social networks

Usage:
  ageassure serve [flags]   run the HTTP API (ageassure serve --help lists the flags)
  ageassure audit <command> check the decision log: key, verify, prove, report (ageassure audit help)
  ageassure policy <command> work on a policy: lint, test, explain, diff, simulate, doc (ageassure policy help)
  ageassure version         show the version, revision and Go version
  ageassure help            show this help

Every flag can also be set as an environment variable AGEASSURE_<FLAG>
(upper case, dashes as underscores), e.g. --attestation-ttl as
AGEASSURE_ATTESTATION_TTL. A flag given on the command line wins.
`

// run is main without the process exit, so tests can drive the command.
// It returns the exit status: 0 success, 1 failure, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "audit":
		return audit(ctx, args[1:], stdout, stderr)
	case "policy":
		return policyCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		return version(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ageassure: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
