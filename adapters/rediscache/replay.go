package rediscache

import (
	"context"
	"fmt"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
)

// nsReplay is the Redis namespace of used one-time values.
const nsReplay = "rp:"

// FirstUse reports whether key (the HMAC of a one-time value: a nonce, an
// evidence token id) is used for the first time within ttl, across all
// replicas, and remembers it in both tiers: SET NX PX in Redis and the
// in-process replay tier. It returns false if either has seen the key.
// key is checked like the in-process tier checks it
// (localcache.ValidateNamespacedKey): a hex HMAC, optionally under the
// caller's namespace ("ev:<hmac>" for evidence tokens), so that a key one
// tier accepts the other never refuses.
//
// If Redis cannot be asked, the answer is this process's alone: a false
// is still certain and returned without error, but a true comes with an
// error wrapping ErrDegraded, because another replica may have seen the
// value. Treat such a use as unverifiable, not as a replay and not as
// fresh. (A use seen only locally during an outage is not copied to Redis
// later; since it was unverifiable, the next use elsewhere is the first
// verified one.) Other errors mean a malformed key or ttl.
func (s *Store) FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := localcache.ValidateNamespacedKey(key); err != nil {
		return false, err
	}
	localFirst, err := s.replay.FirstUse(ctx, key, ttl) // validates ttl
	if err != nil {
		return false, err
	}
	if !localFirst {
		// Certain without asking Redis. Asking would be wrong, too: this
		// call could win the SET NX against the concurrent first use on
		// this replica that is still on its way to Redis, and then neither
		// would be accepted.
		return false, nil
	}
	redisFirst, err := call(s, ctx, opFirstUse, func(ctx context.Context) (bool, error) {
		return s.client.SetNX(ctx, s.key(nsReplay, key), "1", ceilMs(ttl)).Result()
	})
	if err != nil {
		return true, fmt.Errorf("rediscache: replay check: %w: %w", ErrDegraded, err)
	}
	if redisFirst {
		s.metrics.op(opFirstUse, resultOK)
	} else {
		s.metrics.op(opFirstUse, resultMiss) // the key exists: a replay
	}
	return redisFirst, nil
}
