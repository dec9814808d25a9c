package rediscache

import (
	"context"
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
	val, ok, err := s.getLocal(ctx, key) // validates key
	if err != nil || ok {
		return val, ok, err
	}
	r, err := call(s, ctx, opGet, func(ctx context.Context) (valueReply, error) {
		pipe := s.client.Pipeline()
		read := s.queueValueRead(ctx, pipe, key)
		if err := s.execPipe(ctx, pipe); err != nil {
			return valueReply{}, err
		}
		return read.reply(), nil
	})
	switch {
	case err != nil:
		return nil, false, nil
	case !r.ok:
		s.metrics.op(opGet, resultMiss)
	default:
		s.metrics.op(opGet, resultOK)
	}
	val, ok = s.gotFromRedis(ctx, key, r)
	return val, ok, nil
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
	if err == nil {
		s.metrics.op(opSet, resultOK)
	}
	return s.keepWritten(ctx, key, val, ttl, err)
}

// getLocal answers key from process memory and counts the local tier's hit
// or miss. The error is non-nil only for a malformed key.
func (s *Store) getLocal(ctx context.Context, key string) ([]byte, bool, error) {
	val, ok, err := s.kv.Get(ctx, key) // validates key
	switch {
	case err != nil:
		return nil, false, err
	case ok:
		s.metrics.localHit.Inc()
	default:
		s.metrics.localMiss.Inc()
	}
	return val, ok, nil
}

// valueRead is a value's GET and PTTL queued in a pipeline.
type valueRead struct {
	get  *redis.StringCmd
	pttl *redis.DurationCmd
}

// valueReply is what Redis answered for one value.
type valueReply struct {
	val []byte
	ttl time.Duration
	ok  bool
}

// queueValueRead queues the reads of key's value and remaining lifetime.
func (s *Store) queueValueRead(ctx context.Context, pipe redis.Pipeliner, key string) valueRead {
	return valueRead{get: pipe.Get(ctx, s.prefix+key), pttl: pipe.PTTL(ctx, s.prefix+key)}
}

// reply reads the executed commands: a miss if there is no value, or it
// expired between the two.
func (r valueRead) reply() valueReply {
	b, err := r.get.Bytes()
	if err != nil || r.pttl.Val() == -2 {
		return valueReply{}
	}
	return valueReply{val: b, ttl: r.pttl.Val(), ok: true}
}

// gotFromRedis counts Redis' answer for key in the redis tier and keeps a
// local copy of a value for its remaining Redis lifetime, capped by
// Config.LocalMaxTTL.
func (s *Store) gotFromRedis(ctx context.Context, key string, r valueReply) ([]byte, bool) {
	if !r.ok {
		s.metrics.redisMiss.Inc()
		return nil, false
	}
	s.metrics.redisHit.Inc()
	if s.localMaxTTL > 0 {
		ttl := s.localMaxTTL
		if r.ttl > 0 { // -1: no expiry in Redis, which this package never writes
			ttl = min(ttl, r.ttl)
		}
		_ = s.kv.Set(ctx, key, r.val, ttl) // key was validated, ttl is positive
	}
	return r.val, true
}

// keepWritten updates process memory after val was written to Redis under
// key for ttl (redisErr nil), or could not be (redisErr non-nil): a copy
// for at most Config.LocalMaxTTL; the full ttl when Redis failed, since the
// copy is then the only one; none without local copies, dropping one an
// outage may have left. The error is non-nil only for a malformed key or
// ttl.
func (s *Store) keepWritten(ctx context.Context, key string, val []byte, ttl time.Duration, redisErr error) error {
	switch {
	case redisErr != nil:
		return s.kv.Set(ctx, key, val, ttl)
	case s.localMaxTTL > 0:
		return s.kv.Set(ctx, key, val, min(ttl, s.localMaxTTL))
	default:
		return s.kv.Delete(ctx, key)
	}
}
