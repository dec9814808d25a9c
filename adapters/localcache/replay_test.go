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
