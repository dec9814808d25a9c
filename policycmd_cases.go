package main

import (
	"context"
	"fmt"
	"io"
	"regexp"

	"github.com/ageassure/ageassure/policy"
)

// policyTest runs a policy's test cases, reporting like go test.
func policyTest(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := policyFlags("test", "Usage: ageassure policy test <path|builtin> [-run regexp] [-v]\n\n"+
		"Runs the test cases kept beside the policy: every *_test.yaml and *_test.yml file below a folder,\n"+
		"x_test.yaml beside a single file x.yaml, or a case file itself (\"builtin\": the shipped policy and\n"+
		"its cases). Each case gives an input, the day (as_of, that day in the pack's own time zone) and the\n"+
		"expected decision, band, rule ids and obligations; see the README, \"Policy test cases\". Prints\n"+
		"--- FAIL: <name> (<file>:<line>) with what differed, then ok or FAIL; exit status 1 if a case fails\n"+
		"or the policy or its cases do not load.", stderr)
	run := fs.String("run", "", "run only the cases whose name matches this `regexp`")
	verbose := fs.Bool("v", false, "also list the cases that pass")
	pos, code, ok := parsePolicyFlags(fs, args, stderr, "<path|builtin>")
	if !ok {
		return code
	}
	var filter *regexp.Regexp
	if *run != "" {
		var err error
		if filter, err = regexp.Compile(*run); err != nil {
			fmt.Fprintf(stderr, "ageassure policy test: -run: %v\n", err)
			return 2
		}
	}
	path := pos[0]
	p, err := loadPolicyArg(path)
	if err != nil {
		printLoadError(stdout, "test", path, err)
		fmt.Fprintf(stdout, "FAIL  %s  [policy does not load]\n", path)
		return 1
	}
	var cases []policy.Case
	if path == builtinPolicy {
		cases, err = policy.BuiltinCases()
	} else {
		cases, err = policy.LoadCases(path)
	}
	if err != nil {
		fmt.Fprintln(stdout, err)
		fmt.Fprintf(stdout, "FAIL  %s  [test cases do not load]\n", path)
		return 1
	}
	if len(cases) == 0 {
		fmt.Fprintf(stdout, "?     %s  [no test cases]\n", path)
		return 0
	}
	if filter != nil {
		var kept []policy.Case
		for _, c := range cases {
			if filter.MatchString(c.Name) {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			fmt.Fprintf(stdout, "ok    %s  0 cases [no cases match -run %q]\n", path, *run)
			return 0
		}
		cases = kept
	}
	failed := 0
	for _, r := range p.RunCases(cases) {
		where := fmt.Sprintf("%s:%d", r.Case.File, r.Case.Line)
		if r.Pass {
			if *verbose {
				fmt.Fprintf(stdout, "--- PASS: %s (%s)\n", r.Case.Name, where)
			}
			continue
		}
		failed++
		fmt.Fprintf(stdout, "--- FAIL: %s (%s)\n", r.Case.Name, where)
		for _, problem := range r.Problems {
			fmt.Fprintf(stdout, "    %s\n", problem)
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "FAIL  %s  %d of %s failed\n", path, failed, plural(len(cases), "case"))
		return 1
	}
	fmt.Fprintf(stdout, "ok    %s  %s\n", path, plural(len(cases), "case"))
	return 0
}
