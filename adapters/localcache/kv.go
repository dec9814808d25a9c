package localcache

import (
	"context"
	"time"

	"github.com/maypok86/otter/v2"
)

// kvEntry is one value of a KV and when it stops counting.
type kvEntry struct {
	val     []byte
	expires int64 // Unix nanoseconds on the Options.Clock
}

// KV is a bounded in-process byte store where every entry has a time to
// live. It holds derived, already-encoded records (cached decisions, subject
// records) under namespaced HMAC keys, and serves as the first tier in front
// of Redis and as the only tier when no Redis is configured.
//
// A KV is safe for concurrent use. Values are copied on the way in and out,
// so callers may reuse their buffers.
type KV struct {
	now   func() time.Time
	cache *otter.Cache[string, kvEntry]
}

// NewKV returns an empty KV bounded by opts.MaxEntries.
func NewKV(opts Options) *KV {
	now := clockOf(opts)
	return &KV{now: now, cache: newTTLCache(opts, now, func(e kvEntry) int64 { return e.expires })}
}

// Get returns a copy of the value stored under key; ok is false when there
// is none or it has expired. The error is non-nil only for a malformed key
// (see ValidateNamespacedKey).
func (kv *KV) Get(_ context.Context, key string) (val []byte, ok bool, err error) {
	val, _, ok, err = kv.GetWithTTL(key)
	return val, ok, err
}

// GetWithTTL is Get that also returns how long the value has left, so a tier
// in front of another can copy it without extending its life.
func (kv *KV) GetWithTTL(key string) (val []byte, ttl time.Duration, ok bool, err error) {
	if err := ValidateNamespacedKey(key); err != nil {
		return nil, 0, false, err
	}
	e, found := kv.cache.GetIfPresent(key)
	now := kv.now().UnixNano()
	if !found || e.expires <= now {
		return nil, 0, false, nil
	}
	return clone(e.val), time.Duration(e.expires - now), true, nil
}

// Set stores a copy of val under key for ttl, replacing any earlier value.
func (kv *KV) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	if err := ValidateNamespacedKey(key); err != nil {
		return err
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	kv.cache.Set(key, kvEntry{val: clone(val), expires: deadline(kv.now().UnixNano(), ttl)})
	return nil
}

// Delete removes the value stored under key, if any. A tier in front of a
// shared store uses it to drop a copy it must no longer serve.
func (kv *KV) Delete(_ context.Context, key string) error {
	if err := ValidateNamespacedKey(key); err != nil {
		return err
	}
	kv.cache.Invalidate(key)
	return nil
}

// Len returns the approximate number of entries, for metrics. It may count
// entries that have expired but are not yet reclaimed.
func (kv *KV) Len() int { return kv.cache.EstimatedSize() }

// Range calls fn for each unexpired entry until fn returns false. It exists
// so tests can search everything stored for identity data (canary tests);
// the order is unspecified and fn must not modify val.
func (kv *KV) Range(fn func(key string, val []byte, expires time.Time) bool) {
	now := kv.now().UnixNano()
	for k, e := range kv.cache.All() {
		if e.expires <= now {
			continue
		}
		if !fn(k, e.val, time.Unix(0, e.expires)) {
			return
		}
	}
}

// clone copies b, keeping nil as nil and empty as empty.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
