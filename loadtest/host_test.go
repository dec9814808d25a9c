package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	const twoCPUs = `cpu  100 5 50 800 20 3 7 15 9 0
cpu0 50 2 25 400 10 1 4 8 5 0
cpu1 50 3 25 400 10 2 3 7 4 0
intr 12345 0 0
ctxt 999
`
	tests := []struct {
		name               string
		in                 string
		cpus               int
		total, idle, steal uint64
		wantErr            bool
	}{
		// total = user..steal (guest is inside user); idle = idle + iowait.
		{"two CPUs", twoCPUs, 2, 1000, 820, 15, false},
		{"old kernel without guest fields", "cpu 1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\n", 1, 36, 9, 8, false},
		{"short cpu line", "cpu 1 2 3 4\n", 0, 0, 0, 0, true},
		{"not a number", "cpu 1 2 x 4 5 6 7 8\n", 0, 0, 0, 0, true},
		{"no cpu line", "intr 1\nctxt 2\n", 0, 0, 0, 0, true},
		{"empty", "", 0, 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s hostSample
			err := parseProcStat(strings.NewReader(tt.in), &s)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if s.cpus != tt.cpus || s.total != tt.total || s.idle != tt.idle || s.steal != tt.steal {
				t.Errorf("cpus %d total %d idle %d steal %d; want %d %d %d %d", s.cpus, s.total, s.idle, s.steal, tt.cpus, tt.total, tt.idle, tt.steal)
			}
		})
	}
}

// TestHostCounters: growth is summed over slices; a slice that could not
// be sampled makes the counters not ok, and the machine's share is left
// out when its totals were missing or went backwards.
func TestHostCounters(t *testing.T) {
	sample := func(self time.Duration, total, idle, steal uint64) hostSample {
		return hostSample{ok: true, self: self, cpus: 2, total: total, idle: idle, steal: steal, haveCPU: true}
	}
	tests := []struct {
		name   string
		slices [][2]hostSample
		want   string // fmtHost for 1,000 requests
	}{
		{"two slices", [][2]hostSample{
			{sample(0, 0, 0, 0), sample(50*time.Millisecond, 1000, 500, 10)},
			{sample(50*time.Millisecond, 1000, 500, 10), sample(100*time.Millisecond, 2000, 900, 30)},
		}, "100µs CPU/req; machine (2 CPUs) 54% busy, 1.5% stolen"},
		{"saturated", [][2]hostSample{{sample(0, 0, 0, 0), sample(time.Millisecond, 1000, 40, 0)}},
			"1µs CPU/req; machine (2 CPUs) 96% busy, 0.0% stolen (saturated: latencies include waiting for a CPU)"},
		{"machine totals went backwards", [][2]hostSample{{sample(0, 500, 0, 0), sample(time.Millisecond, 100, 0, 0)}}, "1µs CPU/req"},
		{"no /proc/stat", [][2]hostSample{{{ok: true}, {ok: true, self: 3 * time.Millisecond}}}, "3µs CPU/req"},
		{"a slice not sampled", [][2]hostSample{{sample(0, 0, 0, 0), {}}}, ""},
		{"no slices", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c hostCounters
			for _, s := range tt.slices {
				c.add(s[0], s[1])
			}
			if got := fmtHost(c, 1000); got != tt.want {
				t.Errorf("fmtHost = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSampleHost: on Linux a sample reads this process' CPU and the
// machine's totals, and both grow.
func TestSampleHost(t *testing.T) {
	before := sampleHost()
	if !before.ok {
		t.Skip("no host sampling on this platform")
	}
	deadline := time.Now().Add(20 * time.Millisecond)
	for time.Now().Before(deadline) { // burn some CPU
	}
	after := sampleHost()
	if after.self <= before.self {
		t.Errorf("process CPU did not grow: %s -> %s", before.self, after.self)
	}
	if !after.haveCPU || after.cpus < 1 || after.total <= before.total {
		t.Errorf("machine totals: before %+v after %+v", before, after)
	}
}
