package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// checkPath is the endpoint every request is posted to.
const checkPath = "/v1/age-checks"

// endpointURL returns the age-checks URL under a base URL (a base that
// already ends with it is kept).
func endpointURL(base string) string {
	base = strings.TrimSuffix(base, "/")
	if strings.HasSuffix(base, checkPath) {
		return base
	}
	return base + checkPath
}

// loadTest attacks targets (already checked) with mix as o says and
// returns one summary per target.
func loadTest(ctx context.Context, o *options, targets []string, mix Mix, stderr io.Writer) ([]summary, error) {
	now := time.Now()
	header := http.Header{"Authorization": {"Bearer " + o.key}, "Content-Type": {"application/json"}}
	sides := make([]*side, len(targets))
	for i, t := range targets {
		g, err := NewGenerator(mix, o.seed, now, nil)
		if err != nil {
			return nil, err
		}
		name := t
		if len(targets) > 1 {
			name = string(rune('A'+i)) + " " + t
		}
		sides[i] = &side{name: name, target: t, targeter: newTargeter(g, endpointURL(t), header), stats: newStats()}
	}

	mode := fmt.Sprintf("rate %d/s, up to %d workers", o.rate, o.maxWorkers)
	if o.rate == 0 {
		mode = fmt.Sprintf("maximum rate, %d workers", o.workers)
	}
	var out *sink
	if o.out != "" {
		var err error
		if out, err = openSink(o.out, fmt.Sprintf("ageassure load test: %s, %s, seed %d", mode, o.duration, o.seed)); err != nil {
			return nil, err
		}
	}
	if !o.quiet {
		fmt.Fprintf(stderr, "loadtest: %s for %s per target, seed %d, against %s\n", mode, o.duration, o.seed, strings.Join(targets, " and "))
		if len(targets) > 1 {
			fmt.Fprintf(stderr, "loadtest: the targets take turns of %s\n", min(o.slice, o.duration))
		}
	}

	plan := attackPlan{
		rate:        o.rate,
		workers:     uint64(o.workers),
		maxWorkers:  uint64(o.maxWorkers),
		timeout:     o.timeout,
		duration:    o.duration,
		slice:       o.slice,
		maxRequests: o.maxRequests,
	}
	conns := max(o.workers, o.maxWorkers)
	client := newClient(o.timeout, conns, o.allowRemote)
	defer client.CloseIdleConnections()

	prog := startProgress(stderr, !o.quiet && (o.progress || isTerminal(stderr)), o.duration*time.Duration(len(sides)))
	attack(ctx, client, plan, sides, func(s *side, r *vegeta.Result) {
		decision := ""
		if r.Code >= 200 && r.Code < 300 {
			decision = decisionOf(r.Body)
		}
		r.Body, r.Headers = nil, nil // keep no bodies
		s.stats.add(r, decision)
		if out != nil {
			out.add(s.target, r, decision)
		}
		prog.count(r)
	})
	prog.finish()

	if out != nil {
		if err := out.close(); err != nil {
			return nil, err
		}
		if !o.quiet {
			fmt.Fprintf(stderr, "loadtest: wrote %s, %s and %s in %s\n", resultsBin, resultsCSV, latencyHTML, o.out)
		}
	}
	sums := make([]summary, len(sides))
	for i, s := range sides {
		sums[i] = s.stats.summary(s.name, s.server, s.host)
	}
	return sums, nil
}

// progress draws a bar of elapsed time with a running count of requests.
// count is called from the result loop; the bar is redrawn from its own
// goroutine.
type progress struct {
	n, ok atomic.Uint64
	stop  chan struct{}
	done  chan struct{}
}

// startProgress starts drawing on w when show; otherwise the progress only
// counts.
func startProgress(w io.Writer, show bool, total time.Duration) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	if !show {
		close(p.done)
		return p
	}
	bar := progressbar.NewOptions64(total.Milliseconds(),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("attacking"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
	go func() {
		defer close(p.done)
		start := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				_ = bar.Finish()
				return
			case <-tick.C:
				n, ok := p.n.Load(), p.ok.Load()
				bar.Describe(fmt.Sprintf("%d requests, %d ok", n, ok))
				_ = bar.Set64(min(time.Since(start).Milliseconds(), total.Milliseconds()))
			}
		}
	}()
	return p
}

func (p *progress) count(r *vegeta.Result) {
	p.n.Add(1)
	if r.Code >= 200 && r.Code < 300 {
		p.ok.Add(1)
	}
}

func (p *progress) finish() {
	select {
	case <-p.done:
	default:
		close(p.stop)
		<-p.done
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
