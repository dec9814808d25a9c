package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ageassure/ageassure/policy"
)

// policyLint checks a policy: everything the loader rejects, plus mistakes
// a loadable policy can still hold.
func policyLint(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := policyFlags("lint", "Usage: ageassure policy lint <path|builtin> [--strict] [--disable check,…] [--as-of YYYY-MM-DD] [--review-days N] [--format text|json]\n\n"+
		"Loads the policy and reports, one per line as file:line:col: severity: message [check]:\n"+
		"  errors    what the loader rejects (YAML syntax, unknown fields, wrong types, CEL syntax and\n"+
		"            type errors, duplicate ids, overlapping in-force periods, missing citations), rules\n"+
		"            that can never fire (when always false; dates outside every period they could meet),\n"+
		"            params.x and signals.x that do not exist, obligations that can never be attached;\n"+
		"  warnings  expired rules and obligations, comparisons with values a variable never takes,\n"+
		"            scopes naming codes without a pack, consent_age below minimum_age, gaps between\n"+
		"            periods, obligations only for bands the minimum age denies, periods in force,\n"+
		"            enacted or enjoined without a reviewed date or with one older than --review-days\n"+
		"            [review-due], enacted entries whose effective_from has come [enacted-past];\n"+
		"  infos     entries kept as data (enjoined, and pending bills: the watch list), periods\n"+
		"            without a citation confidence, legal_status proposed (now pending).\n"+
		"Exit status 1 if there is an error (or, with --strict, a warning).", stderr)
	strict := fs.Bool("strict", false, "exit 1 on warnings too")
	disable := fs.String("disable", "", "comma-separated `checks` not to report (e.g. consent-below-minimum,no-confidence)")
	asOf := fs.String("as-of", "", "the `day` the date checks (expired, review-due, enacted-past) call today (YYYY-MM-DD; default today)")
	reviewDays := fs.Int("review-days", policy.DefaultReviewDays, "how many `days` a reviewed date stays fresh")
	format := fs.String("format", "text", "output `format`: text or json")
	pos, code, ok := parsePolicyFlags(fs, args, stderr, "<path|builtin>")
	if !ok {
		return code
	}
	day, err := parseDay(*asOf)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure policy lint: --as-of: %v\n", err)
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "ageassure policy lint: --format %q: want text or json\n", *format)
		return 2
	}
	if *reviewDays <= 0 {
		fmt.Fprintf(stderr, "ageassure policy lint: --review-days %d: want a positive number of days\n", *reviewDays)
		return 2
	}
	opts := policy.LintOptions{Now: day.Time(nil).Add(12 * 3600e9), ReviewDays: *reviewDays}
	var ds []policy.Diagnostic
	if pos[0] == builtinPolicy {
		ds = policy.LintBuiltin(opts)
	} else {
		ds = policy.Lint(pos[0], opts)
	}
	off := strings.Split(*disable, ",")
	ds = slices.DeleteFunc(ds, func(d policy.Diagnostic) bool { return slices.Contains(off, d.Check) })
	counts := map[policy.Severity]int{}
	for _, d := range ds {
		counts[d.Severity]++
	}
	if *format == "json" {
		type finding struct {
			File     string `json:"file"`
			Line     int    `json:"line"`
			Col      int    `json:"col"`
			Severity string `json:"severity"`
			Check    string `json:"check"`
			Message  string `json:"message"`
		}
		out := []finding{}
		for _, d := range ds {
			out = append(out, finding{d.Pos.File, d.Pos.Line, d.Pos.Col, d.Severity.String(), d.Check, d.Msg})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "ageassure policy lint: %v\n", err)
			return 1
		}
	} else {
		for _, d := range ds {
			fmt.Fprintln(stdout, d)
		}
	}
	fmt.Fprintf(stderr, "%s: %s, %s, %s\n", pos[0], plural(counts[policy.SeverityError], "error"),
		plural(counts[policy.SeverityWarning], "warning"), plural(counts[policy.SeverityInfo], "info"))
	if counts[policy.SeverityError] > 0 || (*strict && counts[policy.SeverityWarning] > 0) {
		return 1
	}
	return 0
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
