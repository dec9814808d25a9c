package rediscache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/internal/syncbuf"
)

// The small interfaces the service declares at its side (it never imports
// this package, nor this package the service). Store must satisfy each, and
// the localcache types the ones they stand in for without Redis.
type (
	deviceMemory interface {
		LowestDeclaredAge(ctx context.Context, key string) (int, bool, error)
		RecordDeclaredAge(ctx context.Context, key string, age int, window time.Duration) error
	}
	byteCache interface {
		Get(ctx context.Context, key string) ([]byte, bool, error)
		Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	}
	replayGuard interface {
		FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error)
	}
	rateLimiter interface {
		Allow(ctx context.Context, tenant string, l localcache.Limit) (localcache.Decision, error)
	}
	// The service's RateLimiter: plain arguments.
	rateAllower interface {
		AllowRate(ctx context.Context, tenant string, rate, burst int, period time.Duration) (allowed bool, retryAfter time.Duration, err error)
	}
	healthReporter interface {
		State() string
		Healthy() bool
	}
	// The service's Batcher: one round trip for several values.
	batcher interface {
		deviceMemory
		byteCache
		ReadBatch(ctx context.Context, ageKeys, keys []string) (ages []int, aged []bool, vals [][]byte, found []bool, degraded bool, err error)
		WriteBatch(ctx context.Context, ageKeys []string, age int, window time.Duration, keys []string, vals [][]byte, ttls []time.Duration) error
	}
)

// readBatch is ReadBatch with at most one declared-age key (none for ""),
// which is what most tests need.
func readBatch(ctx context.Context, b batcher, dev string, keys []string) (int, bool, [][]byte, []bool, error) {
	ages, aged, vals, found, _, err := b.ReadBatch(ctx, []string{dev}, keys)
	if err != nil {
		return 0, false, nil, nil, err
	}
	return ages[0], aged[0], vals, found, nil
}

// writeBatch is WriteBatch with at most one declared-age key (none for "").
func writeBatch(ctx context.Context, b batcher, dev string, age int, window time.Duration, keys []string, vals [][]byte, ttls []time.Duration) error {
	return b.WriteBatch(ctx, []string{dev}, age, window, keys, vals, ttls)
}

var (
	_ deviceMemory   = (*Store)(nil)
	_ byteCache      = (*Store)(nil)
	_ replayGuard    = (*Store)(nil)
	_ rateLimiter    = (*Store)(nil)
	_ healthReporter = (*Store)(nil)
	_ rateAllower    = (*Store)(nil)
	_ batcher        = (*Store)(nil)

	_ deviceMemory = (*localcache.DeviceMemory)(nil)
	_ byteCache    = (*localcache.KV)(nil)
	_ replayGuard  = (*localcache.Replay)(nil)
	_ rateLimiter  = (*localcache.RateLimiter)(nil)
	_ rateAllower  = (*localcache.RateLimiter)(nil)
)

// fakeClock is a settable clock for the in-process tier.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// hkey returns a key shaped like the service's: hex HMAC-SHA-256 of ref.
func hkey(ref string) string {
	m := hmac.New(sha256.New, []byte("test key"))
	m.Write([]byte(ref))
	return hex.EncodeToString(m.Sum(nil))
}

// env is a Store under test with its clock, logs and Redis.
type env struct {
	*Store
	clk  *fakeClock
	logs *syncbuf.Buffer
	srv  *redistest.Server // nil for private processes and clusters
}

// newEnv returns a Store on the shared test Redis (redistest.New) with the
// test's prefix, unless cfg names its own Redis. Logs go to env.logs.
func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	e := &env{clk: newFakeClock(), logs: &syncbuf.Buffer{}}
	if cfg.URL == "" && cfg.ClusterAddrs == nil && cfg.SentinelAddrs == nil {
		e.srv = redistest.New(t)
		cfg.URL = e.srv.URL
		if cfg.Prefix == "" {
			cfg.Prefix = e.srv.Prefix
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = e.clk.Now
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	e.Store = s
	return e
}

// counter returns the value of a counter in c with the given labels.
func counter(t testing.TB, c prometheus.Collector, labels map[string]string) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	total := 0.0
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		match := true
		for _, lp := range d.GetLabel() {
			if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
				match = false
			}
		}
		if match {
			total += d.GetCounter().GetValue() + d.GetGauge().GetValue()
		}
	}
	return total
}

// opCount returns ageassure_redis_operations_total{op,result}.
func (e *env) opCount(t testing.TB, op, result string) float64 {
	t.Helper()
	return counter(t, e.metrics.ops, map[string]string{"op": op, "result": result})
}

// cacheCount returns ageassure_cache_requests_total{tier,result}.
func (e *env) cacheCount(t testing.TB, tier, result string) float64 {
	t.Helper()
	return counter(t, e.metrics.cache, map[string]string{"tier": tier, "result": result})
}

// near reports whether got is within tol below want (TTLs only shrink).
func near(got, want, tol time.Duration) bool { return got <= want && got > want-tol }

// roundTrips counts what a go-redis client sends: single commands and
// pipelines, one round trip each.
type roundTrips struct{ cmds, pipelines atomic.Int64 }

// countRoundTrips installs a roundTrips hook on the Store's client. A new
// connection's set-up commands (HELLO, SELECT, …) pass the client's hooks
// too, so it first warms the connection pools up and then starts counting
// from zero.
func (e *env) countRoundTrips(t testing.TB) *roundTrips {
	t.Helper()
	rt := &roundTrips{}
	e.client.AddHook(rt)
	ctx := context.Background()
	pipe := e.client.Pipeline()
	pipe.Ping(ctx)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	if err := e.client.Ping(ctx).Err(); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
	rt.cmds.Store(0)
	rt.pipelines.Store(0)
	return rt
}

func (rt *roundTrips) total() int64 { return rt.cmds.Load() + rt.pipelines.Load() }

func (rt *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (rt *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		rt.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (rt *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		rt.pipelines.Add(1)
		return next(ctx, cmds)
	}
}
