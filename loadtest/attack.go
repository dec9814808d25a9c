package main

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// maxBody is how much of each response is read; a decision is about 2 KiB.
const maxBody = 16 << 10

// side is one target under test, with its own generator (seeded alike, so
// every side is sent the same requests in the same order) and statistics.
type side struct {
	name     string // attack name: the target, or "A <target>" / "B <target>"
	target   string // as given
	targeter vegeta.Targeter
	stats    *stats
	server   serverCounters // from the target's /metrics, when it has one
	host     hostCounters   // this process and the machine, during its slices
	sent     uint64         // results received so far
}

// attackPlan says how hard and how long to attack.
type attackPlan struct {
	rate        int // per second; 0 = as fast as workers go
	workers     uint64
	maxWorkers  uint64
	timeout     time.Duration
	duration    time.Duration // per side
	slice       time.Duration // with several sides, how long each has in turn
	maxRequests uint64        // per side
}

// resultFunc receives each result of s, with its sequence number already
// made continuous across slices.
type resultFunc func(s *side, r *vegeta.Result)

// newTargeter returns a thread-safe Targeter that posts the generator's
// requests in order: the i-th call gets request i.
func newTargeter(g *Generator, endpoint string, header http.Header) vegeta.Targeter {
	var mu sync.Mutex
	return func(t *vegeta.Target) error {
		mu.Lock()
		r, err := g.Next()
		mu.Unlock()
		if err != nil {
			return err
		}
		t.Method, t.URL, t.Body, t.Header = http.MethodPost, endpoint, r.Body, header
		return nil
	}
}

// newClient returns the HTTP client every attack shares, so connections
// stay warm across slices. It never uses a proxy, never follows
// redirects, and, unless allowRemote, refuses to connect to anything but
// loopback addresses.
func newClient(timeout time.Duration, conns int, allowRemote bool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowRemote {
		dialer.Control = dialLoopbackOnly
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// limitPacer stops a pacer after limit hits.
type limitPacer struct {
	vegeta.Pacer
	limit uint64
}

// Pace implements vegeta.Pacer.
func (p limitPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.limit {
		return 0, true
	}
	return p.Pacer.Pace(elapsed, hits)
}

// attack runs plan against sides. One side is attacked for the whole
// duration; several take turns of plan.slice each until each has had the
// duration. It returns early, without error, when ctx is done.
func attack(ctx context.Context, client *http.Client, plan attackPlan, sides []*side, onResult resultFunc) {
	slice := plan.duration
	if len(sides) > 1 && plan.slice < slice {
		slice = plan.slice
	}
	for done := time.Duration(0); done < plan.duration; done += slice {
		d := min(slice, plan.duration-done)
		for _, s := range sides {
			if ctx.Err() != nil {
				return
			}
			if s.sent >= plan.maxRequests {
				continue
			}
			before := scrapeServer(ctx, client, s.target)
			hostBefore := sampleHost()
			attackSlice(ctx, client, plan, s, d, onResult)
			s.host.add(hostBefore, sampleHost())
			s.server.add(before, scrapeServer(ctx, client, s.target))
			s.stats.endSlice()
		}
	}
}

// attackSlice attacks s for d with a fresh Attacker (an Attacker cannot be
// restarted) over the shared client.
func attackSlice(ctx context.Context, client *http.Client, plan attackPlan, s *side, d time.Duration, onResult resultFunc) {
	workers, maxWorkers := plan.workers, plan.maxWorkers
	if plan.rate == 0 {
		// The maximum: exactly this many workers, each sending as soon as
		// its previous request is answered.
		maxWorkers = workers
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(workers),
		vegeta.MaxWorkers(maxWorkers),
		vegeta.Timeout(plan.timeout),
		vegeta.KeepAlive(true),
		vegeta.Connections(int(maxWorkers)),
		vegeta.MaxBody(maxBody),
	)
	pacer := limitPacer{Pacer: vegeta.ConstantPacer{Freq: plan.rate, Per: time.Second}, limit: plan.maxRequests - s.sent}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-stop:
		}
	}()
	base := s.sent
	for r := range atk.Attack(s.targeter, pacer, d, s.name) {
		r.Seq += base
		s.sent++
		onResult(s, r)
	}
}
