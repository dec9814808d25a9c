package rediscache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ageassure/ageassure/adapters/localcache"
)

// Get returns the value stored under key ("<namespace>:<hmac>", e.g.
// "dc:<hmac>"): from process memory if this replica holds a copy, else from
// Redis, in which case a copy is kept locally for the value's remaining
// Redis lifetime, capped by Config.LocalMaxTTL. The error is non-nil only
// for a malformed key; if Redis fails, Get reports a miss, which a cache's
// caller handles by computing the value.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	val, ok, err := s.kv.Get(ctx, key) // validates key
	if err != nil {
		return nil, false, err
	}
	if ok {
		s.metrics.localHit.Inc()
		return val, true, nil
	}
	s.metrics.localMiss.Inc()
	type reply struct {
		val []byte
		ttl time.Duration
		ok  bool
	}
	r, err := call(s, ctx, opGet, func(ctx context.Context) (reply, error) {
		pipe := s.client.Pipeline()
		get := pipe.Get(ctx, s.prefix+key)
		pttl := pipe.PTTL(ctx, s.prefix+key)
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return reply{}, err
		}
		b, err := get.Bytes()
		if errors.Is(err, redis.Nil) || pttl.Val() == -2 {
			return reply{}, nil
		}
		return reply{val: b, ttl: pttl.Val(), ok: true}, nil
	})
	switch {
	case err != nil:
		return nil, false, nil
	case !r.ok:
		s.metrics.op(opGet, resultMiss)
		s.metrics.redisMiss.Inc()
		return nil, false, nil
	}
	s.metrics.op(opGet, resultOK)
	s.metrics.redisHit.Inc()
	if s.localMaxTTL > 0 {
		ttl := s.localMaxTTL
		if r.ttl > 0 { // -1: no expiry in Redis, which this package never writes
			ttl = min(ttl, r.ttl)
		}
		_ = s.kv.Set(ctx, key, r.val, ttl)
	}
	return r.val, true, nil
}

// Set stores val under key for ttl in Redis and keeps a copy in process
// memory (for at most Config.LocalMaxTTL, or for the full ttl if Redis
// could not be written, since the copy is then the only one). The error is
// non-nil only for a malformed key or ttl.
func (s *Store) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if err := localcache.ValidateNamespacedKey(key); err != nil {
		return err
	}
	if ttl <= 0 {
		return s.kv.Set(ctx, key, val, ttl) // the same ErrInvalidTTL as the local tier
	}
	_, err := call(s, ctx, opSet, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.client.Set(ctx, s.prefix+key, val, ceilMs(ttl)).Err()
	})
	switch {
	case err != nil:
		return s.kv.Set(ctx, key, val, ttl)
	case s.localMaxTTL > 0:
		s.metrics.op(opSet, resultOK)
		return s.kv.Set(ctx, key, val, min(ttl, s.localMaxTTL))
	default:
		s.metrics.op(opSet, resultOK)
		// No local copies: drop one an outage may have left.
		return s.kv.Delete(ctx, key)
	}
}
