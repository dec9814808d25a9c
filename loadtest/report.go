package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"
)

// knownDecisions are the service's decisions, in the order reports list them.
var knownDecisions = []string{"allow", "parental_consent_required", "additional_verification_required", "deny"}

// maxDistinct bounds the distinct decisions and error messages counted;
// the rest are counted as "other".
const maxDistinct = 16

// decoders are reused across responses.
var decoders = sync.Pool{New: func() any { return jsontext.NewDecoder(new(bytes.Buffer)) }}

// decisionOf returns the top-level "decision" of a response body, or ""
// when there is none. It stops reading at that member.
func decisionOf(body []byte) string {
	d := decoders.Get().(*jsontext.Decoder)
	defer decoders.Put(d)
	d.Reset(bytes.NewBuffer(body)) // a Buffer is parsed in place
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return ""
	}
	for {
		name, err := d.ReadToken()
		if err != nil || name.Kind() != '"' {
			return ""
		}
		if name.String() != "decision" {
			if d.SkipValue() != nil {
				return ""
			}
			continue
		}
		v, err := d.ReadToken()
		if err != nil || v.Kind() != '"' {
			return ""
		}
		s := v.String()
		for _, k := range knownDecisions {
			if s == k {
				return k // interned: no string kept per result
			}
		}
		return s
	}
}

// stats accumulates one target's results without keeping them: latency
// quantiles come from vegeta's t-digest, throughput from the spans of the
// slices the target was attacked in.
type stats struct {
	latencies vegeta.LatencyMetrics
	requests  uint64
	success   uint64 // 2xx
	active    time.Duration
	decisions map[string]uint64
	codes     map[uint16]uint64
	errors    map[string]uint64

	first, last, end time.Time // of the current slice
}

func newStats() *stats {
	return &stats{decisions: map[string]uint64{}, codes: map[uint16]uint64{}, errors: map[string]uint64{}}
}

// add counts one result; decision is the response's decision, if any.
func (s *stats) add(r *vegeta.Result, decision string) {
	s.requests++
	s.codes[r.Code]++
	s.latencies.Add(r.Latency)
	if s.first.IsZero() || r.Timestamp.Before(s.first) {
		s.first = r.Timestamp
	}
	if r.Timestamp.After(s.last) {
		s.last = r.Timestamp
	}
	if e := r.End(); e.After(s.end) {
		s.end = e
	}
	if r.Code >= 200 && r.Code < 300 {
		s.success++
		if decision == "" {
			decision = "(none)"
		}
		countBounded(s.decisions, decision)
	}
	if r.Error != "" {
		countBounded(s.errors, r.Error)
	}
}

func countBounded(m map[string]uint64, k string) {
	if _, ok := m[k]; !ok && len(m) >= maxDistinct {
		k = "other"
	}
	m[k]++
}

// endSlice closes the current slice: its span, from the first request
// sent to the last answer received, counts towards throughput (as in
// vegeta's Metrics: duration plus wait).
func (s *stats) endSlice() {
	if !s.first.IsZero() {
		s.active += s.end.Sub(s.first)
	}
	s.first, s.last, s.end = time.Time{}, time.Time{}, time.Time{}
}

// summary is what a report shows of one target.
type summary struct {
	Target     string
	Requests   uint64
	Success    float64 // ratio of 2xx
	Throughput float64 // 2xx per second
	P50, P90   time.Duration
	P99, P999  time.Duration
	Max        time.Duration
	Decisions  map[string]uint64
	Codes      map[uint16]uint64
	Errors     map[string]uint64
	Server     serverCounters
	Host       hostCounters
}

func (s *stats) summary(target string, server serverCounters, host hostCounters) summary {
	sum := summary{Target: target, Requests: s.requests, Decisions: s.decisions, Codes: s.codes, Errors: s.errors, Server: server, Host: host}
	if s.requests == 0 {
		return sum
	}
	sum.Success = float64(s.success) / float64(s.requests)
	if sec := s.active.Seconds(); sec > 0 {
		sum.Throughput = float64(s.success) / sec
	}
	l := s.latencies
	sum.P50, sum.P90, sum.P99, sum.P999 = l.Quantile(0.50), l.Quantile(0.90), l.Quantile(0.99), l.Quantile(0.999)
	sum.Max = l.Max
	return sum
}

// writeReport prints the table: one row per target, a ratio row B/A when
// there are two, then each target's decision mix, status codes, errors
// and server-side costs.
func writeReport(w io.Writer, sums []summary) error {
	rows := [][]string{{"target", "requests", "success", "throughput", "p50", "p90", "p99", "p99.9", "max"}}
	for _, s := range sums {
		rows = append(rows, []string{s.Target, strconv.FormatUint(s.Requests, 10), fmtPercent(s.Success),
			fmt.Sprintf("%.1f/s", s.Throughput), fmtLatency(s.P50), fmtLatency(s.P90), fmtLatency(s.P99), fmtLatency(s.P999), fmtLatency(s.Max)})
	}
	if len(sums) == 2 {
		a, b := sums[0], sums[1]
		rows = append(rows, []string{"ratio B/A", "", "", fmtRatio(b.Throughput, a.Throughput),
			fmtRatio(float64(b.P50), float64(a.P50)), fmtRatio(float64(b.P90), float64(a.P90)), fmtRatio(float64(b.P99), float64(a.P99)),
			fmtRatio(float64(b.P999), float64(a.P999)), fmtRatio(float64(b.Max), float64(a.Max))})
	}
	var buf bytes.Buffer
	writeTable(&buf, rows)
	for i, s := range sums {
		label := ""
		if len(sums) > 1 {
			label = " " + string(rune('A'+i))
		}
		fmt.Fprintf(&buf, "decisions%s: %s\n", label, fmtDecisions(s.Decisions))
		fmt.Fprintf(&buf, "status codes%s: %s\n", label, fmtCodes(s.Codes))
		if len(s.Errors) > 0 {
			fmt.Fprintf(&buf, "errors%s: %s\n", label, fmtErrors(s.Errors))
		}
		if line := fmtServer(s.Server, s.Requests); line != "" {
			fmt.Fprintf(&buf, "server%s (/metrics): %s\n", label, line)
		}
		if line := fmtHost(s.Host, s.Requests); line != "" {
			fmt.Fprintf(&buf, "load generator%s: %s\n", label, line)
		}
	}
	if len(sums) == 2 && sums[0].Server.ok() && sums[1].Server.ok() && sums[0].Requests > 0 && sums[1].Requests > 0 {
		a, b := sums[0], sums[1]
		perA, perB := float64(a.Requests), float64(b.Requests)
		fmt.Fprintf(&buf, "server ratio B/A: allocs/req %s  bytes/req %s", fmtRatio(b.Server.mallocs/perB, a.Server.mallocs/perA), fmtRatio(b.Server.bytes/perB, a.Server.bytes/perA))
		if !a.Server.cpuMissing && !b.Server.cpuMissing {
			fmt.Fprintf(&buf, "  cpu/req %s", fmtRatio(b.Server.cpuSeconds/perB, a.Server.cpuSeconds/perA))
		}
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// writeTable writes rows with the first column left-aligned and the others
// right-aligned, two spaces apart.
func writeTable(w *bytes.Buffer, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			switch {
			case i == 0:
				line.WriteString(c + pad)
			default:
				line.WriteString("  " + pad + c)
			}
		}
		w.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// fmtPercent shows a ratio as a percentage rounded down, so anything short
// of all never reads 100.00%.
func fmtPercent(r float64) string {
	return fmt.Sprintf("%.2f%%", math.Floor(r*10000)/100)
}

func fmtRatio(b, a float64) string {
	if a == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", b/a)
}

// fmtLatency shows a latency in milliseconds with three significant
// digits or so.
func fmtLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 10000:
		return fmt.Sprintf("%.0fms", ms)
	default:
		return fmt.Sprintf("%.1fs", ms/1000)
	}
}

// fmtDecisions lists the decision mix: the known decisions first, in
// their fixed order, then any others by name.
func fmtDecisions(m map[string]uint64) string {
	var total uint64
	for _, n := range m {
		total += n
	}
	if total == 0 {
		return "none"
	}
	names := append([]string(nil), knownDecisions...)
	var others []string
	for k := range m {
		if !isKnownDecision(k) {
			others = append(others, k)
		}
	}
	sort.Strings(others)
	var parts []string
	for _, k := range append(names, others...) {
		if n := m[k]; n > 0 || isKnownDecision(k) {
			parts = append(parts, fmt.Sprintf("%s %.1f%%", k, 100*float64(n)/float64(total)))
		}
	}
	return strings.Join(parts, "  ")
}

func isKnownDecision(k string) bool {
	for _, d := range knownDecisions {
		if d == k {
			return true
		}
	}
	return false
}

func fmtCodes(m map[uint16]uint64) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, int(c))
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		name := strconv.Itoa(c)
		if c == 0 {
			name = "0 (no response)"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, m[uint16(c)]))
	}
	return strings.Join(parts, "  ")
}

// fmtErrors lists error messages, most frequent first.
func fmtErrors(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d× %q", m[k], k))
	}
	return strings.Join(parts, "; ")
}

// fmtServer shows the server's allocations and CPU per request, measured
// from its /metrics around each slice ("" when not available).
func fmtServer(c serverCounters, requests uint64) string {
	if !c.ok() || requests == 0 {
		return ""
	}
	n := float64(requests)
	s := fmt.Sprintf("%.0f allocs/req  %.1f KB/req", c.mallocs/n, c.bytes/n/1024)
	if !c.cpuMissing {
		s += fmt.Sprintf("  %.0fµs CPU/req", c.cpuSeconds/n*1e6)
	}
	if c.fallbackSeen {
		s += fmt.Sprintf("  Redis fallbacks/req %.2f", c.fallbacks/n)
		if c.fallbacks > 0 {
			s += " (Redis breaker open: part of this run bypassed Redis)"
		}
	}
	return s
}

// plotDownsample is how many points per series the HTML plot keeps.
const plotDownsample = 4000

// newPlot returns vegeta's HTML latency plot: a single self-contained file
// (uPlot and its CSS are inlined; nothing is fetched from elsewhere), one
// series per target and outcome, latency over time, log scale.
func newPlot(title string) *plot.Plot {
	return plot.New(plot.Title(title), plot.Downsample(plotDownsample), plot.Label(plot.ErrorLabeler))
}
