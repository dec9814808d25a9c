package rediscache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
)

// TestDeviceRedisSemantics checks the script's minimum semantics on Redis
// itself: the stored value and its PTTL after each record.
func TestDeviceRedisSemantics(t *testing.T) {
	const h = time.Hour
	type rec struct {
		age    int
		window time.Duration
	}
	tests := []struct {
		name    string
		records []rec
		wantAge string
		wantTTL time.Duration
	}{
		{"first", []rec{{17, h}}, "17", h},
		{"lower replaces with its window", []rec{{17, h}, {12, 2 * h}}, "12", 2 * h},
		{"higher changes nothing", []rec{{12, h}, {18, 10 * h}}, "12", h},
		{"equal restarts the window, even shorter", []rec{{12, h}, {12, 30 * time.Minute}}, "12", 30 * time.Minute},
		{"age zero", []rec{{0, h}, {5, 2 * h}}, "0", h},
		// A sub-millisecond remainder rounds up (PX takes milliseconds), and
		// the window is long enough to observe even on a loaded machine.
		{"sub-millisecond remainder rounds up", []rec{{12, 3*time.Second + 500*time.Microsecond}}, "12", 3*time.Second + time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			ctx := context.Background()
			k := hkey(tt.name)
			for _, r := range tt.records {
				if err := e.RecordDeclaredAge(ctx, k, r.age, r.window); err != nil {
					t.Fatal(err)
				}
			}
			rk := e.srv.Prefix + "dev:" + k
			c := e.srv.Client()
			if got, err := c.Get(ctx, rk).Result(); err != nil || got != tt.wantAge {
				t.Errorf("GET %s… = %q, %v; want %q", rk[:20], got, err, tt.wantAge)
			}
			if got := c.PTTL(ctx, rk).Val(); !near(got, tt.wantTTL, 2*time.Second) {
				t.Errorf("PTTL = %v, want about %v", got, tt.wantTTL)
			}
		})
	}
}

// TestDeviceSharedBetweenReplicas: two Stores (two replicas) share one
// Redis; each has its own process memory. A record via one is seen by the
// other, which then remembers it locally too.
func TestDeviceSharedBetweenReplicas(t *testing.T) {
	a := newEnv(t, Config{})
	b := newEnv(t, Config{URL: a.srv.URL, Prefix: a.srv.Prefix})
	ctx := context.Background()
	k := hkey("device-1")

	if _, ok, _ := b.LowestDeclaredAge(ctx, k); ok {
		t.Fatal("replica b knows the device before anyone recorded it")
	}
	if err := a.RecordDeclaredAge(ctx, k, 12, time.Hour); err != nil {
		t.Fatal(err)
	}
	if age, ok, err := b.LowestDeclaredAge(ctx, k); err != nil || !ok || age != 12 {
		t.Fatalf("b.LowestDeclaredAge = %d, %t, %v; want 12 recorded by a", age, ok, err)
	}
	// b copied it into its own memory with Redis' remaining window.
	if age, ok, _ := b.devices.LowestDeclaredAge(ctx, k); !ok || age != 12 {
		t.Errorf("b's process memory = %d, %t; want 12", age, ok)
	}
	// The retry with an older age on b does not raise it anywhere.
	if err := b.RecordDeclaredAge(ctx, k, 18, time.Hour); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*env{"a": a, "b": b} {
		if age, ok, _ := s.LowestDeclaredAge(ctx, k); !ok || age != 12 {
			t.Errorf("%s.LowestDeclaredAge = %d, %t; want 12", name, age, ok)
		}
	}
	// A lower age anywhere wins everywhere.
	if err := b.RecordDeclaredAge(ctx, k, 10, time.Hour); err != nil {
		t.Fatal(err)
	}
	if age, _, _ := a.LowestDeclaredAge(ctx, k); age != 10 {
		t.Errorf("a.LowestDeclaredAge = %d, want 10 recorded by b", age)
	}
}

// TestDeviceMinimumOfTiers: a lower age only this process knows (recorded
// during an outage) counts even when Redis holds a higher one, and an
// entry expiring locally (fake clock) is still answered from Redis.
func TestDeviceMinimumOfTiers(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	k := hkey("device-2")
	if err := e.srv.Client().Set(ctx, e.srv.Prefix+"dev:"+k, "16", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.devices.RecordDeclaredAge(ctx, k, 11, time.Hour); err != nil { // local only
		t.Fatal(err)
	}
	if age, ok, _ := e.LowestDeclaredAge(ctx, k); !ok || age != 11 {
		t.Errorf("LowestDeclaredAge = %d, %t; want 11 from process memory", age, ok)
	}
	e.clk.Advance(2 * time.Hour) // the local entry is gone; Redis' is not (real time)
	if age, ok, _ := e.LowestDeclaredAge(ctx, k); !ok || age != 16 {
		t.Errorf("LowestDeclaredAge = %d, %t; want 16 from Redis", age, ok)
	}
	// A value this package did not write is ignored, not an error. (Move
	// past the local copy of 16 the last read made.)
	e.clk.Advance(2 * time.Hour)
	if err := e.srv.Client().Set(ctx, e.srv.Prefix+"dev:"+k, "not-an-age", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.LowestDeclaredAge(ctx, k); ok || err != nil {
		t.Errorf("LowestDeclaredAge(garbage) = %t, %v; want a miss", ok, err)
	}
	if err := e.RecordDeclaredAge(ctx, k, 14, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Client().Get(ctx, e.srv.Prefix+"dev:"+k).Val(); got != "14" {
		t.Errorf("record over garbage: GET = %q, want 14", got)
	}
}

func TestDeviceInvalid(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	if err := e.RecordDeclaredAge(ctx, "device-1234", 12, time.Hour); !errors.Is(err, localcache.ErrInvalidKey) {
		t.Errorf("RecordDeclaredAge(raw) = %v, want ErrInvalidKey", err)
	}
	if _, _, err := e.LowestDeclaredAge(ctx, "alice@example.com"); !errors.Is(err, localcache.ErrInvalidKey) {
		t.Errorf("LowestDeclaredAge(raw) = %v, want ErrInvalidKey", err)
	}
	if err := e.RecordDeclaredAge(ctx, hkey("x"), -1, time.Hour); !errors.Is(err, localcache.ErrInvalidAge) {
		t.Errorf("RecordDeclaredAge(-1) = %v, want ErrInvalidAge", err)
	}
	if err := e.RecordDeclaredAge(ctx, hkey("x"), 12, 0); !errors.Is(err, localcache.ErrInvalidWindow) {
		t.Errorf("RecordDeclaredAge(window 0) = %v, want ErrInvalidWindow", err)
	}
	if keys := e.srv.Keys(t); len(keys) != 0 {
		t.Errorf("invalid calls wrote %q", keys)
	}
}
