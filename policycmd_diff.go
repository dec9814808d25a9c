package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/ageassure/ageassure/policy"
)

// policyDiff prints what changed between two policies.
func policyDiff(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := policyFlags("diff", "Usage: ageassure policy diff <old> <new> [--format text|json]\n\n"+
		"Compares two policies (files, folders or \"builtin\") by meaning, as the hash sees them: the hashes,\n"+
		"jurisdictions added and removed, per jurisdiction the changes of each period (minimum and consent\n"+
		"age, dates, legal status, citation), rules and obligations added, removed, changed (which fields)\n"+
		"or moved, and params, thresholds, the anti-hopping window and the fusion buffers and levels.\n"+
		"Formatting, comments, file layout and the order of unordered things are not changes.\n"+
		"Exit status 0 whether or not they differ; 1 if either does not load.", stderr)
	format := fs.String("format", "text", "output `format`: text or json")
	pos, code, ok := parsePolicyFlags(fs, args, stderr, "<old>", "<new>")
	if !ok {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "ageassure policy diff: --format %q: want text or json\n", *format)
		return 2
	}
	var ps [2]*policy.Policy
	for i, arg := range pos {
		p, err := loadPolicyArg(arg)
		if err != nil {
			printLoadError(stderr, "diff", arg, err)
			return 1
		}
		ps[i] = p
	}
	d := policy.Diff(ps[0], ps[1])
	var err error
	if *format == "json" {
		if d.Changes == nil {
			d.Changes = []policy.Change{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(d)
	} else {
		err = writeDiff(stdout, pos[0], pos[1], d)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ageassure policy diff: %v\n", err)
		return 1
	}
	return 0
}

// writeDiff prints a diff grouped by section: + added, - removed,
// ~ changed, ↕ moved.
func writeDiff(w io.Writer, oldName, newName string, d *policy.PolicyDiff) error {
	bw := &errWriter{w: w}
	bw.printf("--- %s  %s  %s\n", oldName, d.Old.ID, d.Old.Hash)
	bw.printf("+++ %s  %s  %s\n", newName, d.New.ID, d.New.Hash)
	if d.Identical() {
		bw.printf("no changes: the policies have the same hash\n")
		return bw.err
	}
	if len(d.Changes) == 0 {
		// Cannot happen (the hash is of the model diffed); say so rather than print nothing.
		bw.printf("the hashes differ but no change was found\n")
		return bw.err
	}
	bw.printf("%s\n", plural(len(d.Changes), "change"))
	section := ""
	for _, c := range d.Changes {
		if c.Section != section {
			section = c.Section
			bw.printf("\n%s\n", section)
		}
		subject := c.Subject
		if c.Field != "" {
			if subject != "" {
				subject += " "
			}
			subject += c.Field
		}
		switch c.Kind {
		case policy.ChangeAdded:
			bw.printf("  + %s: %s\n", subject, c.New)
		case policy.ChangeRemoved:
			bw.printf("  - %s: %s\n", subject, c.Old)
		case policy.ChangeMoved:
			bw.printf("  ↕ %s: %s → %s\n", subject, c.Old, c.New)
		default:
			bw.printf("  ~ %s: %s → %s\n", subject, quoteIfText(c.Old), quoteIfText(c.New))
		}
	}
	return bw.err
}

// quoteIfText quotes values with spaces (messages, CEL), so where they
// begin and end is visible; "" shows as (none).
func quoteIfText(s string) string {
	switch {
	case s == "":
		return "(none)"
	case len(s) > 0 && (s[0] == '[' || s[0] == '{'):
		return s
	}
	for _, r := range s {
		if r == ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}
