package localcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestKVGetSet(t *testing.T) {
	const h = time.Hour
	clk := newFakeClock()
	kv := NewKV(Options{MaxEntries: 100, Clock: clk.Now})
	ctx := context.Background()
	k := "dc:" + devKey("a")

	if _, ok, err := kv.Get(ctx, k); ok || err != nil {
		t.Fatalf("Get(empty) = _, %t, %v; want miss", ok, err)
	}
	if err := kv.Set(ctx, k, []byte("v1"), h); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at   time.Duration // since the Set
		want string        // "" = miss
	}{{0, "v1"}, {h - 1, "v1"}, {h, ""}, {2 * h, ""}}
	start := clk.Now()
	for _, s := range steps {
		clk.Advance(start.Add(s.at).Sub(clk.Now()))
		got, ok, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if s.want == "" {
			if ok {
				t.Errorf("+%v: Get = %q, want miss", s.at, got)
			}
			continue
		}
		if !ok || string(got) != s.want {
			t.Errorf("+%v: Get = %q, %t; want %q", s.at, got, ok, s.want)
		}
	}

	// Set replaces value and deadline.
	if err := kv.Set(ctx, k, []byte("v2"), h); err != nil {
		t.Fatal(err)
	}
	if err := kv.Set(ctx, k, []byte("v3"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ttl, ok, _ := kv.GetWithTTL(k); !ok || string(v) != "v3" || ttl != time.Minute {
		t.Errorf("GetWithTTL = %q, %v, %t; want v3, 1m", v, ttl, ok)
	}
	clk.Advance(time.Minute)
	if _, ok, _ := kv.Get(ctx, k); ok {
		t.Error("replaced entry kept the longer deadline")
	}

	// Delete removes; deleting nothing is fine.
	if err := kv.Set(ctx, k, []byte("v4"), h); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := kv.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := kv.Get(ctx, k); ok {
		t.Error("Get after Delete found the value")
	}
	if err := kv.Delete(ctx, "raw-ref"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Delete(raw) = %v, want ErrInvalidKey", err)
	}
}

func TestKVCopiesValues(t *testing.T) {
	kv := NewKV(Options{})
	ctx := context.Background()
	k := "sub:" + devKey("a")
	buf := []byte("abc")
	if err := kv.Set(ctx, k, buf, time.Hour); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X'
	got, _, _ := kv.Get(ctx, k)
	got[1] = 'Y'
	again, _, _ := kv.Get(ctx, k)
	if string(again) != "abc" {
		t.Errorf("stored value changed through caller buffers: %q", again)
	}
	// Empty values are values.
	if err := kv.Set(ctx, k, []byte{}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := kv.Get(ctx, k); !ok || v == nil || len(v) != 0 {
		t.Errorf("Get(empty value) = %v, %t; want [], true", v, ok)
	}
}

func TestKVInvalid(t *testing.T) {
	kv := NewKV(Options{})
	ctx := context.Background()
	good := devKey("x")
	tests := []struct {
		name string
		key  string
		ttl  time.Duration
		want error
	}{
		{"raw identifier", "device-1234", time.Hour, ErrInvalidKey},
		{"namespaced raw", "dc:alice@example.com", time.Hour, ErrInvalidKey},
		{"upper-case namespace", "DC:" + good, time.Hour, ErrInvalidKey},
		{"empty namespace", ":" + good, time.Hour, ErrInvalidKey},
		{"long namespace", strings.Repeat("n", 33) + ":" + good, time.Hour, ErrInvalidKey},
		{"empty", "", time.Hour, ErrInvalidKey},
		{"zero ttl", "dc:" + good, 0, ErrInvalidTTL},
		{"negative ttl", "dc:" + good, -time.Second, ErrInvalidTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := kv.Set(ctx, tt.key, []byte("v"), tt.ttl)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Set() = %v, want %v", err, tt.want)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q echoes the key", err)
			}
			if tt.want == ErrInvalidKey {
				if _, _, err := kv.Get(ctx, tt.key); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("Get() = %v, want %v", err, ErrInvalidKey)
				}
			}
		})
	}
	if n := kv.Len(); n != 0 {
		t.Errorf("Len() = %d after invalid calls", n)
	}
	for _, k := range []string{good, "dc:" + good, "a:b-c_d:" + good} {
		if err := kv.Set(ctx, k, nil, time.Duration(1<<63-1)); err != nil {
			t.Errorf("Set(%.10s…, max ttl) = %v", k, err)
		}
	}
}

func TestKVBoundedAndReclaimed(t *testing.T) {
	const maxEntries = 500
	clk := newFakeClock()
	kv := NewKV(Options{MaxEntries: maxEntries, Clock: clk.Now})
	ctx := context.Background()
	for i := range 4 * maxEntries {
		if err := kv.Set(ctx, "dc:"+devKey(fmt.Sprint(i)), []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	kv.cache.CleanUp()
	if n := kv.Len(); n > maxEntries || n < maxEntries/2 {
		t.Errorf("Len() = %d, want about %d", n, maxEntries)
	}
	clk.Advance(time.Hour)
	kv.cache.CleanUp()
	if n := kv.Len(); n != 0 {
		t.Errorf("Len() = %d an hour later, want 0", n)
	}
}

// TestKVRange is the hook for canary tests: Range sees exactly what was
// stored, skips expired entries and stops when asked.
func TestKVRange(t *testing.T) {
	clk := newFakeClock()
	kv := NewKV(Options{Clock: clk.Now})
	ctx := context.Background()
	want := map[string][]byte{}
	for i := range 3 {
		k := "dc:" + devKey(fmt.Sprint(i))
		want[k] = []byte{byte(i)}
		if err := kv.Set(ctx, k, want[k], time.Duration(i+1)*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string][]byte{}
	kv.Range(func(k string, v []byte, exp time.Time) bool {
		got[k] = v
		if ValidateNamespacedKey(k) != nil {
			t.Errorf("stored key %q is not a namespaced HMAC", k)
		}
		return true
	})
	if len(got) != 3 {
		t.Fatalf("Range saw %d entries, want 3", len(got))
	}
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Errorf("Range[%.12s…] = %v, want %v", k, got[k], v)
		}
	}
	n := 0
	kv.Range(func(string, []byte, time.Time) bool { n++; return false })
	if n != 1 {
		t.Errorf("Range continued after false: %d calls", n)
	}
	clk.Advance(90 * time.Minute)
	n = 0
	kv.Range(func(string, []byte, time.Time) bool { n++; return true })
	if n != 2 {
		t.Errorf("Range after 90m saw %d entries, want 2", n)
	}
}
