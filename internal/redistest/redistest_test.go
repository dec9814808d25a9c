package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestNewPrefixCleanup(t *testing.T) {
	ctx := context.Background()
	var url, prefix string
	t.Run("user", func(t *testing.T) {
		s := New(t)
		url, prefix = s.URL, s.Prefix
		if !strings.HasPrefix(s.Prefix, "ageassure-test:") || !strings.HasSuffix(s.Prefix, ":") {
			t.Errorf("Prefix = %q", s.Prefix)
		}
		c := s.Client()
		for _, k := range []string{s.Prefix + "a", s.Prefix + "dev:b", "rate:" + s.Prefix + "rl:acme"} {
			if err := c.Set(ctx, k, "v", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.Keys(t); len(got) != 3 {
			t.Errorf("Keys() = %q, want 3 keys", got)
		}
	})
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		// The subtest's private redis-server is gone with it; nothing to check.
		t.Skipf("server of the subtest is gone (%v): it was private", err)
	}
	left, err := ScanKeys(ctx, c, "*"+prefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("keys left after the test: %q", left)
	}
}

func TestNewPrefixesDiffer(t *testing.T) {
	a, b := New(t), New(t)
	if a.Prefix == b.Prefix {
		t.Errorf("two servers share prefix %q", a.Prefix)
	}
	// Cleanup of one leaves the other's keys alone.
	ctx := context.Background()
	t.Run("other", func(t *testing.T) {
		o := New(t)
		if err := o.Client().Set(ctx, o.Prefix+"x", 1, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	})
	if err := a.Client().Set(ctx, a.Prefix+"x", 1, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Keys(t)); n != 1 {
		t.Errorf("Keys() = %d, want 1", n)
	}
}

// TestNewFallsBackToProcess points the shared URL at a port where nothing
// listens: New must start a private redis-server instead of failing.
func TestNewFallsBackToProcess(t *testing.T) {
	port := freePort(t, false)
	t.Setenv(EnvURL, fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	start := time.Now()
	s := New(t)
	if strings.Contains(s.URL, fmt.Sprint(port)) {
		t.Fatalf("URL %s is the dead one", s.URL)
	}
	if err := s.Client().Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	t.Logf("fell back in %v", time.Since(start))
}

func TestNewBadURL(t *testing.T) {
	t.Setenv(EnvURL, "http://nope")
	ft := &fakeTB{TB: t}
	ft.run(func() { New(ft) })
	if ft.fatal == "" {
		t.Error("a malformed AGEASSURE_TEST_REDIS did not fail the test")
	}
}

func TestStartKillRestart(t *testing.T) {
	p := Start(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	p.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Kill")
	}
	p.Kill() // idempotent

	p.Restart()
	var err error
	for range 50 { // the client's pool may need a moment to notice the new server
		if err = c.Ping(ctx).Err(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if got, err := c.Get(ctx, "k").Result(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET after restart = %q, %v; want nothing (no persistence)", got, err)
	}
	if !strings.HasSuffix(p.URL(), fmt.Sprintf(":%d/0", p.port)) {
		t.Errorf("URL() = %s", p.URL())
	}
}

func TestStartPauseResume(t *testing.T) {
	p := Start(t)
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ReadTimeout: 100 * time.Millisecond})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.Pause()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered while paused")
	}
	p.Resume()
	var err error
	for range 50 {
		if err = c.Ping(ctx).Err(); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}
}

func TestStartCluster(t *testing.T) {
	cl := StartCluster(t, 3)
	if len(cl.Addrs) != 3 {
		t.Fatalf("Addrs = %q", cl.Addrs)
	}
	c := cl.Client()
	ctx := context.Background()
	// Keys spread over slots, so over all three masters.
	for i := range 30 {
		if err := c.Set(ctx, fmt.Sprint("k", i), i, time.Hour).Err(); err != nil {
			t.Fatalf("SET k%d: %v", i, err)
		}
	}
	var masters atomic.Int32 // ForEachMaster runs concurrently
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		masters.Add(1)
		size, err := n.DBSize(ctx).Result()
		if err == nil && size == 0 {
			err = fmt.Errorf("master %s holds no keys", n.Options().Addr)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
	if n := masters.Load(); n != 3 {
		t.Errorf("%d masters, want 3", n)
	}
	keys, err := ScanKeys(ctx, c, "k*")
	if err != nil || len(keys) != 30 {
		t.Errorf("ScanKeys = %d keys, %v; want 30", len(keys), err)
	}
	if n, err := DeleteMatching(ctx, c, "k*"); err != nil || n != 30 {
		t.Errorf("DeleteMatching = %d, %v; want 30", n, err)
	}
}

// fakeTB records Skipf and Fatalf instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	skip, fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	panic(f) // stop like runtime.Goexit would, caught below
}

// run calls fn, stopping at a Fatalf.
func (f *fakeTB) run(fn func()) {
	defer func() {
		if r := recover(); r != nil && r != any(f) {
			panic(r)
		}
	}()
	fn()
}

func TestUnavailableSkipsOrFails(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			ft := &fakeTB{TB: t}
			ft.run(func() { unavailable(ft, "redis-server is not in PATH") })
			if ci == "true" {
				if ft.fatal == "" || ft.skip != "" {
					t.Errorf("under CI: fatal %q, skip %q; want a failure", ft.fatal, ft.skip)
				}
				return
			}
			if ft.skip == "" || ft.fatal != "" || !strings.Contains(ft.skip, "SKIPPED, NO REDIS") {
				t.Errorf("outside CI: fatal %q, skip %q; want a loud skip", ft.fatal, ft.skip)
			}
		})
	}
}
