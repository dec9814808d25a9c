package main

import (
	"cmp"
	"context"
	"encoding/csv"
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

// report is the aggregate of a log.
type report struct {
	Origin     string
	TreeSize   uint64
	Verified   bool
	From, To   string
	Rows       []*reportRow
	Total      reportRow
	Skipped    int // entries that did not parse or validate
	Generated  string
	ByDay      []*reportRow // totals per day (for charts)
	ByJurisdic []*reportRow // totals per jurisdiction (for charts)
}

// aggregate reads every entry of the log and builds the report.
func aggregate(ctx context.Context, r *decisionlog.Reader, v note.Verifier, from, to string, progress func(done, total uint64)) (*report, error) {
	cp, err := r.ReadCheckpoint(ctx, v)
	if err != nil {
		return nil, err
	}
	rows := map[reportKey]*reportRow{}
	days := map[string]*reportRow{}
	jurs := map[string]*reportRow{}
	rep := &report{Origin: cp.Origin, TreeSize: cp.Size, Verified: cp.Verified, From: from, To: to,
		Total: reportRow{Counts: map[string]int{}}}
	bump := func(m map[string]*reportRow, k string, key reportKey, decision string) {
		row := m[k]
		if row == nil {
			row = &reportRow{reportKey: key, Counts: map[string]int{}}
			m[k] = row
		}
		row.Counts[decision]++
		row.Total++
	}
	err = r.Leaves(ctx, cp.Size, func(l decisionlog.Leaf) error {
		if progress != nil && (l.Index%1024 == 0 || l.Index+1 == cp.Size) {
			progress(l.Index+1, cp.Size)
		}
		e, err := logentry.Parse(l.Data)
		if err == nil {
			err = e.Validate()
		}
		if err != nil {
			rep.Skipped++
			return nil
		}
		day := e.Time[:10]
		if (from != "" && day < from) || (to != "" && day > to) {
			return nil
		}
		k := reportKey{Day: day, Jurisdiction: e.Jurisdiction, Band: e.Band, Method: strings.Join(e.Assurance.Methods, "+")}
		row := rows[k]
		if row == nil {
			row = &reportRow{reportKey: k, Counts: map[string]int{}}
			rows[k] = row
		}
		row.Counts[e.Decision]++
		row.Total++
		rep.Total.Counts[e.Decision]++
		rep.Total.Total++
		bump(days, day, reportKey{Day: day}, e.Decision)
		bump(jurs, e.Jurisdiction, reportKey{Jurisdiction: e.Jurisdiction}, e.Decision)
		return nil
	})
	if err != nil {
		return nil, err
	}
	bandOrder := logentry.Bands()
	rep.Rows = slices.SortedFunc(maps.Values(rows), func(a, b *reportRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Jurisdiction, b.Jurisdiction),
			cmp.Compare(slices.Index(bandOrder, a.Band), slices.Index(bandOrder, b.Band)), cmp.Compare(a.Method, b.Method))
	})
	rep.ByDay = slices.SortedFunc(maps.Values(days), func(a, b *reportRow) int { return cmp.Compare(a.Day, b.Day) })
	rep.ByJurisdic = slices.SortedFunc(maps.Values(jurs), func(a, b *reportRow) int { return cmp.Compare(a.Jurisdiction, b.Jurisdiction) })
	return rep, nil
}

// auditReport aggregates decisions for regulators: never entry by entry.
func auditReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := auditFlags("report", "Usage: ageassure audit report --log <dir|URL> [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|csv|html]\n\n"+
		"Aggregates the log's decisions by day × jurisdiction × age band × assurance method, with the\n"+
		"count of each decision, the escalation rate (share of additional_verification_required) and\n"+
		"the consent rate (share of parental_consent_required). The HTML form is one self-contained\n"+
		"file with charts.", stderr)
	logSrc := fs.String("log", "", "the log: a `folder` or the service's URL")
	key := fs.String("key", "", "the log's verifier `key`, inline or as a file: check the checkpoint's signature first")
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
	if err != nil {
		fmt.Fprintf(stderr, "ageassure audit report: %v\n", err)
		return 1
	}
	rep.Generated = time.Now().UTC().Format(time.RFC3339)
	if rep.Skipped > 0 {
		fmt.Fprintf(stderr, "ageassure audit report: warning: %d entries did not parse or validate and are not counted; run audit verify\n", rep.Skipped)
	}
	if !rep.Verified {
		fmt.Fprintln(stderr, "ageassure audit report: warning: no --key, the checkpoint's signature was not checked")
	}
	if err := write(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "ageassure audit report: %v\n", err)
		return 1
	}
	return 0
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

// writeTable writes aligned text, one row per cell and a total.
func writeTable(w io.Writer, rep *report) error {
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
