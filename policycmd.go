package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ageassure/ageassure/policy"
)

const policyUsage = `Usage: ageassure policy <command> [flags]

Commands for the people who own the policy: check a change, see what it
would do before it goes live, and publish what is enforced. <path> is a
policy file or folder, or "builtin" for the policy compiled into this binary.

  lint      <path>                     load errors and likely mistakes, as file:line:col
  test      <path>                     run the test cases kept beside the policy (*_test.yaml)
  explain   <path> --jurisdiction DE --age 14
                                       the decision, and the trace of every rule evaluated
  diff      <old> <new>                which jurisdictions, dated facts, rules, obligations
                                       and numbers changed
  simulate  --candidate <path> --log <dir|URL>
                                       replay past decisions through a candidate policy
  doc       <path>                     the policy statement for auditors and regulators

A change goes: edit → lint → test → diff → simulate → reload (the service
refuses a policy whose test cases fail). ageassure policy <command> --help
lists a command's flags.
`

// policyCmd runs `ageassure policy <command>`. Exit status: 0 success, 1
// failure (errors found, tests failed, a policy that does not load), 2 bad
// usage.
func policyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	switch args[0] {
	case "lint":
		return policyLint(ctx, args[1:], stdout, stderr)
	case "test":
		return policyTest(ctx, args[1:], stdout, stderr)
	case "explain":
		return policyExplain(ctx, args[1:], stdout, stderr)
	case "diff":
		return policyDiff(ctx, args[1:], stdout, stderr)
	case "simulate":
		return policySimulate(ctx, args[1:], stdout, stderr)
	case "doc":
		return policyDoc(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, policyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "ageassure policy: unknown command %q\n\n%s", args[0], policyUsage)
	return 2
}

// builtinPolicy is the <path> that names the embedded policy.
const builtinPolicy = "builtin"

// policyFlags is a command's flag set, wired like the other commands':
// environment fallbacks, --help listing every flag.
func policyFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("policy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = flagUsage(fs, stderr, synopsis)
	return fs
}

// parsePolicyFlags parses args, which may mix flags and positional
// arguments in any order (`lint policy/ --strict` and `lint --strict
// policy/`), then fills unset flags from the environment. It returns the
// positional arguments, or an exit status when the command must stop (0
// after --help, 2 on bad usage). want names the positional arguments
// expected, for the error message.
func parsePolicyFlags(fs *flag.FlagSet, args []string, stderr io.Writer, want ...string) ([]string, int, bool) {
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false // the flag package printed the problem and the usage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if err := parseFlags(fs, nil, os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "ageassure %s: %v\n", fs.Name(), err)
		return nil, 2, false
	}
	if len(pos) != len(want) {
		fmt.Fprintf(stderr, "ageassure %s: want %s, got %d argument(s)\n", fs.Name(), strings.Join(want, " "), len(pos))
		return nil, 2, false
	}
	return pos, 0, true
}

// loadPolicyArg loads <path>: a file or folder, or "builtin".
func loadPolicyArg(arg string) (*policy.Policy, error) {
	if arg == builtinPolicy {
		return policy.Builtin()
	}
	return policy.Load(arg)
}

// printLoadError prints a policy that does not load: one positioned
// problem per line.
func printLoadError(w io.Writer, cmd, arg string, err error) {
	var list policy.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e)
		}
		fmt.Fprintf(w, "ageassure policy %s: %s does not load (%d problems; run ageassure policy lint %s)\n", cmd, arg, len(list), arg)
		return
	}
	fmt.Fprintf(w, "ageassure policy %s: %v\n", cmd, err)
}

// parseDay parses a --as-of style date; "" is today (UTC).
func parseDay(s string) (policy.Date, error) {
	if s == "" {
		return policy.DateOf(time.Now().UTC()), nil
	}
	return policy.ParseDate(s)
}
