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

// TestFirstUse: a key is used once across replicas, bare or under the
// caller's namespace (the verifier's "ev:" keys), and both tiers accept
// exactly the keys the in-process replay store accepts.
func TestFirstUse(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(ref string) string
	}{
		{"bare hmac", hkey},
		{"evidence namespace", func(ref string) string { return "ev:" + hkey(ref) }},
		{"nested namespace", func(ref string) string { return "ev:kb:" + hkey(ref) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newEnv(t, Config{})
			b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})
			ctx := context.Background()
			k := tc.key("nonce-1")

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
				t.Errorf("PTTL(%s) = %v, want about 10m", rk, got)
			}
			if got := a.srv.Client().Get(ctx, rk).Val(); got != "1" {
				t.Errorf("GET = %q, want \"1\"", got)
			}
			// Seen only by Redis (another replica): refused by b, which has
			// not seen it locally.
			k2 := tc.key("nonce-2")
			if err := a.srv.Client().Set(ctx, a.srv.Prefix+"rp:"+k2, "1", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := b.FirstUse(ctx, k2, time.Minute); got || err != nil {
				t.Errorf("FirstUse(seen in Redis) = %t, %v; want false", got, err)
			}
			// The in-process tier alone agrees on the key's shape.
			if _, err := localcache.NewReplay(localcache.Options{}).FirstUse(ctx, k, time.Minute); err != nil {
				t.Errorf("localcache refuses a key rediscache accepts: %v", err)
			}
		})
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

// TestFirstUseInvalid: malformed keys and ttls are errors, and nothing is
// written for them.
func TestFirstUseInvalid(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	h := hkey("x")
	for _, tc := range []struct {
		name string
		key  string
		ttl  time.Duration
		want error
	}{
		{"raw value", "n-1234", time.Minute, localcache.ErrInvalidKey},
		{"namespace without hmac", "ev:n-1234", time.Minute, localcache.ErrInvalidKey},
		{"upper-case namespace", "EV:" + h, time.Minute, localcache.ErrInvalidKey},
		{"empty namespace", ":" + h, time.Minute, localcache.ErrInvalidKey},
		{"empty namespace label", "ev::" + h, time.Minute, localcache.ErrInvalidKey},
		{"namespace with a space", "e v:" + h, time.Minute, localcache.ErrInvalidKey},
		{"ttl 0", h, 0, localcache.ErrInvalidTTL},
		{"namespaced, ttl 0", "ev:" + h, 0, localcache.ErrInvalidTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.FirstUse(ctx, tc.key, tc.ttl); !errors.Is(err, tc.want) {
				t.Errorf("FirstUse(%q, %v) = %v, want %v", tc.key, tc.ttl, err, tc.want)
			}
		})
	}
	if keys := e.srv.Keys(t); len(keys) != 0 {
		t.Errorf("invalid calls wrote %v", keys)
	}
}
