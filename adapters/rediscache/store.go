package rediscache

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/ageassure/ageassure/adapters/localcache"
)

// Store is the two-tier store: process memory in front, Redis behind a
// circuit breaker as the truth shared by replicas. Create it with New and
// release it with Close. A Store is safe for concurrent use.
type Store struct {
	client      redis.UniversalClient
	pipes       *sharedPipe
	watch       *hangWatch
	rate        *redis_rate.Limiter
	cb          *gobreaker.TwoStepCircuitBreaker[struct{}]
	prefix      string
	timeout     time.Duration
	openTimeout time.Duration
	localMaxTTL time.Duration
	log         *slog.Logger
	metrics     *metrics

	devices *localcache.DeviceMemory
	kv      *localcache.KV
	replay  *localcache.Replay
	limiter *localcache.RateLimiter

	tripped   chan struct{} // breaker opened: wake the prober
	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New validates cfg, connects to Redis and returns a Store. It fails only
// on an invalid configuration (ErrInvalidConfig). If Redis does not answer
// at start-up New logs a warning and returns a working Store anyway: the
// breaker counts the failure and the in-process tier serves until Redis
// answers, so a Redis outage cannot stop the service from starting. ctx
// bounds the start-up check only.
//
// New also routes go-redis' process-wide internal log (which would print a
// line per failed dial to stderr during an outage) to cfg.Logger at debug
// level; with several Stores, the latest one's logger receives it.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	client, err := cfg.newClient()
	if err != nil {
		return nil, err
	}
	routeRedisLogs(cfg.Logger)
	local := localcache.Options{MaxEntries: cfg.LocalMaxEntries, Clock: cfg.Clock}
	s := &Store{
		client:      client,
		rate:        redis_rate.NewLimiter(client),
		prefix:      cfg.Prefix,
		timeout:     cfg.Timeout,
		openTimeout: cfg.Breaker.OpenTimeout,
		localMaxTTL: cfg.LocalMaxTTL,
		log:         cfg.Logger,
		devices:     localcache.NewDeviceMemory(local),
		kv:          localcache.NewKV(local),
		replay:      localcache.NewReplay(local),
		limiter:     localcache.NewRateLimiter(local),
		tripped:     make(chan struct{}, 1),
		closing:     make(chan struct{}),
	}
	s.watch = newHangWatch()
	s.pipes = newSharedPipe(client, cfg.Timeout, s.watch)
	s.cb = newBreaker(cfg.Breaker, s.onStateChange)
	s.metrics = newMetrics(s.cb.State)
	s.wg.Add(1)
	go s.probe()

	if _, err := call(s, ctx, opPing, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, client.Ping(ctx).Err()
	}); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "redis unavailable at start: serving from process memory until it answers",
			slog.Any("config", cfg), slog.String("error", err.Error()))
	} else {
		s.log.LogAttrs(ctx, slog.LevelInfo, "redis connected", slog.Any("config", cfg))
	}
	return s, nil
}

// Close stops the background prober and closes the Redis connections. The
// Store must not be used afterwards. Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		s.wg.Wait()
		if err = s.client.Close(); err != nil {
			err = fmt.Errorf("rediscache: close: %w", err)
		}
	})
	return err
}

// key returns the Redis key for a namespace and a caller key.
func (s *Store) key(ns, k string) string { return s.prefix + ns + k }

// ceilMs rounds d up to whole milliseconds (Redis' PX resolution), so an
// entry never expires in Redis before it would locally.
func ceilMs(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d
}

// execPipe sends the commands queued in pipe in one round trip, in a
// pipeline shared with concurrent callers (see sharedPipe). A miss
// (redis.Nil) is an answer, not an error; any other error of any of the
// caller's commands fails its round trip, so it answers from process memory.
func (s *Store) execPipe(ctx context.Context, pipe redis.Pipeliner) error {
	cmds := pipe.Cmds()
	if err := s.pipes.run(ctx, cmds); err != nil {
		return err
	}
	return cmdsErr(cmds)
}

// redisLogger sends go-redis' internal messages (one per failed dial, for
// instance) to slog at debug level: during an outage they would otherwise
// be one line per request on stderr. The breaker's transitions are the
// record of an outage.
type redisLogger struct{ log atomic.Pointer[slog.Logger] }

var goRedisLogs struct {
	once sync.Once
	l    redisLogger
}

// routeRedisLogs installs redisLogger as go-redis' process-wide logger,
// pointing at l (the latest Store's logger wins).
func routeRedisLogs(l *slog.Logger) {
	goRedisLogs.l.log.Store(l)
	goRedisLogs.once.Do(func() { redis.SetLogger(&goRedisLogs.l) })
}

func (r *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l := r.log.Load()
	if l.Enabled(ctx, slog.LevelDebug) {
		l.LogAttrs(ctx, slog.LevelDebug, "go-redis", slog.String("detail", fmt.Sprintf(format, v...)))
	}
}
