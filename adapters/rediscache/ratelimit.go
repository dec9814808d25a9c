package rediscache

import (
	"context"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/ageassure/ageassure/adapters/localcache"
)

// nsRate is the namespace of rate-limit keys; redis_rate puts "rate:" in
// front of the whole key.
const nsRate = "rl:"

// Allow takes one event from tenant's budget under limit l, with GCRA in
// Redis (redis_rate), so the limit holds across all replicas together. If
// Redis cannot be asked, the in-process limiter decides: each replica then
// enforces l on its own share of traffic, so the fleet may let through up
// to l times the number of replicas until Redis is back. The error is
// non-nil only for an invalid tenant id or limit.
func (s *Store) Allow(ctx context.Context, tenant string, l localcache.Limit) (localcache.Decision, error) {
	if err := localcache.ValidateTenant(tenant); err != nil {
		return localcache.Decision{}, err
	}
	if err := l.Validate(); err != nil {
		return localcache.Decision{}, err
	}
	res, err := call(s, ctx, opAllow, func(ctx context.Context) (*redis_rate.Result, error) {
		return s.rate.Allow(ctx, s.key(nsRate, tenant), redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Period})
	})
	if err != nil {
		return s.limiter.Allow(ctx, tenant, l)
	}
	s.metrics.op(opAllow, resultOK)
	d := localcache.Decision{Allowed: res.Allowed > 0, Remaining: res.Remaining}
	if !d.Allowed && res.RetryAfter > 0 { // redis_rate reports -1 when allowed
		d.RetryAfter = res.RetryAfter
	}
	return d, nil
}

// AllowRate is Allow with the limit as plain arguments: the shape of the
// service's RateLimiter interface, which keeps adapter types out of the
// service package.
func (s *Store) AllowRate(ctx context.Context, tenant string, rate, burst int, period time.Duration) (allowed bool, retryAfter time.Duration, err error) {
	d, err := s.Allow(ctx, tenant, localcache.Limit{Rate: rate, Burst: burst, Period: period})
	return d.Allowed, d.RetryAfter, err
}
