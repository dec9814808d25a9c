package localcache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time               { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration)      { c.ns.Add(int64(d)) }
func (c *fakeClock) at(d time.Duration) time.Time { return c.Now().Add(d) }

// devKey returns a key shaped like the service's: hex HMAC-SHA-256.
func devKey(ref string) string {
	m := hmac.New(sha256.New, []byte("test key"))
	m.Write([]byte(ref))
	return hex.EncodeToString(m.Sum(nil))
}

type step struct {
	at     time.Duration // offset from the start
	record bool
	age    int           // recorded, or wanted on lookup
	window time.Duration // record only
	ok     bool          // lookup only: is an age remembered
}

func rec(at time.Duration, age int, window time.Duration) step {
	return step{at: at, record: true, age: age, window: window}
}
func want(at time.Duration, age int) step { return step{at: at, age: age, ok: true} }
func none(at time.Duration) step          { return step{at: at} }

func TestDeviceMemorySequences(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name  string
		steps []step
	}{
		{"nothing recorded", []step{none(0)}},
		{"recorded then read", []step{rec(0, 12, h), want(0, 12), want(59*time.Minute, 12)}},
		{"expires at the deadline", []step{rec(0, 12, h), want(h-1, 12), none(h), none(2 * h)}},
		{"lower replaces and restarts window", []step{
			rec(0, 17, h), rec(30*time.Minute, 12, h),
			want(30*time.Minute, 12), want(h+29*time.Minute, 12), none(h + 30*time.Minute),
		}},
		{"higher changes nothing", []step{
			rec(0, 12, h), rec(10*time.Minute, 18, 10*h),
			want(10*time.Minute, 12), want(h-1, 12), none(h),
		}},
		{"higher after expiry is recorded", []step{
			rec(0, 12, h), rec(h, 18, h), want(h, 18), want(2*h-1, 18), none(2 * h),
		}},
		{"same age refreshes expiry", []step{
			rec(0, 12, h), rec(50*time.Minute, 12, h),
			want(h, 12), want(h+49*time.Minute, 12), none(h + 50*time.Minute),
		}},
		{"same age with shorter window shortens expiry", []step{
			rec(0, 12, h), rec(10*time.Minute, 12, time.Minute),
			want(10*time.Minute, 12), none(11 * time.Minute),
		}},
		{"age zero is an age", []step{rec(0, 0, h), rec(1, 5, h), want(2, 0)}},
		{"descending ages keep the lowest", []step{
			rec(0, 20, h), rec(1, 16, h), rec(2, 13, h), rec(3, 15, h), want(4, 13),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			start := clk.Now()
			m := NewDeviceMemory(Options{MaxEntries: 100, Clock: clk.Now})
			key := devKey("device-1")
			ctx := context.Background()
			for i, s := range tt.steps {
				now := start.Add(s.at)
				if now.Before(clk.Now()) {
					t.Fatalf("step %d goes back in time", i)
				}
				clk.Advance(now.Sub(clk.Now()))
				if s.record {
					if err := m.RecordDeclaredAge(ctx, key, s.age, s.window); err != nil {
						t.Fatalf("step %d: RecordDeclaredAge: %v", i, err)
					}
					continue
				}
				age, ok, err := m.LowestDeclaredAge(ctx, key)
				if err != nil {
					t.Fatalf("step %d: LowestDeclaredAge: %v", i, err)
				}
				if ok != s.ok || age != s.age {
					t.Errorf("step %d (+%v): LowestDeclaredAge = %d, %t; want %d, %t", i, s.at, age, ok, s.age, s.ok)
				}
			}
		})
	}
}

func TestDeviceMemoryKeysIndependent(t *testing.T) {
	clk := newFakeClock()
	m := NewDeviceMemory(Options{Clock: clk.Now})
	ctx := context.Background()
	a, b := devKey("a"), devKey("b")
	if err := m.RecordDeclaredAge(ctx, a, 12, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := m.RecordDeclaredAge(ctx, b, 30, time.Hour); err != nil {
		t.Fatal(err)
	}
	for key, wantAge := range map[string]int{a: 12, b: 30} {
		if age, ok, _ := m.LowestDeclaredAge(ctx, key); !ok || age != wantAge {
			t.Errorf("LowestDeclaredAge(%s…) = %d, %t; want %d", key[:8], age, ok, wantAge)
		}
	}
}

func TestDeviceMemoryInvalid(t *testing.T) {
	m := NewDeviceMemory(Options{})
	ctx := context.Background()
	good := devKey("x")
	tests := []struct {
		name   string
		key    string
		age    int
		window time.Duration
		want   error
	}{
		{"raw identifier", "device-1234", 12, time.Hour, ErrInvalidKey},
		{"email", "someone@example.com.someone@example.com.", 12, time.Hour, ErrInvalidKey},
		{"empty", "", 12, time.Hour, ErrInvalidKey},
		{"short hex", good[:30], 12, time.Hour, ErrInvalidKey},
		{"odd hex", good[:33], 12, time.Hour, ErrInvalidKey},
		{"too long", strings.Repeat("ab", 65), 12, time.Hour, ErrInvalidKey},
		{"negative age", good, -1, time.Hour, ErrInvalidAge},
		{"zero window", good, 12, 0, ErrInvalidWindow},
		{"negative window", good, 12, -time.Second, ErrInvalidWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.RecordDeclaredAge(ctx, tt.key, tt.age, tt.window)
			if !errors.Is(err, tt.want) {
				t.Fatalf("RecordDeclaredAge() = %v, want %v", err, tt.want)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q echoes the key", err)
			}
			if tt.want == ErrInvalidKey {
				if _, _, err := m.LowestDeclaredAge(ctx, tt.key); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("LowestDeclaredAge() = %v, want %v", err, ErrInvalidKey)
				}
			}
		})
	}
	if n := m.Len(); n != 0 {
		t.Errorf("Len() = %d after invalid calls, want 0", n)
	}
	// Upper-case hex and the longest window are fine.
	if err := m.RecordDeclaredAge(ctx, strings.ToUpper(good), 12, time.Duration(1<<63-1)); err != nil {
		t.Errorf("RecordDeclaredAge(upper-case, max window) = %v", err)
	}
	if _, ok, _ := m.LowestDeclaredAge(ctx, strings.ToUpper(good)); !ok {
		t.Error("max-window entry not found")
	}
}

func TestDeviceMemoryRealClock(t *testing.T) {
	m := NewDeviceMemory(Options{})
	ctx := context.Background()
	key := devKey("real")
	if err := m.RecordDeclaredAge(ctx, key, 15, time.Hour); err != nil {
		t.Fatal(err)
	}
	if age, ok, err := m.LowestDeclaredAge(ctx, key); err != nil || !ok || age != 15 {
		t.Errorf("LowestDeclaredAge() = %d, %t, %v; want 15, true, nil", age, ok, err)
	}
}

// TestDeviceMemoryConcurrentMinimum records many ages for one key from many
// goroutines; whatever the interleaving, the minimum must win. Run with
// -race.
func TestDeviceMemoryConcurrentMinimum(t *testing.T) {
	clk := newFakeClock()
	m := NewDeviceMemory(Options{Clock: clk.Now})
	ctx := context.Background()
	key := devKey("shared")
	const goroutines, perG = 32, 200
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				// Ages 5..104, spread so every goroutine writes high and
				// low values; the global minimum 5 is written by several.
				age := 5 + (g*perG+i*7)%100
				if err := m.RecordDeclaredAge(ctx, key, age, time.Hour); err != nil {
					errs <- err
					return
				}
				if _, _, err := m.LowestDeclaredAge(ctx, key); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if age, ok, _ := m.LowestDeclaredAge(ctx, key); !ok || age != 5 {
		t.Errorf("LowestDeclaredAge() = %d, %t; want 5, true", age, ok)
	}
}

func TestDeviceMemoryBounded(t *testing.T) {
	const maxEntries = 1000
	clk := newFakeClock()
	m := NewDeviceMemory(Options{MaxEntries: maxEntries, Clock: clk.Now})
	ctx := context.Background()
	for i := range 10 * maxEntries {
		if err := m.RecordDeclaredAge(ctx, devKey(fmt.Sprint(i)), 10+i%10, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	m.cache.CleanUp()
	if n := m.Len(); n > maxEntries {
		t.Errorf("Len() = %d after clean-up, want ≤ %d", n, maxEntries)
	}
	if n := m.Len(); n < maxEntries/2 {
		t.Errorf("Len() = %d, want the cache roughly full (≥ %d)", n, maxEntries/2)
	}
}

func TestDeviceMemoryReclaimsExpired(t *testing.T) {
	clk := newFakeClock()
	m := NewDeviceMemory(Options{MaxEntries: 1000, Clock: clk.Now})
	ctx := context.Background()
	for i := range 100 {
		if err := m.RecordDeclaredAge(ctx, devKey(fmt.Sprint(i)), 12, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Hour)
	m.cache.CleanUp()
	if n := m.Len(); n != 0 {
		t.Errorf("Len() = %d an hour later, want 0: otter must follow Options.Clock", n)
	}
}

// TestDeviceMemoryStoresNoIdentity searches everything stored: keys must be
// the HMACs the caller passed, never the references they were derived from,
// and values only ages and deadlines.
func TestDeviceMemoryStoresNoIdentity(t *testing.T) {
	clk := newFakeClock()
	m := NewDeviceMemory(Options{Clock: clk.Now})
	ctx := context.Background()
	refs := []string{"idfa:6D92078A-8246-4BA4-AE5B-76104861E7DC", "alice@example.com", "203.0.113.7"}
	for i, ref := range refs {
		if err := m.RecordDeclaredAge(ctx, devKey(ref), 13+i, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Minute)
	seen := 0
	m.Range(func(key string, age int, expires time.Time) bool {
		seen++
		if checkKey(key) != nil {
			t.Errorf("stored key %q is not an HMAC", key)
		}
		for _, ref := range refs {
			if strings.Contains(strings.ToLower(key), strings.ToLower(ref)) {
				t.Errorf("stored key contains reference %q", ref)
			}
		}
		if age < 13 || age > 15 {
			t.Errorf("stored age %d", age)
		}
		if want := clk.at(24*time.Hour - time.Minute); !expires.Equal(want) {
			t.Errorf("expires = %v, want %v", expires, want)
		}
		return true
	})
	if seen != len(refs) {
		t.Errorf("Range visited %d entries, want %d", seen, len(refs))
	}

	// Range stops when asked and skips expired entries.
	n := 0
	m.Range(func(string, int, time.Time) bool { n++; return false })
	if n != 1 {
		t.Errorf("Range continued after false: %d calls", n)
	}
	clk.Advance(24 * time.Hour)
	m.Range(func(key string, _ int, _ time.Time) bool {
		t.Errorf("Range visited expired key %s…", key[:8])
		return true
	})
}

func BenchmarkDeviceMemory(b *testing.B) {
	m := NewDeviceMemory(Options{MaxEntries: 100_000})
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = devKey(fmt.Sprint(i))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := keys[i%len(keys)]
			if _, _, err := m.LowestDeclaredAge(ctx, k); err != nil {
				b.Error(err)
				return
			}
			if err := m.RecordDeclaredAge(ctx, k, 10+i%10, time.Hour); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
