package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// serverSample is the process counters a target's /metrics reports (the
// Prometheus Go and process collectors, which ageassure registers).
type serverSample struct {
	ok         bool    // the allocation counters were found
	mallocs    float64 // go_memstats_mallocs_total
	allocBytes float64 // go_memstats_alloc_bytes_total
	cpuSeconds float64 // process_cpu_seconds_total, or -1 (not on every OS)
	// fallbacks sums ageassure_redis_operations_total{result="fallback"}:
	// Redis operations the circuit breaker refused, served from process
	// memory. A run with fallbacks did not measure the Redis path; -1 when
	// the target has no Redis metrics.
	fallbacks float64
}

// serverCounters sums a server's counters over the slices it was attacked.
// They include whatever else the server did meanwhile (e.g. the scrapes).
type serverCounters struct {
	sliceTally
	mallocs, bytes float64
	cpuSeconds     float64
	cpuMissing     bool
	fallbacks      float64
	fallbackSeen   bool
}

// add adds the growth between two samples taken around one slice.
func (c *serverCounters) add(before, after serverSample) {
	if !c.count(before.ok && after.ok) {
		return
	}
	c.mallocs += after.mallocs - before.mallocs
	c.bytes += after.allocBytes - before.allocBytes
	if before.cpuSeconds < 0 || after.cpuSeconds < 0 {
		c.cpuMissing = true
	}
	c.cpuSeconds += after.cpuSeconds - before.cpuSeconds
	if before.fallbacks >= 0 && after.fallbacks >= 0 {
		c.fallbackSeen = true
		c.fallbacks += after.fallbacks - before.fallbacks
	}
}

// sliceTally counts the slices a target was attacked in and those whose
// counters could not be sampled: a sum with a slice missing would read
// as a lower cost than the run had.
type sliceTally struct{ slices, missing int }

// count records one slice, sampled or not, and reports sampled.
func (t *sliceTally) count(sampled bool) bool {
	t.slices++
	if !sampled {
		t.missing++
	}
	return sampled
}

// ok reports whether every slice was sampled.
func (t *sliceTally) ok() bool { return t.slices > 0 && t.missing == 0 }

// scrapeServer reads target's /metrics; a target without one (or an
// error) gives a sample with ok false. It is best effort and quick.
func scrapeServer(ctx context.Context, client *http.Client, target string) serverSample {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(target, "/")+"/metrics", nil)
	if err != nil {
		return serverSample{}
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return serverSample{}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return serverSample{}
	}
	return parseServerSample(io.LimitReader(resp.Body, 4<<20))
}

// parseServerSample picks the counters out of Prometheus text exposition.
func parseServerSample(r io.Reader) serverSample {
	s := serverSample{cpuSeconds: -1, fallbacks: -1}
	var haveMallocs, haveBytes bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if strings.HasPrefix(name, "ageassure_redis_operations_total{") {
			if s.fallbacks < 0 {
				s.fallbacks = 0
			}
			if !strings.Contains(name, `result="fallback"`) {
				continue
			}
			name = "fallback"
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_mallocs_total":
			s.mallocs, haveMallocs = v, true
		case "go_memstats_alloc_bytes_total":
			s.allocBytes, haveBytes = v, true
		case "process_cpu_seconds_total":
			s.cpuSeconds = v
		case "fallback":
			s.fallbacks += v
		}
	}
	s.ok = haveMallocs && haveBytes
	return s
}
