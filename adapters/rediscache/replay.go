package rediscache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ageassure/ageassure/adapters/localcache"
)

// nsReplay is the Redis namespace of used one-time values.
const nsReplay = "rp:"

// FirstUse reports whether key (the HMAC of a one-time value: a nonce, an
// evidence token id) is used for the first time within ttl, across all
// replicas, and remembers it in both tiers: SET NX PX in Redis and the
// in-process replay tier. The Redis value is the use's claim, a random
// number the in-process tier keeps too, so that Release deletes this use
// and never a later one. It returns false if either has seen the key.
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
	claim, localFirst, err := s.replay.FirstUseClaim(ctx, key, ttl) // validates ttl
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
		return s.client.SetNX(ctx, s.key(nsReplay, key), claimValue(claim), ceilMs(ttl)).Result()
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

// releaseUse deletes a used key only if it still holds the claim of the use
// being given back: KEYS[1] the key, ARGV[1] the claim. A DEL that Redis
// runs late (sent, timed out, then executed when a stalled Redis resumes)
// could otherwise delete the key a later use wrote, and let the value be
// used once more. Returns 1 if deleted, 0 if not.
var releaseUse = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// claimValue is how a use's claim is stored in Redis.
func claimValue(claim uint64) string { return strconv.FormatUint(claim, 16) }

// errUseForgotten: the in-process tier no longer holds the use's claim
// (expired, or evicted when the tier is full), so the Redis key cannot be
// told from a later use's.
var errUseForgotten = errors.New("rediscache: the use is no longer remembered in process: it stays spent")

// Release gives back the use of key that FirstUse recorded on this replica:
// it deletes the Redis key, if it still holds that use's claim, and then
// the in-process tier's entry, so that the value's next use, on any
// replica, is a first use again. It is for a one-time value whose use was
// recorded but then served nothing (a decision withheld). Call it only for
// a key whose FirstUse on this Store returned true without error, and at
// most once.
//
// It cannot fail open. An error means the use may still be remembered: in
// Redis, when Redis cannot be asked (ErrDegraded), or everywhere, when this
// replica no longer holds the use's claim (the in-process tier evicted it
// under memory pressure); the value's next use may then be refused as a
// replay, and nothing is accepted twice. A replica that itself refused a
// replay of the value meanwhile remembers that in its own tier, and keeps
// refusing it there until the ttl. Other errors mean a malformed key.
func (s *Store) Release(ctx context.Context, key string) error {
	if err := localcache.ValidateNamespacedKey(key); err != nil {
		return err
	}
	claim, ok := s.replay.ClaimOf(key)
	if !ok {
		return errUseForgotten
	}
	// Redis first: between the two steps a use on this replica is refused
	// by the in-process tier, where the other order would let it write the
	// key to that tier again after Redis refused it.
	_, err := call(s, ctx, opFirstUse, func(ctx context.Context) (int64, error) {
		return releaseUse.Run(ctx, s.client, []string{s.key(nsReplay, key)}, claimValue(claim)).Int64()
	})
	_ = s.replay.Release(ctx, key) // the key is valid: it cannot fail
	if err != nil {
		return fmt.Errorf("rediscache: giving back a use: %w: %w", ErrDegraded, err)
	}
	return nil
}
