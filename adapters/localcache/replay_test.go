package localcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestReplayFirstUse(t *testing.T) {
	const h = time.Hour
	type use struct {
		at   time.Duration
		ttl  time.Duration
		want bool
	}
	tests := []struct {
		name string
		uses []use
	}{
		{"first then refused", []use{{0, h, true}, {1, h, false}, {h - 1, h, false}}},
		{"accepted again after ttl", []use{{0, h, true}, {h, h, true}, {h + 1, h, false}}},
		{"a replay does not extend the window", []use{{0, h, true}, {h - 1, 10 * h, false}, {h, h, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			start := clk.Now()
			r := NewReplay(Options{Clock: clk.Now})
			k := devKey("nonce")
			for i, u := range tt.uses {
				clk.Advance(start.Add(u.at).Sub(clk.Now()))
				got, err := r.FirstUse(context.Background(), k, u.ttl)
				if err != nil {
					t.Fatal(err)
				}
				if got != u.want {
					t.Errorf("use %d at +%v: FirstUse = %t, want %t", i, u.at, got, u.want)
				}
			}
		})
	}
}

func TestReplayInvalid(t *testing.T) {
	r := NewReplay(Options{})
	ctx := context.Background()
	if _, err := r.FirstUse(ctx, "nonce-1234", time.Hour); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("FirstUse(raw) = %v, want ErrInvalidKey", err)
	}
	if _, err := r.FirstUse(ctx, devKey("x"), 0); !errors.Is(err, ErrInvalidTTL) {
		t.Errorf("FirstUse(ttl 0) = %v, want ErrInvalidTTL", err)
	}
	if r.Len() != 0 {
		t.Errorf("Len() = %d after invalid calls", r.Len())
	}
}

// TestReplayConcurrent: of many simultaneous uses of one key exactly one is
// the first. Run with -race.
func TestReplayConcurrent(t *testing.T) {
	clk := newFakeClock()
	r := NewReplay(Options{Clock: clk.Now})
	keys := []string{devKey("a"), devKey("b"), devKey("c")}
	var firsts [3]atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i, k := range keys {
				ok, err := r.FirstUse(context.Background(), k, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					firsts[i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range firsts {
		if n := firsts[i].Load(); n != 1 {
			t.Errorf("key %d: %d first uses, want 1", i, n)
		}
	}
	n := 0
	r.Range(func(k string, exp time.Time) bool {
		n++
		if !exp.Equal(clk.Now().Add(time.Minute)) {
			t.Errorf("expires %v, want %v", exp, clk.Now().Add(time.Minute))
		}
		return true
	})
	if n != 3 {
		t.Errorf("Range saw %d keys, want 3", n)
	}
}

// TestReplayRelease: a released use is a first use again, once; releasing
// is no use itself, and never extends or creates a window.
func TestReplayRelease(t *testing.T) {
	const h = time.Hour
	type op struct {
		release bool // else FirstUse
		at      time.Duration
		want    bool // FirstUse's answer
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"a released use is first again", []op{{false, 0, true}, {true, 1, false}, {false, 2, true}, {false, 3, false}}},
		{"releasing an unknown key does nothing", []op{{true, 0, false}, {false, 1, true}, {false, 2, false}}},
		{"releasing an expired key does nothing", []op{{false, 0, true}, {true, h + 1, false}, {false, h + 2, true}, {false, h + 3, false}}},
		{"a release is not a use", []op{{false, 0, true}, {true, 1, false}, {true, 2, false}, {false, 3, true}, {false, 4, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			start := clk.Now()
			r := NewReplay(Options{Clock: clk.Now})
			k := "ev:" + devKey("token")
			for i, o := range tt.ops {
				clk.Advance(start.Add(o.at).Sub(clk.Now()))
				if o.release {
					if err := r.Release(context.Background(), k); err != nil {
						t.Fatalf("op %d: Release: %v", i, err)
					}
					continue
				}
				got, err := r.FirstUse(context.Background(), k, h)
				if err != nil {
					t.Fatal(err)
				}
				if got != o.want {
					t.Errorf("op %d at +%v: FirstUse = %t, want %t", i, o.at, got, o.want)
				}
			}
		})
	}
}

func TestReplayReleaseInvalid(t *testing.T) {
	r := NewReplay(Options{})
	if err := r.Release(context.Background(), "nonce-1234"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Release(raw) = %v, want ErrInvalidKey", err)
	}
}

// TestReplayClaims: each first use has its own claim, kept until the use
// expires or is released; a refused use has none and leaves the claim be.
func TestReplayClaims(t *testing.T) {
	clk := newFakeClock()
	r := NewReplay(Options{Clock: clk.Now})
	ctx := context.Background()
	k := "ev:" + devKey("token")
	c1, first, err := r.FirstUseClaim(ctx, k, time.Minute)
	if err != nil || !first || c1 == 0 {
		t.Fatalf("first use: claim %x, %t, %v", c1, first, err)
	}
	if c, first, _ := r.FirstUseClaim(ctx, k, time.Minute); first || c != 0 {
		t.Errorf("replay: claim %x, %t", c, first)
	}
	if c, ok := r.ClaimOf(k); !ok || c != c1 {
		t.Errorf("ClaimOf = %x, %t; want %x", c, ok, c1)
	}
	if err := r.Release(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.ClaimOf(k); ok {
		t.Error("a released use still has a claim")
	}
	c2, first, _ := r.FirstUseClaim(ctx, k, time.Minute)
	if !first || c2 == c1 || c2 == 0 {
		t.Errorf("use after release: claim %x (first %x), %t", c2, c1, first)
	}
	clk.Advance(time.Minute)
	if _, ok := r.ClaimOf(k); ok {
		t.Error("an expired use still has a claim")
	}
}
