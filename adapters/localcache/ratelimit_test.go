package localcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRateLimiterBurstThenRate(t *testing.T) {
	clk := newFakeClock()
	r := NewRateLimiter(Options{Clock: clk.Now})
	ctx := context.Background()
	l := Limit{Rate: 10, Burst: 5, Period: time.Second} // one every 100ms

	for i := range 5 {
		d, err := r.Allow(ctx, "acme", l)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Remaining != 4-i || d.RetryAfter != 0 {
			t.Errorf("event %d: %+v; want allowed, remaining %d", i, d, 4-i)
		}
	}
	d, _ := r.Allow(ctx, "acme", l)
	if d.Allowed || d.RetryAfter != 100*time.Millisecond || d.Remaining != 0 {
		t.Errorf("6th event: %+v; want refused, RetryAfter 100ms", d)
	}
	// A refusal takes no token: after 40ms, still 60ms to wait.
	clk.Advance(40 * time.Millisecond)
	if d, _ := r.Allow(ctx, "acme", l); d.Allowed || d.RetryAfter != 60*time.Millisecond {
		t.Errorf("at +40ms: %+v; want refused, RetryAfter 60ms", d)
	}
	clk.Advance(60 * time.Millisecond)
	if d, _ := r.Allow(ctx, "acme", l); !d.Allowed {
		t.Errorf("at +100ms: %+v; want allowed", d)
	}
	// Other tenants have their own bucket.
	if d, _ := r.Allow(ctx, "other", l); !d.Allowed || d.Remaining != 4 {
		t.Errorf("other tenant: %+v; want allowed, remaining 4", d)
	}
	// After the refill time the bucket is full again.
	clk.Advance(time.Second)
	if d, _ := r.Allow(ctx, "acme", l); !d.Allowed || d.Remaining != 4 {
		t.Errorf("after refill: %+v; want allowed, remaining 4", d)
	}
}

func TestRateLimiterLimitChange(t *testing.T) {
	clk := newFakeClock()
	r := NewRateLimiter(Options{Clock: clk.Now})
	ctx := context.Background()
	l := Limit{Rate: 1, Burst: 1, Period: time.Minute}
	if d, _ := r.Allow(ctx, "acme", l); !d.Allowed {
		t.Fatal("first event refused")
	}
	if d, _ := r.Allow(ctx, "acme", l); d.Allowed || d.RetryAfter != time.Minute {
		t.Fatalf("second event: %+v; want refused for 1m", d)
	}
	// Raising the limit keeps the tokens earned so far (1/60 of one) and
	// earns the rest at the new rate: the wait drops from 59s to under 1s.
	faster := Limit{Rate: 60, Burst: 1, Period: time.Minute}
	clk.Advance(time.Second)
	if d, _ := r.Allow(ctx, "acme", faster); d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Errorf("after raising the limit: %+v; want a wait under 1s", d)
	}
	clk.Advance(time.Second)
	if d, _ := r.Allow(ctx, "acme", faster); !d.Allowed {
		t.Errorf("1s after raising the limit: %+v; want allowed", d)
	}
}

func TestRateLimiterAllowRate(t *testing.T) {
	clk := newFakeClock()
	r := NewRateLimiter(Options{Clock: clk.Now})
	ctx := context.Background()
	if ok, retry, err := r.AllowRate(ctx, "acme", 1, 1, time.Minute); !ok || retry != 0 || err != nil {
		t.Errorf("AllowRate #1 = %t, %v, %v; want allowed", ok, retry, err)
	}
	if ok, retry, err := r.AllowRate(ctx, "acme", 1, 1, time.Minute); ok || retry != time.Minute || err != nil {
		t.Errorf("AllowRate #2 = %t, %v, %v; want refused for 1m", ok, retry, err)
	}
	if _, _, err := r.AllowRate(ctx, "acme", 1, 0, time.Minute); !errors.Is(err, ErrInvalidLimit) {
		t.Errorf("AllowRate(burst 0) = %v, want ErrInvalidLimit", err)
	}
}

func TestRateLimiterInvalid(t *testing.T) {
	r := NewRateLimiter(Options{})
	ctx := context.Background()
	ok := Limit{Rate: 1, Burst: 1, Period: time.Second}
	tests := []struct {
		name   string
		tenant string
		l      Limit
		want   error
	}{
		{"empty tenant", "", ok, ErrInvalidTenant},
		{"upper case", "Acme", ok, ErrInvalidTenant},
		{"email", "a@example.com", ok, ErrInvalidTenant},
		{"leading dash", "-acme", ok, ErrInvalidTenant},
		{"zero limit", "acme", Limit{}, ErrInvalidLimit},
		{"zero burst", "acme", Limit{Rate: 1, Period: time.Second}, ErrInvalidLimit},
		{"negative period", "acme", Limit{Rate: 1, Burst: 1, Period: -1}, ErrInvalidLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := r.Allow(ctx, tt.tenant, tt.l); !errors.Is(err, tt.want) {
				t.Errorf("Allow() = %v, want %v", err, tt.want)
			}
		})
	}
	if err := ValidateTenant("acme-social.eu_1"); err != nil {
		t.Errorf("ValidateTenant(slug) = %v", err)
	}
}

// TestRateLimiterConcurrent: with the clock stopped, exactly Burst of many
// concurrent events pass. Run with -race.
func TestRateLimiterConcurrent(t *testing.T) {
	clk := newFakeClock()
	r := NewRateLimiter(Options{Clock: clk.Now})
	l := Limit{Rate: 1, Burst: 25, Period: time.Hour}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 4 {
				d, err := r.Allow(context.Background(), "acme", l)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 25 {
		t.Errorf("%d events allowed, want 25", n)
	}
}

func TestRateLimiterForgetsIdleTenants(t *testing.T) {
	clk := newFakeClock()
	r := NewRateLimiter(Options{Clock: clk.Now})
	l := Limit{Rate: 10, Burst: 10, Period: time.Second}
	if _, err := r.Allow(context.Background(), "acme", l); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second) // the refill time
	r.cache.CleanUp()
	if n := r.Len(); n != 0 {
		t.Errorf("Len() = %d after the refill time, want 0", n)
	}
}
