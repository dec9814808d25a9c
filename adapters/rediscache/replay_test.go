package rediscache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
)

func TestFirstUse(t *testing.T) {
	a := newEnv(t, Config{})
	b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})
	ctx := context.Background()
	k := hkey("nonce-1")

	steps := []struct {
		who  *env
		want bool
	}{{a, true}, {a, false}, {b, false}, {b, false}}
	for i, s := range steps {
		got, err := s.who.FirstUse(ctx, k, 10*time.Minute)
		if err != nil || got != s.want {
			t.Errorf("use %d: FirstUse = %t, %v; want %t", i, got, err, s.want)
		}
	}
	rk := a.srv.Prefix + "rp:" + k
	if got := a.srv.Client().PTTL(ctx, rk).Val(); !near(got, 10*time.Minute, 2*time.Second) {
		t.Errorf("PTTL = %v, want about 10m", got)
	}
	if got := a.srv.Client().Get(ctx, rk).Val(); got != "1" {
		t.Errorf("GET = %q, want \"1\"", got)
	}
	// Seen only by Redis (another replica): refused by b, which has not
	// seen it locally.
	k2 := hkey("nonce-2")
	if err := a.srv.Client().Set(ctx, a.srv.Prefix+"rp:"+k2, "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.FirstUse(ctx, k2, time.Minute); got || err != nil {
		t.Errorf("FirstUse(seen in Redis) = %t, %v; want false", got, err)
	}
}

// TestFirstUseConcurrentReplicas: one nonce presented to two replicas at
// once is accepted exactly once.
func TestFirstUseConcurrentReplicas(t *testing.T) {
	a := newEnv(t, Config{})
	b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})
	ctx := context.Background()
	for i := range 20 {
		k := hkey(string(rune('a' + i)))
		var firsts atomic.Int32
		var wg sync.WaitGroup
		for _, s := range []*env{a, b, a, b} {
			wg.Go(func() {
				ok, err := s.FirstUse(ctx, k, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					firsts.Add(1)
				}
			})
		}
		wg.Wait()
		if n := firsts.Load(); n != 1 {
			t.Errorf("key %d: %d first uses, want 1", i, n)
		}
	}
}

func TestFirstUseInvalid(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	if _, err := e.FirstUse(ctx, "n-1234", time.Minute); !errors.Is(err, localcache.ErrInvalidKey) {
		t.Errorf("FirstUse(raw) = %v, want ErrInvalidKey", err)
	}
	if _, err := e.FirstUse(ctx, "rp:"+hkey("x"), time.Minute); !errors.Is(err, localcache.ErrInvalidKey) {
		t.Errorf("FirstUse(namespaced) = %v, want ErrInvalidKey: the namespace is ours", err)
	}
	if _, err := e.FirstUse(ctx, hkey("x"), 0); !errors.Is(err, localcache.ErrInvalidTTL) {
		t.Errorf("FirstUse(ttl 0) = %v, want ErrInvalidTTL", err)
	}
}
