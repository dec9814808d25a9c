package rediscache

import (
	"context"
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
	r, err := call(s, ctx, opDeviceGet, func(ctx context.Context) (deviceReply, error) {
		pipe := s.client.Pipeline()
		read := s.queueDeviceRead(ctx, pipe, key)
		if err := s.execPipe(ctx, pipe); err != nil {
			return deviceReply{}, err
		}
		return read.reply(), nil
	})
	switch {
	case err != nil:
		return localAge, localOK, nil
	case !r.ok:
		s.metrics.op(opDeviceGet, resultMiss)
	default:
		s.metrics.op(opDeviceGet, resultOK)
	}
	age, ok := s.lowerOfTiers(ctx, key, localAge, localOK, r)
	return age, ok, nil
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
	if _, err := call(s, ctx, opDeviceRecord, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, recordAge.Run(ctx, s.client, []string{s.key(nsDevice, key)}, age, windowMs(window)).Err()
	}); err == nil {
		s.metrics.op(opDeviceRecord, resultOK)
	}
	return nil
}

// windowMs is the script's ARGV[2]: the window in whole milliseconds,
// rounded up.
func windowMs(window time.Duration) int64 { return ceilMs(window).Milliseconds() }

// deviceRead is a device age's GET and PTTL queued in a pipeline.
type deviceRead struct {
	get  *redis.StringCmd
	pttl *redis.DurationCmd
}

// deviceReply is what Redis answered for one device.
type deviceReply struct {
	age int
	ttl time.Duration
	ok  bool
}

// queueDeviceRead queues the reads of the device's age and remaining window.
func (s *Store) queueDeviceRead(ctx context.Context, pipe redis.Pipeliner, key string) deviceRead {
	return deviceRead{get: pipe.Get(ctx, s.key(nsDevice, key)), pttl: pipe.PTTL(ctx, s.key(nsDevice, key))}
}

// reply reads the executed commands: none if there is no age, it expired
// between the two, or the value is not one this package wrote (the next
// record overwrites it).
func (r deviceRead) reply() deviceReply {
	v, err := r.get.Result()
	if err != nil || r.pttl.Val() <= 0 {
		return deviceReply{}
	}
	age, err := strconv.Atoi(v)
	if err != nil || age < 0 {
		return deviceReply{}
	}
	return deviceReply{age: age, ttl: r.pttl.Val(), ok: true}
}

// lowerOfTiers returns the lower of the age in process memory (localAge,
// localOK) and Redis' answer r. When Redis knows a lower age — another
// replica saw it — it is remembered here too, for its remaining window, so
// it still counts if Redis goes away.
func (s *Store) lowerOfTiers(ctx context.Context, key string, localAge int, localOK bool, r deviceReply) (int, bool) {
	if !r.ok || localOK && localAge <= r.age {
		return localAge, localOK
	}
	_ = s.devices.RecordDeclaredAge(ctx, key, r.age, r.ttl) // key was validated, the age is not negative, the ttl positive
	return r.age, true
}
