package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/service/logentry"
)

// reportKey is one cell of the cube: day × jurisdiction × band × method.
// Decisions are the columns of each row, so rates can be read per row.
type reportKey struct {
	Day, Jurisdiction, Band, Method string
}

// reportRow counts the decisions of one cell.
type reportRow struct {
	reportKey
	Counts map[string]int // decision → count
	Total  int
}

// EscalationRate is the share of additional_verification_required.
func (r *reportRow) EscalationRate() float64 {
	return rate(r.Counts[logentry.DecisionAdditionalVerificationRequired], r.Total)
}

// ConsentRate is the share of parental_consent_required.
func (r *reportRow) ConsentRate() float64 {
	return rate(r.Counts[logentry.DecisionParentalConsentRequired], r.Total)
}

func rate(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// report is the aggregate of a log, and what was verified about it.
type report struct {
	Location string // where the log was read from
	Origin   string
	TreeSize uint64
	Root     string // the checkpoint's root hash, base64 as in the checkpoint
	// Verified: the checkpoint's signature was checked against Key and every
	// entry aggregated was hashed into the tree whose root it signs (with
	// the rest of audit verify's checks). Otherwise nothing was checked.
	Verified   bool
	Key        string // the verifier key's name+hash, when Verified
	VerifiedAt string // when verification finished (RFC 3339, UTC)
	From, To   string
	Rows       []*reportRow
	Total      reportRow
	Skipped    int // entries that did not parse or validate
	Generated  string
	ByDay      []*reportRow // totals per day (for charts)
	ByJurisdic []*reportRow // totals per jurisdiction (for charts)
}

// aggregator builds a report's cells from entries.
type aggregator struct {
	rep        *report
	rows       map[reportKey]*reportRow
	days, jurs map[string]*reportRow
	from, to   string
}

func newAggregator(from, to string) *aggregator {
	return &aggregator{
		rep:  &report{From: from, To: to, Total: reportRow{Counts: map[string]int{}}},
		rows: map[reportKey]*reportRow{}, days: map[string]*reportRow{}, jurs: map[string]*reportRow{},
		from: from, to: to,
	}
}

func bump(m map[string]*reportRow, k string, key reportKey, decision string) {
	row := m[k]
	if row == nil {
		row = &reportRow{reportKey: key, Counts: map[string]int{}}
		m[k] = row
	}
	row.Counts[decision]++
	row.Total++
}

// add counts one entry; entries that do not parse or validate are skipped
// and counted as such.
func (a *aggregator) add(l decisionlog.Leaf) {
	e, err := logentry.Parse(l.Data)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		a.rep.Skipped++
		return
	}
	day := e.Time[:10]
	if (a.from != "" && day < a.from) || (a.to != "" && day > a.to) {
		return
	}
	k := reportKey{Day: day, Jurisdiction: e.Jurisdiction, Band: e.Band, Method: strings.Join(e.Assurance.Methods, "+")}
	row := a.rows[k]
	if row == nil {
		row = &reportRow{reportKey: k, Counts: map[string]int{}}
		a.rows[k] = row
	}
	row.Counts[e.Decision]++
	row.Total++
	a.rep.Total.Counts[e.Decision]++
	a.rep.Total.Total++
	bump(a.days, day, reportKey{Day: day}, e.Decision)
	bump(a.jurs, e.Jurisdiction, reportKey{Jurisdiction: e.Jurisdiction}, e.Decision)
}

// finish sorts the cells into the report.
func (a *aggregator) finish(cp *decisionlog.Checkpoint) *report {
	rep := a.rep
	rep.Origin, rep.TreeSize, rep.Root = cp.Origin, cp.Size, base64.StdEncoding.EncodeToString(cp.Hash)
	bandOrder := logentry.Bands()
	rep.Rows = slices.SortedFunc(maps.Values(a.rows), func(a, b *reportRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Jurisdiction, b.Jurisdiction),
			cmp.Compare(slices.Index(bandOrder, a.Band), slices.Index(bandOrder, b.Band)), cmp.Compare(a.Method, b.Method))
	})
	rep.ByDay = slices.SortedFunc(maps.Values(a.days), func(a, b *reportRow) int { return cmp.Compare(a.Day, b.Day) })
	rep.ByJurisdic = slices.SortedFunc(maps.Values(a.jurs), func(a, b *reportRow) int { return cmp.Compare(a.Jurisdiction, b.Jurisdiction) })
	return rep
}

// aggregate reads every entry of the log and builds the report.
//
// With a verifier it aggregates inside decisionlog.Verify, the check audit
// verify runs: the entries counted are the very bytes the tree was
// recomputed from, and the report is refused (ErrNotVerified, one line)
// unless the whole log verifies: signature, every entry's hash up to the
// signed root, every tile, every entry canonical and within the schema.
// Without one it reads the entries as they are and the report says it is
// unverified.
func aggregate(ctx context.Context, r *decisionlog.Reader, v note.Verifier, from, to string, progress func(done, total uint64)) (*report, error) {
	a := newAggregator(from, to)
	if v != nil {
		res, err := decisionlog.Verify(ctx, r, v, decisionlog.VerifyOptions{MaxProblems: 1, Progress: progress, Entry: a.add})
		if err != nil {
			return nil, err
		}
		if err := res.Err(); err != nil {
			return nil, err
		}
		rep := a.finish(res.Checkpoint)
		rep.Location = r.Location()
		rep.Verified, rep.Key, rep.VerifiedAt = true, verifierID(v), time.Now().UTC().Format(time.RFC3339)
		return rep, nil
	}
	cp, err := r.ReadCheckpoint(ctx, nil)
	if err != nil {
		return nil, err
	}
	err = r.Leaves(ctx, cp.Size, func(l decisionlog.Leaf) error {
		if progress != nil && (l.Index%1024 == 0 || l.Index+1 == cp.Size) {
			progress(l.Index+1, cp.Size)
		}
		a.add(l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep := a.finish(cp)
	rep.Location = r.Location()
	return rep, nil
}

// auditReport aggregates decisions for regulators: never entry by entry.
func auditReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := auditFlags("report", "Usage: ageassure audit report --log <dir|URL> [--key <verifier key>] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|csv|html]\n\n"+
		"Aggregates the log's decisions by day × jurisdiction × age band × assurance method, with the\n"+
		"count of each decision, the escalation rate (share of additional_verification_required) and\n"+
		"the consent rate (share of parental_consent_required). The HTML form is one self-contained\n"+
		"file with charts.\n\n"+
		"With --key the log is verified as audit verify does, in the same pass that reads it: the\n"+
		"checkpoint's signature, every entry hashed up to the signed root, every tile, every entry\n"+
		"canonical and within the schema. If anything fails there is no report: one line names the\n"+
		"first problem and the exit status is 1. The report states what was verified (origin, tree\n"+
		"size, root hash, key and when); without --key it states that it is UNVERIFIED.", stderr)
	logSrc := fs.String("log", "", "the log: a `folder` or the service's URL")
	key := fs.String("key", "", "the log's verifier `key`, inline or as a file: verify the log, and report only if it verifies")
	from := fs.String("from", "", "first `day` to include (YYYY-MM-DD, UTC)")
	to := fs.String("to", "", "last `day` to include (YYYY-MM-DD, UTC)")
	format := fs.String("format", "table", "output `format`: table, csv or html")
	progress := fs.Bool("progress", false, "draw a progress bar on stderr even when it is not a terminal")
	if code, ok := parseAuditFlags(fs, args, stderr); !ok {
		return code
	}
	for name, d := range map[string]string{"--from": *from, "--to": *to} {
		if _, err := time.Parse(time.DateOnly, d); d != "" && err != nil {
			fmt.Fprintf(stderr, "ageassure audit report: %s %q: want YYYY-MM-DD\n", name, d)
			return 2
		}
	}
	if *from != "" && *to != "" && *from > *to {
		fmt.Fprintln(stderr, "ageassure audit report: --from is after --to")
		return 2
	}
	write, ok := map[string]func(io.Writer, *report) error{"table": writeTable, "csv": writeCSV, "html": writeHTML}[*format]
	if !ok {
		fmt.Fprintf(stderr, "ageassure audit report: --format %q: want table, csv or html\n", *format)
		return 2
	}
	var v note.Verifier
	if *key != "" {
		var err error
		if v, err = loadVerifier(*key); err != nil {
			fmt.Fprintf(stderr, "ageassure audit report: %v\n", err)
			return 2
		}
	}
	r, err := openLogSource(*logSrc)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit report: %v\n", err)
		return 2
	}
	update, finish := progressFunc(stderr, *progress, "reading")
	rep, err := aggregate(ctx, r, v, *from, *to, update)
	finish()
	if errors.Is(err, decisionlog.ErrNotVerified) {
		fmt.Fprintf(stderr, "ageassure audit report: no report: %v; ageassure audit verify lists every problem\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit report: %v\n", err)
		return 1
	}
	rep.Generated = time.Now().UTC().Format(time.RFC3339)
	if rep.Skipped > 0 {
		fmt.Fprintf(stderr, "ageassure audit report: warning: %d entries did not parse or validate and are not counted; run audit verify\n", rep.Skipped)
	}
	switch {
	case !rep.Verified:
		fmt.Fprintln(stderr, "ageassure audit report: warning: no --key: the report is UNVERIFIED (neither the checkpoint's signature nor the entries' hashes were checked)")
	case *format == "csv": // the CSV has no room to say it; the table and the HTML say it themselves
		fmt.Fprintf(stderr, "ageassure audit report: %s\n", rep.verification())
	}
	if err := write(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "ageassure audit report: %v\n", err)
		return 1
	}
	return 0
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// verification says in one line what a verified report verified.
func (rep *report) verification() string {
	return fmt.Sprintf("verified at %s: origin %s, tree size %d, root %s, key %s: every entry hashes to the signed root",
		rep.VerifiedAt, rep.Origin, rep.TreeSize, rep.Root, rep.Key)
}

// writeTable writes what was verified, then aligned text, one row per cell
// and a total.
func writeTable(w io.Writer, rep *report) error {
	if rep.Verified {
		fmt.Fprintf(w, "VERIFIED: the checkpoint's signature, and every entry hashed up to its root (as audit verify checks)\n"+
			"  log          %s\n  origin       %s\n  tree size    %d\n  root         %s\n  key          %s\n  verified at  %s\n\n",
			rep.Location, rep.Origin, rep.TreeSize, rep.Root, rep.Key, rep.VerifiedAt)
	} else {
		fmt.Fprintf(w, "UNVERIFIED: no --key was given, so neither the checkpoint's signature nor the entries' hashes were\n"+
			"checked; these figures are only what the log's files say. Run with --key to verify.\n"+
			"  log          %s\n  origin       %s (claimed)\n  tree size    %d (claimed)\n  root         %s (claimed)\n\n",
			rep.Location, rep.Origin, rep.TreeSize, rep.Root)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DAY\tJURISDICTION\tBAND\tMETHOD\tTOTAL\tALLOW\tCONSENT\tESCALATE\tDENY\tESCALATION\tCONSENT RATE\t")
	line := func(r *reportRow) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", r.Day, r.Jurisdiction, r.Band, r.Method, r.Total,
			r.Counts[logentry.DecisionAllow], r.Counts[logentry.DecisionParentalConsentRequired],
			r.Counts[logentry.DecisionAdditionalVerificationRequired], r.Counts[logentry.DecisionDeny],
			pct(r.EscalationRate()), pct(r.ConsentRate()))
	}
	for _, r := range rep.Rows {
		line(r)
	}
	total := rep.Total
	total.Day = "TOTAL"
	line(&total)
	return tw.Flush()
}

// writeCSV writes one record per cell, rates as fractions, no total row
// (spreadsheets sum).
func writeCSV(w io.Writer, rep *report) error {
	cw := csv.NewWriter(w)
	head := append([]string{"day", "jurisdiction", "band", "method", "total"}, logentry.Decisions()...)
	cw.Write(append(head, "escalation_rate", "consent_rate"))
	for _, r := range rep.Rows {
		rec := []string{r.Day, r.Jurisdiction, r.Band, r.Method, strconv.Itoa(r.Total)}
		for _, d := range logentry.Decisions() {
			rec = append(rec, strconv.Itoa(r.Counts[d]))
		}
		rec = append(rec, strconv.FormatFloat(r.EscalationRate(), 'f', 4, 64), strconv.FormatFloat(r.ConsentRate(), 'f', 4, 64))
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}
