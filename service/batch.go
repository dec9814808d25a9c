package service

import (
	"context"
	"log/slog"
	"time"
)

// Batcher is a store that serves as both the DeviceMemory and the Cache and
// pays a network round trip per call (Redis). A check then reads what it
// may need in one round trip and writes what it leaves behind in another,
// instead of waiting for one round trip per value. adapters/rediscache
// implements it; the in-process stores have no round trips to save and do
// not. Plain arguments keep the adapters free of this package's types.
type Batcher interface {
	DeviceMemory
	Cache
	// ReadBatch does what LowestDeclaredAge(ageKeys[i]) for each age key
	// and Get(keys[j]) for each key do, with their semantics, in one round
	// trip. An empty key asks for nothing (aged[i], found[j] false); ages
	// and aged have one element per age key, vals and found one per key.
	// The error is non-nil only for a malformed key, and then nothing was
	// read. degraded is true when the shared store could not be asked and
	// the answers are this process's alone: a declared age another replica
	// saw may be missing.
	ReadBatch(ctx context.Context, ageKeys, keys []string) (ages []int, aged []bool, vals [][]byte, found []bool, degraded bool, err error)
	// WriteBatch does what RecordDeclaredAge(ageKeys[i], age, window) for
	// each non-empty age key and Set(keys[i], vals[i], ttls[i]) for each key
	// do, with their semantics, in one round trip. The error is non-nil
	// only for invalid arguments, and then nothing was written.
	WriteBatch(ctx context.Context, ageKeys []string, age int, window time.Duration, keys []string, vals [][]byte, ttls []time.Duration) error
}

// batcherOf returns the store devices and cache both are, if it is a
// Batcher; nil if they are different stores or it does not batch.
func batcherOf(devices DeviceMemory, cache Cache) Batcher {
	b, ok := cache.(Batcher)
	if !ok || DeviceMemory(b) != devices {
		return nil
	}
	return b
}

// lookup is the answer to one Cache read.
type lookup struct {
	val []byte
	ok  bool
	err error
}

// history is the lowest age declared under one reference (a device, an
// account) within the anti-hopping window.
type history struct {
	age   int
	known bool
	err   error
}

// recalled is what the stores hold that bears on one check.
type recalled struct {
	device, account history
	subject         lookup
	decision        lookup
	// degraded: the shared store could not be asked, so the histories are
	// this process's alone.
	degraded bool
}

// keys names what a check reads and leaves behind; an empty key is not
// read or written.
type keys struct {
	device   string // declared-age memory of the device_ref
	account  string // declared-age memory of the subject_ref
	subject  string // the subject record (re-usable assurance)
	decision string // the cached decision
}

// recall reads the lowest ages declared on the device and the account and
// the values under the subject and decision keys. With a Batcher it is one
// round trip, otherwise one call per key.
func (s *Service) recall(ctx context.Context, k *keys) recalled {
	if s.batch != nil {
		ages, aged, vals, found, degraded, err := s.batch.ReadBatch(ctx, []string{k.device, k.account}, []string{k.subject, k.decision})
		if err == nil {
			return recalled{
				device:   history{age: ages[0], known: aged[0]},
				account:  history{age: ages[1], known: aged[1]},
				subject:  lookup{val: vals[0], ok: found[0]},
				decision: lookup{val: vals[1], ok: found[1]},
				degraded: degraded,
			}
		}
		// Only a malformed key fails a batch, and then nothing was read: the
		// single calls below report each failure where it belongs.
	}
	var r recalled
	if k.device != "" {
		r.device.age, r.device.known, r.device.err = s.devices.LowestDeclaredAge(ctx, k.device)
	}
	if k.account != "" {
		r.account.age, r.account.known, r.account.err = s.devices.LowestDeclaredAge(ctx, k.account)
	}
	r.subject = s.get(ctx, k.subject)
	r.decision = s.get(ctx, k.decision)
	return r
}

// get reads key from the Cache; an empty key is not read.
func (s *Service) get(ctx context.Context, key string) lookup {
	var l lookup
	if key != "" {
		l.val, l.ok, l.err = s.cache.Get(ctx, key)
	}
	return l
}

// declaration is an age declared on a device and for an account, to
// remember for the anti-hopping window under each non-empty key. The zero
// value records nothing.
type declaration struct {
	keys   []string
	age    int
	window time.Duration
}

// cacheEntry is a value to write to the Cache.
type cacheEntry struct {
	key  string
	val  []byte
	ttl  time.Duration
	what string // names the value in logs, e.g. "decision cache"
}

// remember records the declaration and writes the entries: with a Batcher
// in one round trip, otherwise one call each. Failures only cost memory
// (the stores degrade by themselves); they are counted and logged.
func (s *Service) remember(ctx context.Context, decl declaration, entries []cacheEntry) {
	if s.batch != nil {
		keys := make([]string, len(entries))
		vals := make([][]byte, len(entries))
		ttls := make([]time.Duration, len(entries))
		for i, e := range entries {
			keys[i], vals[i], ttls[i] = e.key, e.val, e.ttl
		}
		if s.batch.WriteBatch(ctx, decl.keys, decl.age, decl.window, keys, vals, ttls) == nil {
			return
		}
		// Only an invalid argument (such as a policy's zero anti-hopping
		// window) fails a batch, and then nothing was written: the single
		// calls below write what is valid and report each failure where it
		// belongs.
	}
	for _, k := range decl.keys {
		if k == "" {
			continue
		}
		if err := s.devices.RecordDeclaredAge(ctx, k, decl.age, decl.window); err != nil {
			s.metrics.deviceErrors.Inc()
			s.log.LogAttrs(ctx, slog.LevelDebug, "declared-age memory write failed", slog.Any("error", err))
		}
	}
	for _, e := range entries {
		if err := s.cache.Set(ctx, e.key, e.val, e.ttl); err != nil {
			s.cacheError(ctx, e.what+" write", err)
		}
	}
}
