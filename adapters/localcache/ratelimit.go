package localcache

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"
)

// Limit is a rate limit: Rate events per Period on average, with bursts of
// up to Burst events. It mirrors redis_rate.Limit so that the in-process
// limiter and the Redis one (adapters/rediscache) take the same value and
// the service can switch between them without converting.
type Limit struct {
	Rate   int
	Burst  int
	Period time.Duration
}

// Validate reports whether l can be enforced: all three fields positive.
func (l Limit) Validate() error {
	if l.Rate <= 0 || l.Burst <= 0 || l.Period <= 0 {
		return fmt.Errorf("localcache: %+v: %w", l, ErrInvalidLimit)
	}
	return nil
}

// perSecond returns the average rate in events per second.
func (l Limit) perSecond() rate.Limit { return rate.Limit(float64(l.Rate) / l.Period.Seconds()) }

// refill returns how long an idle limiter takes to become full again, after
// which forgetting it changes nothing.
func (l Limit) refill() time.Duration {
	d := float64(l.Period) * float64(l.Burst) / float64(l.Rate)
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// Decision is the answer of a rate limiter for one event.
type Decision struct {
	// Allowed reports whether the event may happen now.
	Allowed bool
	// RetryAfter is, when not allowed, how long until one event would be;
	// zero when allowed. Suitable for a Retry-After header (rounded up).
	RetryAfter time.Duration
	// Remaining is how many more events would be allowed right now.
	Remaining int
}

// limiterEntry is one tenant's token bucket and the limit it was built for.
type limiterEntry struct {
	lim   *rate.Limiter
	limit Limit
	idle  int64 // refill time in nanoseconds: the entry's idle expiry
}

// RateLimiter enforces a Limit per tenant in process memory, with token
// buckets from golang.org/x/time/rate. It is the fallback when the shared
// Redis limiter is unavailable, and the only limiter without Redis; with
// several replicas each enforces the limit on its own share of traffic.
//
// Buckets idle for longer than their refill time are forgotten (they would
// be full anyway), and at most Options.MaxEntries are kept.
// A RateLimiter is safe for concurrent use.
type RateLimiter struct {
	now   func() time.Time
	cache *otter.Cache[string, *limiterEntry]
}

// NewRateLimiter returns a RateLimiter configured by opts.
func NewRateLimiter(opts Options) *RateLimiter {
	now := clockOf(opts)
	size := opts.MaxEntries
	if size <= 0 {
		size = DefaultMaxEntries
	}
	o := &otter.Options[string, *limiterEntry]{
		MaximumSize: size,
		ExpiryCalculator: otter.ExpiryAccessingFunc(func(e otter.Entry[string, *limiterEntry]) time.Duration {
			return time.Duration(e.Value.idle)
		}),
	}
	if opts.Clock != nil {
		o.Clock = clockAdapter{now}
	}
	return &RateLimiter{now: now, cache: otter.Must(o)}
}

// Allow takes one event from tenant's bucket under limit l. If l differs
// from the limit the bucket was built with (a configuration change), the
// bucket adopts it, keeping its tokens. The error is non-nil only for an
// invalid tenant id or limit.
func (r *RateLimiter) Allow(_ context.Context, tenant string, l Limit) (Decision, error) {
	if err := ValidateTenant(tenant); err != nil {
		return Decision{}, err
	}
	if err := l.Validate(); err != nil {
		return Decision{}, err
	}
	now := r.now()
	e, ok := r.cache.GetIfPresent(tenant)
	if !ok {
		e, _ = r.cache.ComputeIfAbsent(tenant, func() (*limiterEntry, bool) {
			return &limiterEntry{
				lim:   rate.NewLimiter(l.perSecond(), l.Burst),
				limit: l,
				idle:  int64(l.refill()),
			}, false
		})
	}
	if e.limit != l {
		// Rare: racing callers with different limits converge on the last.
		e.lim.SetLimitAt(now, l.perSecond())
		e.lim.SetBurstAt(now, l.Burst)
		r.cache.Set(tenant, &limiterEntry{lim: e.lim, limit: l, idle: int64(l.refill())})
	}
	res := e.lim.ReserveN(now, 1)
	if delay := res.DelayFrom(now); delay > 0 {
		res.CancelAt(now)
		return Decision{RetryAfter: delay, Remaining: 0}, nil
	}
	return Decision{Allowed: true, Remaining: max(0, int(e.lim.TokensAt(now)))}, nil
}

// Len returns the approximate number of tenants with a bucket, for metrics.
func (r *RateLimiter) Len() int { return r.cache.EstimatedSize() }

// AllowRate is Allow with the limit as plain arguments: the shape of the
// service's RateLimiter interface, which keeps adapter types out of the
// service package.
func (r *RateLimiter) AllowRate(ctx context.Context, tenant string, rate, burst int, period time.Duration) (allowed bool, retryAfter time.Duration, err error) {
	d, err := r.Allow(ctx, tenant, Limit{Rate: rate, Burst: burst, Period: period})
	return d.Allowed, d.RetryAfter, err
}
