// Package localcache holds short-lived, derived state in process memory.
//
// Nothing here may identify a person: keys are keyed HMACs (hex strings)
// computed by the caller and values are derived facts such as a whole-year
// age. The store is bounded and every entry expires, so the memory cannot
// grow into a profile of anyone. The same types will later serve as the
// first tier in front of a shared Redis store, which is why the methods take
// a context and return errors they never produce today.
package localcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/maypok86/otter/v2"
)

// DefaultMaxEntries bounds a tier whose Options leave MaxEntries unset. At
// roughly 200 bytes per entry it caps one tier near 10 MB. Measured at
// 3,500 checks/s with Redis (the tiers fill within a minute): resident
// memory plateaued at 210-216 MB with 100,000 entries and 158-170 MB with
// 50,000.
const DefaultMaxEntries = 50_000

// Sentinel errors, wrapped with %w, for calls that could only come from a
// programming mistake in the caller.
var (
	// ErrInvalidKey means a key is not a hex-encoded HMAC of 128 to 512
	// bits. The check keeps raw device identifiers (which might identify a
	// person) out of the cache even if a caller forgets to hash them.
	ErrInvalidKey = errors.New("key is not a hex-encoded HMAC")
	// ErrInvalidAge means a negative age, which no declaration can produce.
	ErrInvalidAge = errors.New("invalid age")
	// ErrInvalidWindow means a non-positive window, which would record a
	// declaration that is already forgotten and so silently disable the
	// anti-hopping check.
	ErrInvalidWindow = errors.New("invalid window")
)

// Options configure a DeviceMemory.
type Options struct {
	// MaxEntries bounds the number of devices remembered; when full, the
	// entries least likely to be used again are evicted. Zero or negative
	// means DefaultMaxEntries. The bound is approximate: eviction runs
	// asynchronously, shortly after the write that exceeds it.
	MaxEntries int
	// Clock returns the current time; nil means time.Now. It lets tests move
	// time forward instead of sleeping. It drives both the expiry checks on
	// read and the store's own reclamation of expired entries.
	Clock func() time.Time
}

// record is what DeviceMemory keeps per device: an age and when it stops
// counting.
type record struct {
	age     int
	expires int64 // Unix nanoseconds on the Options.Clock; absent from then on
}

// DeviceMemory remembers, per HMAC'd device key, the lowest whole-year age
// declared within a window. A child refused for declaring 12 who retries on
// the same device claiming 18 is still treated as 12 until the window
// passes; a higher declaration never raises the remembered age.
//
// A DeviceMemory is safe for concurrent use; updates of one key are atomic.
type DeviceMemory struct {
	now   func() time.Time
	cache *otter.Cache[string, record]
}

// NewDeviceMemory returns an empty DeviceMemory configured by opts.
func NewDeviceMemory(opts Options) *DeviceMemory {
	m := &DeviceMemory{now: opts.Clock}
	if m.now == nil {
		m.now = time.Now
	}
	size := opts.MaxEntries
	if size <= 0 {
		size = DefaultMaxEntries
	}
	o := &otter.Options[string, record]{
		MaximumSize: size,
		// The entry's own deadline, so otter reclaims it when it stops
		// counting, whatever the window of the policy that wrote it.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, record]) time.Duration {
			return time.Duration(e.Value.expires - m.nowNano())
		}),
	}
	if opts.Clock != nil {
		o.Clock = clockAdapter{m.now}
	}
	// New fails only on inconsistent options, which are fixed above.
	m.cache = otter.Must(o)
	return m
}

// LowestDeclaredAge returns the lowest age declared on the device within the
// window it was recorded with; ok is false when there is none. The error is
// non-nil only for a malformed key.
func (m *DeviceMemory) LowestDeclaredAge(_ context.Context, key string) (age int, ok bool, err error) {
	if err := checkKey(key); err != nil {
		return 0, false, err
	}
	r, found := m.cache.GetIfPresent(key)
	if !found || r.expires <= m.nowNano() {
		// An entry past its deadline on our clock but not yet on otter's is
		// reclaimed by otter shortly; reading it as absent is what counts.
		return 0, false, nil
	}
	return r.age, true, nil
}

// RecordDeclaredAge notes that age was declared on the device. If it is
// lower than the remembered age, or nothing is remembered, it replaces it
// and counts for window from now; the same age again restarts the window;
// a higher age changes nothing, so the lower declaration stands until its
// own window ends.
func (m *DeviceMemory) RecordDeclaredAge(_ context.Context, key string, age int, window time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if age < 0 {
		return fmt.Errorf("localcache: age %d: %w", age, ErrInvalidAge)
	}
	if window <= 0 {
		return fmt.Errorf("localcache: window %v: %w", window, ErrInvalidWindow)
	}
	now := m.nowNano()
	expires := now + int64(window)
	if expires < now { // overflow: remember until the store evicts it
		expires = math.MaxInt64
	}
	m.cache.Compute(key, func(old record, found bool) (record, otter.ComputeOp) {
		if found && old.expires > now && old.age < age {
			return old, otter.CancelOp
		}
		return record{age: age, expires: expires}, otter.WriteOp
	})
	return nil
}

// Len returns the approximate number of remembered devices, for metrics.
// It may count entries that have expired but are not yet reclaimed.
func (m *DeviceMemory) Len() int { return m.cache.EstimatedSize() }

// Range calls fn for each unexpired entry until fn returns false. It exists
// so tests can search everything stored for identity data; the order is
// unspecified and entries written during the walk may or may not be seen.
func (m *DeviceMemory) Range(fn func(key string, age int, expires time.Time) bool) {
	now := m.nowNano()
	for k, r := range m.cache.All() {
		if r.expires <= now {
			continue
		}
		if !fn(k, r.age, time.Unix(0, r.expires)) {
			return
		}
	}
}

func (m *DeviceMemory) nowNano() int64 { return m.now().UnixNano() }

// checkKey accepts 32 to 128 hex digits: HMACs truncated to 128 bits up to
// full HMAC-SHA-512. The key is never echoed in the error, since a malformed
// key is exactly the case where it might be a raw identifier.
func checkKey(key string) error {
	if n := len(key); n < 32 || n > 128 || n%2 != 0 {
		return fmt.Errorf("localcache: %w (length %d)", ErrInvalidKey, n)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return fmt.Errorf("localcache: %w (non-hex character at %d)", ErrInvalidKey, i)
		}
	}
	return nil
}

// clockAdapter gives otter the Options.Clock, so its reclamation follows
// the same time as the reads. It has no ticks: with a caller-supplied clock
// (tests), expired entries are reclaimed during writes and CleanUp instead of
// by a background goroutine.
type clockAdapter struct{ now func() time.Time }

var _ otter.Clock = clockAdapter{}

func (c clockAdapter) NowNano() int64                      { return c.now().UnixNano() }
func (c clockAdapter) Tick(time.Duration) <-chan time.Time { return nil }
