package localcache

import (
	"context"
	"math/rand/v2"
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
	cache *otter.Cache[string, use]
}

// use is one remembered use of a key.
type use struct {
	deadline int64  // Unix nanoseconds
	claim    uint64 // tells this use from any later use of the same key
}

// NewReplay returns an empty Replay bounded by opts.MaxEntries.
func NewReplay(opts Options) *Replay {
	now := clockOf(opts)
	return &Replay{now: now, cache: newTTLCache(opts, now, func(u use) int64 { return u.deadline })}
}

// FirstUse reports whether key is seen for the first time within ttl, and
// remembers it for ttl from now if so. Of many concurrent calls with the
// same key exactly one returns true. A repeated use does not extend the
// window. The error is non-nil only for a malformed key or ttl.
func (r *Replay) FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	_, first, err := r.FirstUseClaim(ctx, key, ttl)
	return first, err
}

// FirstUseClaim is FirstUse that also returns, for a first use, its claim:
// a random number remembered with the use (ClaimOf) that no other use of
// the key is likely to share. adapters/rediscache stores it in Redis as the
// use's value, so that a release can delete that use and never a later one.
func (r *Replay) FirstUseClaim(_ context.Context, key string, ttl time.Duration) (claim uint64, first bool, err error) {
	if err := ValidateNamespacedKey(key); err != nil {
		return 0, false, err
	}
	if err := checkTTL(ttl); err != nil {
		return 0, false, err
	}
	now := r.now().UnixNano()
	fresh := use{deadline: deadline(now, ttl), claim: rand.Uint64() | 1} // never 0
	r.cache.Compute(key, func(old use, found bool) (use, otter.ComputeOp) {
		first = false // in case the function is ever retried
		if found && old.deadline > now {
			return old, otter.CancelOp
		}
		first = true
		return fresh, otter.WriteOp
	})
	if !first {
		return 0, false, nil
	}
	return fresh.claim, true, nil
}

// ClaimOf returns the claim of key's remembered, unexpired use, if any.
func (r *Replay) ClaimOf(key string) (uint64, bool) {
	u, ok := r.cache.GetIfPresent(key)
	if !ok || u.deadline <= r.now().UnixNano() {
		return 0, false
	}
	return u.claim, true
}

// Release forgets key, so that its next use is a first use again: for a
// one-time value whose use was recorded but then served nothing (a
// decision withheld). Call it only for a key whose FirstUse returned true,
// and at most once: the use is then the caller's to give back. Releasing an
// unknown or expired key does nothing. The error is non-nil only for a
// malformed key.
func (r *Replay) Release(_ context.Context, key string) error {
	if err := ValidateNamespacedKey(key); err != nil {
		return err
	}
	r.cache.Invalidate(key)
	return nil
}

// Len returns the approximate number of remembered keys, for metrics.
func (r *Replay) Len() int { return r.cache.EstimatedSize() }

// Range calls fn for each remembered, unexpired key until fn returns false;
// for canary tests.
func (r *Replay) Range(fn func(key string, expires time.Time) bool) {
	now := r.now().UnixNano()
	for k, u := range r.cache.All() {
		if u.deadline <= now {
			continue
		}
		if !fn(k, time.Unix(0, u.deadline)) {
			return
		}
	}
}
