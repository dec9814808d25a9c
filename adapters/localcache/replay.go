package localcache

import (
	"context"
	"time"

	"github.com/maypok86/otter/v2"
)

// Replay remembers which one-time values (nonces, evidence token ids — as
// HMACs) have been used, so a second use within the ttl is refused. It is the
// in-process replay tier; adapters/rediscache puts a shared one behind it.
//
// The memory is bounded by Options.MaxEntries: if more distinct values than
// that are used within one ttl, the oldest may be forgotten and a replay of
// one of them accepted. Size it for the expected rate × ttl.
//
// A Replay is safe for concurrent use; FirstUse of one key is atomic.
type Replay struct {
	now   func() time.Time
	cache *otter.Cache[string, int64] // key → deadline, Unix nanoseconds
}

// NewReplay returns an empty Replay bounded by opts.MaxEntries.
func NewReplay(opts Options) *Replay {
	now := clockOf(opts)
	return &Replay{now: now, cache: newTTLCache(opts, now, func(d int64) int64 { return d })}
}

// FirstUse reports whether key is seen for the first time within ttl, and
// remembers it for ttl from now if so. Of many concurrent calls with the
// same key exactly one returns true. A repeated use does not extend the
// window. The error is non-nil only for a malformed key or ttl.
func (r *Replay) FirstUse(_ context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ValidateNamespacedKey(key); err != nil {
		return false, err
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	now := r.now().UnixNano()
	first := false
	r.cache.Compute(key, func(old int64, found bool) (int64, otter.ComputeOp) {
		first = false // in case the function is ever retried
		if found && old > now {
			return old, otter.CancelOp
		}
		first = true
		return deadline(now, ttl), otter.WriteOp
	})
	return first, nil
}

// Len returns the approximate number of remembered keys, for metrics.
func (r *Replay) Len() int { return r.cache.EstimatedSize() }

// Range calls fn for each remembered, unexpired key until fn returns false;
// for canary tests.
func (r *Replay) Range(fn func(key string, expires time.Time) bool) {
	now := r.now().UnixNano()
	for k, d := range r.cache.All() {
		if d <= now {
			continue
		}
		if !fn(k, time.Unix(0, d)) {
			return
		}
	}
}
