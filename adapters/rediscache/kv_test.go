package rediscache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
)

func TestKVSetGet(t *testing.T) {
	a := newEnv(t, Config{LocalMaxTTL: time.Minute})
	b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix, LocalMaxTTL: time.Minute})
	ctx := context.Background()
	k := "dc:" + hkey("decision")
	val := []byte(`{"decision":"allow","band":"18_plus"}`)

	if err := a.Set(ctx, k, val, 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	// In Redis under the prefix, as given, with the ttl.
	c := a.srv.Client()
	if got, err := c.Get(ctx, a.srv.Prefix+k).Bytes(); err != nil || string(got) != string(val) {
		t.Errorf("GET = %q, %v", got, err)
	}
	if got := c.PTTL(ctx, a.srv.Prefix+k).Val(); !near(got, 15*time.Minute, 2*time.Second) {
		t.Errorf("PTTL = %v, want about 15m", got)
	}
	// a keeps a local copy for LocalMaxTTL.
	if _, ttl, ok, _ := a.kv.GetWithTTL(k); !ok || ttl != time.Minute {
		t.Errorf("a's local copy: %t, ttl %v; want 1m", ok, ttl)
	}

	// b: local miss, Redis hit, then a local copy; the next Get stays local.
	for i, wantTier := range []string{"redis", "local"} {
		got, ok, err := b.Get(ctx, k)
		if err != nil || !ok || string(got) != string(val) {
			t.Fatalf("b.Get #%d = %q, %t, %v", i, got, ok, err)
		}
		if n := b.cacheCount(t, wantTier, "hit"); n != 1 {
			t.Errorf("after b.Get #%d: %s hits = %v, want 1", i, wantTier, n)
		}
	}
	if n := b.opCount(t, "get", "ok"); n != 1 {
		t.Errorf("b asked Redis %v times, want 1", n)
	}
	// The local copy expires on b's clock; then Redis is asked again.
	b.clk.Advance(time.Minute)
	if _, ok, _ := b.Get(ctx, k); !ok {
		t.Fatal("b.Get after local expiry missed")
	}
	if n := b.opCount(t, "get", "ok"); n != 2 {
		t.Errorf("b asked Redis %v times, want 2", n)
	}

	// A miss everywhere.
	if _, ok, err := b.Get(ctx, "dc:"+hkey("other")); ok || err != nil {
		t.Errorf("Get(absent) = %t, %v", ok, err)
	}
	if n := b.cacheCount(t, "redis", "miss"); n != 1 {
		t.Errorf("redis misses = %v, want 1", n)
	}
}

// TestKVLocalCopyFollowsRedisTTL: a value with less time left in Redis than
// LocalMaxTTL is kept locally only for that time.
func TestKVLocalCopyFollowsRedisTTL(t *testing.T) {
	e := newEnv(t, Config{LocalMaxTTL: time.Hour})
	ctx := context.Background()
	k := "sub:" + hkey("subject")
	if err := e.srv.Client().Set(ctx, e.srv.Prefix+k, "rec", 30*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.Get(ctx, k); !ok {
		t.Fatal("Get missed")
	}
	if _, ttl, ok, _ := e.kv.GetWithTTL(k); !ok || !near(ttl, 30*time.Second, 2*time.Second) {
		t.Errorf("local copy: %t, ttl %v; want about 30s (Redis' remaining)", ok, ttl)
	}
	e.clk.Advance(30 * time.Second)
	if _, _, ok, _ := e.kv.GetWithTTL(k); ok {
		t.Error("local copy outlived the Redis ttl")
	}
}

// TestKVNoLocalCopies: with LocalMaxTTL < 0 every Get asks Redis, so a
// change by another replica is seen at once.
func TestKVNoLocalCopies(t *testing.T) {
	a := newEnv(t, Config{LocalMaxTTL: -1})
	b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix, LocalMaxTTL: -1})
	ctx := context.Background()
	k := "dc:" + hkey("x")
	for _, v := range []string{"v1", "v2"} {
		if err := b.Set(ctx, k, []byte(v), time.Hour); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := a.Get(ctx, k); !ok || string(got) != v {
			t.Errorf("a.Get = %q, %t; want %q", got, ok, v)
		}
	}
	if n := a.kv.Len(); n != 0 {
		t.Errorf("a kept %d local copies", n)
	}
}

func TestKVInvalid(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	for _, k := range []string{"dc:alice@example.com", "device-1234", "", "DC:" + hkey("x")} {
		if err := e.Set(ctx, k, []byte("v"), time.Hour); !errors.Is(err, localcache.ErrInvalidKey) {
			t.Errorf("Set(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, _, err := e.Get(ctx, k); !errors.Is(err, localcache.ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if err := e.Set(ctx, "dc:"+hkey("x"), []byte("v"), 0); !errors.Is(err, localcache.ErrInvalidTTL) {
		t.Errorf("Set(ttl 0) = %v, want ErrInvalidTTL", err)
	}
	if keys := e.srv.Keys(t); len(keys) != 0 {
		t.Errorf("invalid calls wrote %q", keys)
	}
}
