package rediscache

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/internal/redistest"
)

// sanityBound is how long any call may take during an outage. It is a
// sanity check that nothing hangs (calls should take about Timeout, or
// nothing once the breaker is open), not a performance assertion.
const sanityBound = time.Second

// outageConfig makes outages quick to observe: 3 failures open the
// breaker, which probes again after 200ms.
func outageConfig(url string) Config {
	return Config{
		URL:     url,
		Prefix:  "outage:",
		Timeout: 100 * time.Millisecond,
		Breaker: BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: 200 * time.Millisecond, HalfOpenRequests: 2},
	}
}

// timed runs fn and fails t if it takes longer than sanityBound.
func timed(t *testing.T, what string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	if d := time.Since(start); d > sanityBound {
		t.Errorf("%s took %v during the outage", what, d)
	}
}

// waitState polls State until it is want, failing after deadline.
func waitState(t *testing.T, s *Store, want string, deadline time.Duration) {
	t.Helper()
	end := time.Now().Add(deadline)
	for s.State() != want {
		if time.Now().After(end) {
			t.Fatalf("State() = %q after %v, want %q", s.State(), deadline, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exerciseOutage runs every operation while Redis is unreachable (killed or
// hung) and checks the answers come from process memory, without errors
// (FirstUse: ErrDegraded), each within sanityBound.
func exerciseOutage(t *testing.T, e *env, dev string) {
	t.Helper()
	ctx := context.Background()
	l := localcache.Limit{Rate: 1, Burst: 2, Period: time.Hour}

	for i := range 3 { // enough failures to open the breaker
		timed(t, "LowestDeclaredAge", func() {
			age, ok, err := e.LowestDeclaredAge(ctx, dev)
			if err != nil || !ok || age != 12 {
				t.Errorf("call %d: LowestDeclaredAge = %d, %t, %v; want 12 from process memory", i, age, ok, err)
			}
		})
	}
	waitState(t, e.Store, "open", sanityBound)
	if e.Healthy() {
		t.Error("Healthy() with the breaker open")
	}

	timed(t, "RecordDeclaredAge", func() {
		if err := e.RecordDeclaredAge(ctx, dev, 9, time.Hour); err != nil {
			t.Errorf("RecordDeclaredAge: %v", err)
		}
	})
	timed(t, "LowestDeclaredAge", func() {
		if age, _, err := e.LowestDeclaredAge(ctx, dev); err != nil || age != 9 {
			t.Errorf("LowestDeclaredAge = %d, %v; want 9", age, err)
		}
	})
	k := "dc:" + hkey("during-outage")
	timed(t, "Set", func() {
		if err := e.Set(ctx, k, []byte("v"), time.Hour); err != nil {
			t.Errorf("Set: %v", err)
		}
	})
	timed(t, "Get", func() {
		if v, ok, err := e.Get(ctx, k); err != nil || !ok || string(v) != "v" {
			t.Errorf("Get = %q, %t, %v; want the value from process memory", v, ok, err)
		}
		// Kept locally for the full hour, not LocalMaxTTL: the only copy.
		if _, ttl, _, _ := e.kv.GetWithTTL(k); ttl != time.Hour {
			t.Errorf("local ttl of a value written during the outage = %v, want 1h", ttl)
		}
	})
	timed(t, "Get (miss)", func() {
		if _, ok, err := e.Get(ctx, "dc:"+hkey("unknown")); ok || err != nil {
			t.Errorf("Get(unknown) = %t, %v; want a miss without error", ok, err)
		}
	})
	nonce := hkey("nonce-during-outage")
	timed(t, "FirstUse", func() {
		ok, err := e.FirstUse(ctx, nonce, time.Minute)
		if !ok || !errors.Is(err, ErrDegraded) {
			t.Errorf("FirstUse = %t, %v; want true with ErrDegraded", ok, err)
		}
		ok, err = e.FirstUse(ctx, nonce, time.Minute)
		if ok || err != nil {
			t.Errorf("FirstUse again = %t, %v; want a certain false", ok, err)
		}
	})
	timed(t, "Allow", func() {
		for i, want := range []bool{true, true, false} { // burst 2, from the local limiter
			d, err := e.Allow(ctx, "acme", l)
			if err != nil || d.Allowed != want {
				t.Errorf("Allow #%d = %+v, %v; want allowed %t", i, d, err, want)
			}
		}
	})
	if n := counter(t, e.metrics.ops, map[string]string{"result": "fallback"}); n == 0 {
		t.Error("no fallback counted with the breaker open")
	}
	if g := counter(t, e.metrics.state, nil); g != 2 && g != 1 {
		t.Errorf("ageassure_redis_breaker_state = %v, want 2 (open) or 1 (probing)", g)
	}
}

// TestOutageKill kills Redis under a Store, checks every operation keeps
// answering from process memory, then restarts Redis and checks the breaker
// closes by itself and Redis is used again.
func TestOutageKill(t *testing.T) {
	p := redistest.Start(t)
	e := newEnv(t, outageConfig(p.URL()))
	ctx := context.Background()
	dev := hkey("device")
	if err := e.RecordDeclaredAge(ctx, dev, 12, time.Hour); err != nil {
		t.Fatal(err)
	}
	if e.State() != "closed" || !e.Healthy() {
		t.Fatalf("State() = %q before the outage", e.State())
	}

	p.Kill()
	exerciseOutage(t, e, dev)

	// Many calls while open: still no per-request logging.
	for range 200 {
		_, _, _ = e.LowestDeclaredAge(ctx, dev)
	}

	p.Restart() // empty: no persistence
	waitState(t, e.Store, "closed", 5*time.Second)
	if !e.Healthy() {
		t.Error("Healthy() = false with the breaker closed")
	}

	// Redis is used again.
	before := e.opCount(t, "device_record", "ok")
	if err := e.RecordDeclaredAge(ctx, dev, 11, time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := e.opCount(t, "device_record", "ok"); n != before+1 {
		t.Errorf("device_record ok = %v, want %v", n, before+1)
	}
	c := redistestClient(t, p.URL())
	if got := c.Get(ctx, "outage:dev:"+dev).Val(); got != "11" {
		t.Errorf("GET after recovery = %q, want 11", got)
	}

	checkTransitionLogs(t, e.logs.String())
}

// TestOutageHang pauses Redis (SIGSTOP): connections stay open and replies
// never come. Each call must still return within about Timeout.
func TestOutageHang(t *testing.T) {
	p := redistest.Start(t)
	e := newEnv(t, outageConfig(p.URL()))
	ctx := context.Background()
	dev := hkey("device")
	if err := e.RecordDeclaredAge(ctx, dev, 12, time.Hour); err != nil {
		t.Fatal(err)
	}
	p.Pause()
	exerciseOutage(t, e, dev)
	p.Resume()
	waitState(t, e.Store, "closed", 5*time.Second)
	if age, ok, err := e.LowestDeclaredAge(ctx, dev); err != nil || !ok || age != 9 {
		t.Errorf("LowestDeclaredAge after recovery = %d, %t, %v; want 9 (local, lower than Redis' 12)", age, ok, err)
	}
	checkTransitionLogs(t, e.logs.String())
}

// TestCallerDeadlineIsNotAFailure: calls that end because the caller's own
// deadline (shorter than Timeout) passed, on a hung Redis, do not open the
// breaker; the same calls ended by Timeout do.
func TestCallerDeadlineIsNotAFailure(t *testing.T) {
	p := redistest.Start(t)
	cfg := outageConfig(p.URL())
	cfg.Breaker.ConsecutiveFailures = 1
	e := newEnv(t, cfg)
	p.Pause()
	defer p.Resume()
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		if _, _, err := e.LowestDeclaredAge(ctx, hkey("d")); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	if e.State() != "closed" {
		t.Fatalf("State() = %q after calls the caller abandoned, want closed", e.State())
	}
	if _, _, err := e.LowestDeclaredAge(context.Background(), hkey("d")); err != nil {
		t.Fatal(err)
	}
	if e.State() != "open" {
		t.Errorf("State() = %q after a timed-out call, want open", e.State())
	}
}

// TestCallerCancelIsNotAFailure: requests whose callers gave up before
// asking, and misses, do not open the breaker.
func TestCallerCancelIsNotAFailure(t *testing.T) {
	e := newEnv(t, Config{Breaker: BreakerConfig{ConsecutiveFailures: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		if _, _, err := e.LowestDeclaredAge(ctx, hkey("d")); err != nil {
			t.Fatal(err)
		}
	}
	if e.State() != "closed" {
		t.Errorf("State() = %q after cancelled calls, want closed", e.State())
	}
	// A miss is not a failure either.
	for range 5 {
		if _, ok, _ := e.Get(context.Background(), "dc:"+hkey("absent")); ok {
			t.Fatal("hit")
		}
	}
	if e.State() != "closed" {
		t.Errorf("State() = %q after misses, want closed", e.State())
	}
}

// checkTransitionLogs: every line is a start-up line or a breaker
// transition with name, from and to; there is one line per transition,
// never per request.
func checkTransitionLogs(t *testing.T, logs string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	opened := 0
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		switch {
		case msg == "redis connected":
		case strings.HasPrefix(msg, "redis circuit breaker"):
			if rec["name"] != "redis" || rec["from"] == nil || rec["to"] == nil || rec["from"] == rec["to"] {
				t.Errorf("transition line lacks attributes: %s", line)
			}
			if rec["to"] == "open" {
				opened++
			}
		default:
			t.Errorf("unexpected log line: %s", line)
		}
	}
	// closed→open once, then at most one re-open per probe round
	// (OpenTimeout 200ms) while the server was down: far fewer than the
	// hundreds of calls made.
	if opened == 0 || len(lines) > 40 {
		t.Errorf("%d log lines, %d opens:\n%s", len(lines), opened, logs)
	}
}
