package rediscache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
)

// TestAllowShared: GCRA in Redis, one budget for two replicas.
func TestAllowShared(t *testing.T) {
	a := newEnv(t, Config{})
	b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})
	ctx := context.Background()
	l := localcache.Limit{Rate: 5, Burst: 5, Period: time.Hour} // one per 12 minutes after the burst

	for i := range 5 {
		s := a
		if i%2 == 1 {
			s = b
		}
		d, err := s.Allow(ctx, "acme", l)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Remaining != 4-i || d.RetryAfter != 0 {
			t.Errorf("event %d: %+v; want allowed, remaining %d", i, d, 4-i)
		}
	}
	for _, s := range []*env{a, b} {
		d, err := s.Allow(ctx, "acme", l)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 12*time.Minute || d.Remaining != 0 {
			t.Errorf("6th event: %+v; want refused, RetryAfter in (0, 12m]", d)
		}
	}
	// Another tenant has its own budget.
	if d, _ := a.Allow(ctx, "other", l); !d.Allowed {
		t.Errorf("other tenant refused: %+v", d)
	}
	// The state is in Redis under the prefix (redis_rate adds "rate:").
	rk := "rate:" + a.srv.Prefix + "rl:acme"
	if n := a.srv.Client().Exists(ctx, rk).Val(); n != 1 {
		t.Errorf("EXISTS %s = %d", rk, n)
	}
	if n := a.opCount(t, "allow", "ok") + b.opCount(t, "allow", "ok"); n != 8 {
		t.Errorf("allow ok = %v, want 8: the local limiter must not be used while Redis is up", n)
	}
}

func TestAllowRate(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	for i, want := range []bool{true, true, false} {
		ok, retry, err := e.AllowRate(ctx, "acme", 1, 2, time.Hour)
		if err != nil || ok != want || (ok == (retry > 0)) {
			t.Errorf("AllowRate #%d = %t, %v, %v; want %t", i, ok, retry, err, want)
		}
	}
	if _, _, err := e.AllowRate(ctx, "acme", 0, 1, time.Hour); !errors.Is(err, localcache.ErrInvalidLimit) {
		t.Errorf("AllowRate(rate 0) = %v, want ErrInvalidLimit", err)
	}
}

func TestAllowInvalid(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	if _, err := e.Allow(ctx, "Alice Smith", localcache.Limit{Rate: 1, Burst: 1, Period: time.Second}); !errors.Is(err, localcache.ErrInvalidTenant) {
		t.Errorf("Allow(bad tenant) = %v, want ErrInvalidTenant", err)
	}
	if _, err := e.Allow(ctx, "acme", localcache.Limit{}); !errors.Is(err, localcache.ErrInvalidLimit) {
		t.Errorf("Allow(zero limit) = %v, want ErrInvalidLimit", err)
	}
}
