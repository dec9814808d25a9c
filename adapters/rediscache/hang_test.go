package rediscache

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ageassure/ageassure/internal/redistest"
)

// check does what the service does for one age check: one ReadBatch, then
// one WriteBatch, both through the shared pipelines.
func check(ctx context.Context, e *env, dev string, i int) {
	k := "dc:" + hkey(fmt.Sprint("decision-", i%50))
	if _, _, _, _, err := readBatch(ctx, e, dev, []string{k}); err != nil {
		panic(err) // keys are well-formed: only a bug gets here
	}
	if err := writeBatch(ctx, e, dev, 12, time.Hour, []string{k}, [][]byte{[]byte("v")}, []time.Duration{time.Hour}); err != nil {
		panic(err)
	}
}

// steadyLoad starts a check now and then one every interval, each in its
// own goroutine as HTTP requests arrive (an open loop: a slow check does
// not hold the next one back), each with a context bounded by deadline if
// it is not zero, until the returned stop is called; stop waits for the
// checks under way.
func steadyLoad(e *env, dev string, interval, deadline time.Duration) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if deadline > 0 {
					ctx, cancel = context.WithTimeout(ctx, deadline)
				}
				defer cancel()
				check(ctx, e, dev, i)
			}()
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); wg.Wait() }) }
}

// transitions returns the breaker's transitions in the logs, as "from→to".
func transitions(t *testing.T, logs string) []string {
	t.Helper()
	var out []string
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var rec struct{ Msg, From, To string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if strings.HasPrefix(rec.Msg, "redis circuit breaker") {
			out = append(out, rec.From+"→"+rec.To)
		}
	}
	return out
}

// TestHangOpensBreaker (issue 14): at 40 checks/s, a stopped (SIGSTOP)
// Redis kept every check waiting out the Timeout and the breaker closed,
// because every check queued behind the two pipelines in flight and gave
// up there, where nothing is counted. At any load the breaker must open
// within a couple of seconds; checks then answer from process memory at
// once; after SIGCONT it closes again by itself.
func TestHangOpensBreaker(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration // one check every interval
		deadline time.Duration // each check's own deadline (0: none)
	}{
		{name: "40 checks/s", interval: 25 * time.Millisecond},
		// The checks in the lanes end by their callers' deadlines, which
		// say nothing about Redis; the queued groups' pipelines wait out
		// their own Timeout.
		{name: "40 checks/s, deadlines shorter than the Timeout", interval: 25 * time.Millisecond, deadline: 60 * time.Millisecond},
		// Three checks in a row would take four seconds.
		{name: "a check every 2s", interval: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := redistest.Start(t)
			e := newEnv(t, Config{
				URL:     p.URL(),
				Prefix:  "hang:",
				Timeout: 100 * time.Millisecond,
				// ConsecutiveFailures left at its default, as in production.
				Breaker: BreakerConfig{OpenTimeout: time.Second, HalfOpenRequests: 2},
			})
			ctx := context.Background()
			dev := hkey("device")
			for i := range 3 { // on a healthy Redis
				check(ctx, e, dev, i)
			}
			if age, ok, _, _, err := readBatch(ctx, e, dev, nil); err != nil || !ok || age != 12 || e.State() != "closed" {
				t.Fatalf("before the hang: ReadBatch = %d, %t, %v; State() = %q", age, ok, err, e.State())
			}

			p.Pause()
			paused := time.Now()
			stop := steadyLoad(e, dev, tt.interval, tt.deadline)
			defer stop()
			waitState(t, e.Store, "open", 2*time.Second)
			t.Logf("breaker open %v after SIGSTOP", time.Since(paused).Round(time.Millisecond))

			// The breaker refuses at once; the answer is process memory's.
			before := e.opCount(t, "batch_read", "fallback")
			timed(t, "ReadBatch", func() {
				age, ok, _, _, err := readBatch(ctx, e, dev, nil)
				if err != nil || !ok || age != 12 {
					t.Errorf("ReadBatch = %d, %t, %v; want 12 from process memory", age, ok, err)
				}
			})
			if got := e.opCount(t, "batch_read", "fallback"); got <= before {
				t.Errorf("batch_read fallbacks %v → %v: the call was not refused by the open breaker", before, got)
			}

			p.Resume()
			waitState(t, e.Store, "closed", 5*time.Second)
			stop()
			trs := transitions(t, e.logs.String())
			if len(trs) < 3 || trs[0] != "closed→open" || trs[len(trs)-2] != "open→half-open" || trs[len(trs)-1] != "half-open→closed" {
				t.Errorf("transitions %v, want closed→open … open→half-open, half-open→closed", trs)
			}
			// Redis is used again.
			before = e.opCount(t, "batch_read", "ok")
			if _, _, _, _, err := readBatch(ctx, e, dev, nil); err != nil {
				t.Fatal(err)
			}
			if got := e.opCount(t, "batch_read", "ok"); got != before+1 {
				t.Errorf("batch_read ok %v → %v after recovery, want one more", before, got)
			}
		})
	}
}

// stall is a Lua script that keeps Redis busy, answering no one, for
// ARGV[1] milliseconds: a slow command, as a busy Redis has them.
const stall = `
local t = redis.call('TIME')
local stop = t[1] * 1000000 + t[2] + ARGV[1] * 1000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= stop
return 1`

// slowPipelines is a client hook that holds every pipeline for delay
// before sending it: a Redis (or a network) that answers each pipeline,
// just late.
type slowPipelines struct{ delay time.Duration }

func (h slowPipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h slowPipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h slowPipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !connectionSetUp(cmds) {
			t := time.NewTimer(h.delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		return next(ctx, cmds)
	}
}

// TestBusyRedisKeepsBreakerClosed: a Redis that answers every pipeline,
// if late for the callers queued behind others, is not hung, and must not
// open the breaker, however many queued callers give up past the Timeout.
func TestBusyRedisKeepsBreakerClosed(t *testing.T) {
	tests := []struct {
		name       string
		timeout    time.Duration
		delay      time.Duration // each pipeline is answered this late
		stall      time.Duration // Redis answers no one for this long, again and again
		wantGaveUp bool          // queued callers must have waited past the Timeout
	}{
		// A pipeline takes 80ms, within the 120ms Timeout; a caller queued
		// behind one waits for it, then for its own: up to 160ms.
		{name: "64 callers, pipelines answered late", timeout: 120 * time.Millisecond, delay: 80 * time.Millisecond, wantGaveUp: true},
		// Redis itself stalls for 60ms at a time, 10ms apart: silences
		// shorter than the Timeout, with callers piling up meanwhile.
		{name: "64 callers, Redis stalling", timeout: 100 * time.Millisecond, stall: 60 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := redistest.Start(t)
			e := newEnv(t, Config{URL: p.URL(), Prefix: "busy:", Timeout: tt.timeout})
			dev := hkey("device")
			check(context.Background(), e, dev, 0) // loads the script: no NOSCRIPT round trips later
			if tt.delay > 0 {
				e.client.AddHook(slowPipelines{tt.delay})
			}
			const callers, runFor = 64, 2 * time.Second

			var stalls atomic.Int64
			done := make(chan struct{})
			var wg sync.WaitGroup
			if tt.stall > 0 {
				c := redistestClient(t, p.URL())
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-done:
							return
						case <-time.After(10 * time.Millisecond):
						}
						if err := c.Eval(context.Background(), stall, nil, tt.stall.Milliseconds()).Err(); err != nil {
							t.Errorf("stall: %v", err)
							return
						}
						stalls.Add(1)
					}
				}()
			}
			for c := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := c; ; i += callers {
						select {
						case <-done:
							return
						default:
						}
						check(context.Background(), e, dev, i)
					}
				}()
			}
			time.Sleep(runFor)
			close(done)
			wg.Wait()

			ok := e.opCount(t, "batch_read", "ok") + e.opCount(t, "batch_write", "ok")
			gaveUp := e.opCount(t, "batch_read", "error") + e.opCount(t, "batch_write", "error")
			t.Logf("%v answered, %v gave up, %d stalls", ok, gaveUp, stalls.Load())
			if trs := transitions(t, e.logs.String()); len(trs) > 0 || e.State() != "closed" {
				t.Errorf("breaker %s, transitions %v: a busy Redis opened it", e.State(), trs)
			}
			if ok == 0 {
				t.Error("Redis answered nothing")
			}
			if tt.wantGaveUp && gaveUp == 0 {
				t.Error("no caller gave up: the test did not make queue waits exceed the Timeout")
			}
			if tt.stall > 0 && stalls.Load() == 0 {
				t.Error("Redis never stalled")
			}
		})
	}
}
