package rediscache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// recordAge keeps the minimum age atomically: KEYS[1] the device key,
// ARGV[1] the age, ARGV[2] the window in milliseconds. A lower or equal age
// (or none remembered, or an unreadable value) is written with a fresh
// window; a higher age changes nothing. Redis' own expiry forgets the age
// when its window ends. Returns 1 if written, 0 if not.
var recordAge = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur and cur < tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// nsDevice is the Redis namespace of device ages.
const nsDevice = "dev:"

// LowestDeclaredAge returns the lowest age declared on the device within its
// window, by any replica: the lower of the in-process tier (which holds what
// this replica recorded, including during a Redis outage) and Redis. The
// error is non-nil only for a malformed key; if Redis fails, the answer is
// the in-process one.
func (s *Store) LowestDeclaredAge(ctx context.Context, key string) (int, bool, error) {
	localAge, localOK, err := s.devices.LowestDeclaredAge(ctx, key) // validates key
	if err != nil {
		return 0, false, err
	}
	type reply struct {
		age int
		ttl time.Duration
		ok  bool
	}
	r, err := call(s, ctx, opDeviceGet, func(ctx context.Context) (reply, error) {
		pipe := s.client.Pipeline()
		get := pipe.Get(ctx, s.key(nsDevice, key))
		pttl := pipe.PTTL(ctx, s.key(nsDevice, key))
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return reply{}, err
		}
		v, err := get.Result()
		if errors.Is(err, redis.Nil) || pttl.Val() <= 0 { // absent, or expired between the two
			return reply{}, nil
		}
		age, err := strconv.Atoi(v)
		if err != nil || age < 0 {
			return reply{}, nil // not ours: the next record overwrites it
		}
		return reply{age: age, ttl: pttl.Val(), ok: true}, nil
	})
	switch {
	case err != nil:
		return localAge, localOK, nil
	case !r.ok:
		s.metrics.op(opDeviceGet, resultMiss)
		return localAge, localOK, nil
	}
	s.metrics.op(opDeviceGet, resultOK)
	if localOK && localAge <= r.age {
		return localAge, true, nil
	}
	// Another replica saw a lower age: remember it here too, for its
	// remaining window, so it still counts if Redis goes away.
	_ = s.devices.RecordDeclaredAge(ctx, key, r.age, r.ttl)
	return r.age, true, nil
}

// RecordDeclaredAge notes that age was declared on the device, with the
// semantics of localcache.DeviceMemory (keep the minimum; a lower or equal
// age restarts the window; a higher one changes nothing) in both tiers:
// atomically in Redis with a Lua script, and in process memory, which keeps
// it through a Redis outage. The error is non-nil only for invalid
// arguments; a Redis failure is absorbed (the local record stands).
func (s *Store) RecordDeclaredAge(ctx context.Context, key string, age int, window time.Duration) error {
	if err := s.devices.RecordDeclaredAge(ctx, key, age, window); err != nil { // validates
		return err
	}
	ms := ceilMs(window).Milliseconds()
	if _, err := call(s, ctx, opDeviceRecord, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, recordAge.Run(ctx, s.client, []string{s.key(nsDevice, key)}, age, ms).Err()
	}); err == nil {
		s.metrics.op(opDeviceRecord, resultOK)
	}
	return nil
}
