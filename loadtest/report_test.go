package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestDecisionOf(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{`{"decision_id":"x","decision":"allow","reasons":[{"decision":"deny"}]}`, "allow"},
		{`{"reasons":[{"rule":"a","decision":"deny"}],"decision":"parental_consent_required"}`, "parental_consent_required"},
		{`{"a":{"decision":"deny"},"decision":"additional_verification_required"}`, "additional_verification_required"},
		{`{"decision":"something_new"}`, "something_new"},
		{`{"decision":3}`, ""},
		{`{"status":"ready"}`, ""},
		{`[1,2]`, ""},
		{`not json`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := decisionOf([]byte(tt.body)); got != tt.want {
			t.Errorf("decisionOf(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{fmtPercent(1), "100.00%"},
		{fmtPercent(0.99999), "99.99%"},
		{fmtPercent(0.5), "50.00%"},
		{fmtLatency(610 * time.Microsecond), "0.61ms"},
		{fmtLatency(54 * time.Millisecond), "54.0ms"},
		{fmtLatency(180 * time.Millisecond), "180ms"},
		{fmtLatency(12 * time.Second), "12.0s"},
		{fmtRatio(2, 1), "2.00x"},
		{fmtRatio(1, 0), "-"},
		{fmtDecisions(map[string]uint64{"allow": 3, "deny": 1}), "allow 75.0%  parental_consent_required 0.0%  additional_verification_required 0.0%  deny 25.0%"},
		{fmtCodes(map[uint16]uint64{200: 5, 0: 1, 429: 2}), "0 (no response) 1  200 5  429 2"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestStatsAndReport(t *testing.T) {
	s := newStats()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		r := &vegeta.Result{Code: 200, Timestamp: t0.Add(time.Duration(i) * 10 * time.Millisecond), Latency: time.Millisecond}
		s.add(r, "allow")
	}
	s.add(&vegeta.Result{Code: 0, Timestamp: t0.Add(time.Second), Latency: 5 * time.Millisecond, Error: "connection refused"}, "")
	s.endSlice()
	sum := s.summary("http://127.0.0.1:1", serverCounters{sliceTally: sliceTally{slices: 1}, mallocs: 10100, bytes: 101 * 1024},
		hostCounters{sliceTally: sliceTally{slices: 1}, self: 101 * 50 * time.Microsecond, cpus: 2, total: 100, idle: 60})
	if sum.Requests != 101 || sum.Success != 100.0/101 || sum.Max != 5*time.Millisecond {
		t.Fatalf("summary %+v", sum)
	}
	// 100 successes over 1s + 5ms of span.
	if want := 100 / 1.005; sum.Throughput < want-0.01 || sum.Throughput > want+0.01 {
		t.Errorf("throughput %v, want %v", sum.Throughput, want)
	}
	var buf bytes.Buffer
	if err := writeReport(&buf, []summary{sum, sum}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"target", "p99.9", "99.00%", "99.5/s", "ratio B/A", "1.00x", "decisions A: allow 100.0%", "status codes B: 0 (no response) 1  200 100",
		`errors A: 1× "connection refused"`, "server A (/metrics): 100 allocs/req  1.0 KB/req", "server ratio B/A: allocs/req 1.00x",
		"load generator A: 50µs CPU/req; machine (2 CPUs) 40% busy, 0.0% stolen"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestParseServerSample(t *testing.T) {
	text := `# HELP go_memstats_mallocs_total Total number of heap objects allocated.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 1.2345e+06
go_memstats_alloc_bytes_total 9.87e+08
go_memstats_alloc_bytes 123
process_cpu_seconds_total 3.5
ageassure_redis_operations_total{op="batch_read",result="fallback"} 7
ageassure_redis_operations_total{op="batch_read",result="ok"} 100
ageassure_redis_operations_total{op="batch_write",result="fallback"} 5
`
	got := parseServerSample(strings.NewReader(text))
	if !got.ok || got.mallocs != 1.2345e6 || got.allocBytes != 9.87e8 || got.cpuSeconds != 3.5 || got.fallbacks != 12 {
		t.Errorf("got %+v", got)
	}
	if got := parseServerSample(strings.NewReader("go_memstats_mallocs_total 1\ngo_memstats_alloc_bytes_total 1\n")); got.fallbacks != -1 {
		t.Errorf("no Redis metrics: fallbacks %v, want -1", got.fallbacks)
	}
	var c serverCounters
	c.add(serverSample{ok: true, fallbacks: 2}, serverSample{ok: true, fallbacks: 12})
	if got := fmtServer(c, 100); !strings.Contains(got, "Redis fallbacks/req 0.10 (Redis breaker open") {
		t.Errorf("fmtServer = %q", got)
	}
	if got := parseServerSample(strings.NewReader("404 page not found\n")); got.ok {
		t.Errorf("got %+v from a non-metrics page", got)
	}
}
