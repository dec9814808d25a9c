package rediscache

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/internal/redistest"
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
			if got := a.srv.Client().Get(ctx, rk).Val(); !regexp.MustCompile(`^[0-9a-f]{1,16}$`).MatchString(got) {
				t.Errorf("GET = %q, want the use's claim (hex)", got)
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

// TestRelease: a use given back is gone from Redis and from the releasing
// replica's tier, so the value's next use, on any replica, is a first use
// again — once. A replica that itself refused the value as a replay keeps
// refusing it from its own tier (fail closed).
func TestRelease(t *testing.T) {
	type step struct {
		who     int // replica
		release bool
		want    bool // FirstUse's answer
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"another replica gets the use back", []step{{0, false, true}, {0, true, false}, {1, false, true}, {0, false, false}, {1, false, false}}},
		{"the same replica gets the use back", []step{{0, false, true}, {0, true, false}, {0, false, true}, {1, false, false}}},
		{"released once, used once", []step{{0, false, true}, {0, true, false}, {1, false, true}, {2, false, false}}},
		{"a replica that refused a replay still refuses", []step{{0, false, true}, {1, false, false}, {0, true, false}, {1, false, false}, {2, false, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newEnv(t, Config{})
			replicas := []*env{a, newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix}), newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})}
			ctx := context.Background()
			k := "ev:" + hkey("token")
			rk := a.srv.Prefix + "rp:" + k
			for i, s := range tt.steps {
				r := replicas[s.who]
				if s.release {
					if err := r.Release(ctx, k); err != nil {
						t.Fatalf("step %d: Release: %v", i, err)
					}
					if n := a.srv.Client().Exists(ctx, rk).Val(); n != 0 {
						t.Fatalf("step %d: %s still in Redis after Release", i, rk)
					}
					continue
				}
				got, err := r.FirstUse(ctx, k, 10*time.Minute)
				if err != nil || got != s.want {
					t.Errorf("step %d: replica %d FirstUse = %t, %v; want %t", i, s.who, got, err, s.want)
				}
			}
		})
	}
}

// TestReleaseInvalid: a malformed key is an error, and nothing is deleted.
func TestReleaseInvalid(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	if ok, err := e.FirstUse(ctx, hkey("kept"), time.Minute); !ok || err != nil {
		t.Fatalf("FirstUse = %t, %v", ok, err)
	}
	for _, k := range []string{"n-1234", "ev:n-1234", "*", e.srv.Prefix + "rp:*"} {
		if err := e.Release(ctx, k); !errors.Is(err, localcache.ErrInvalidKey) {
			t.Errorf("Release(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if keys := e.srv.Keys(t); len(keys) != 1 {
		t.Errorf("keys after invalid releases: %v", keys)
	}
}

// TestReleaseAfterALaterUse: a release that reaches Redis only after the
// value was given back and used again (a DEL sent to a stalled Redis, run
// when it resumes) must not delete the later use: the value would then be
// accepted once more.
func TestReleaseAfterALaterUse(t *testing.T) {
	a := newEnv(t, Config{})
	b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})
	c := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})
	ctx := context.Background()
	k := "ev:" + hkey("token")
	rk := a.srv.Prefix + "rp:" + k
	if ok, err := a.FirstUse(ctx, k, time.Minute); !ok || err != nil {
		t.Fatalf("a: FirstUse = %t, %v", ok, err)
	}
	// a's release reaches Redis late: its use is gone from Redis already,
	// and b has used the value since.
	if err := a.srv.Client().Del(ctx, rk).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.FirstUse(ctx, k, time.Minute); !ok || err != nil {
		t.Fatalf("b: FirstUse = %t, %v", ok, err)
	}
	if err := a.Release(ctx, k); err != nil {
		t.Fatalf("a: Release: %v", err)
	}
	if n := a.srv.Client().Exists(ctx, rk).Val(); n != 1 {
		t.Fatal("the late release deleted b's use")
	}
	if ok, err := c.FirstUse(ctx, k, time.Minute); ok || err != nil {
		t.Errorf("c: FirstUse = %t, %v; want false (b used it)", ok, err)
	}
}

// TestReleaseForgotten: a replica that no longer holds the use (never
// recorded it here) cannot give it back, says so, and deletes nothing.
func TestReleaseForgotten(t *testing.T) {
	a := newEnv(t, Config{})
	b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})
	ctx := context.Background()
	k := "ev:" + hkey("token")
	if ok, err := a.FirstUse(ctx, k, time.Minute); !ok || err != nil {
		t.Fatalf("a: FirstUse = %t, %v", ok, err)
	}
	if err := b.Release(ctx, k); !errors.Is(err, errUseForgotten) {
		t.Errorf("b: Release of a's use = %v, want errUseForgotten", err)
	}
	if ok, err := b.FirstUse(ctx, k, time.Minute); ok || err != nil {
		t.Errorf("b: FirstUse = %t, %v; want false", ok, err)
	}
}

// TestReleaseDuringOutage: a release that cannot reach Redis says so
// (ErrDegraded), within the timeout, and cannot fail open: whether Redis
// runs the delayed release when it resumes or not, the value is accepted at
// most once more, across every replica.
func TestReleaseDuringOutage(t *testing.T) {
	p := redistest.Start(t)
	var replicas []*env
	for range 3 {
		replicas = append(replicas, newEnv(t, outageConfig(p.URL())))
	}
	ctx := context.Background()
	k := "ev:" + hkey("token")
	if ok, err := replicas[0].FirstUse(ctx, k, time.Minute); !ok || err != nil {
		t.Fatalf("FirstUse = %t, %v", ok, err)
	}
	p.Pause()
	var err error
	timed(t, "Release", func() { err = replicas[0].Release(ctx, k) })
	p.Resume()
	if !errors.Is(err, ErrDegraded) {
		t.Fatalf("Release with Redis paused = %v, want ErrDegraded", err)
	}
	accepted := 0
	for range 3 {
		for _, r := range replicas {
			ok, err := r.FirstUse(ctx, k, time.Minute)
			if err == nil && ok {
				accepted++
			}
		}
		time.Sleep(20 * time.Millisecond) // let a delayed release run, if it will
	}
	if accepted > 1 {
		t.Errorf("accepted %d times after one release", accepted)
	}
}
