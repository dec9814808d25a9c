package rediscache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/internal/redistest"
)

// stored is a value in Redis and its time to live.
type stored struct {
	val string
	ttl time.Duration
}

// ttlTolerance absorbs the real time that passes between two Redis reads
// of the same TTL on a loaded machine.
const ttlTolerance = 2 * time.Second

func closeTo(a, b time.Duration) bool { return a-b <= ttlTolerance && b-a <= ttlTolerance }

// localDevice returns the device's age in process memory and how long it
// has left there.
func (e *env) localDevice(key string) (age int, ttl time.Duration, ok bool) {
	e.devices.Range(func(k string, a int, expires time.Time) bool {
		if k == key {
			age, ttl, ok = a, expires.Sub(e.clk.Now()), true
			return false
		}
		return true
	})
	return age, ttl, ok
}

// sameLocal fails t unless a and b hold the same in process memory for
// the device and keys, lifetimes within ttlTolerance.
func sameLocal(t *testing.T, a, b *env, device string, keys []string) {
	t.Helper()
	if device != "" {
		aAge, aTTL, aOK := a.localDevice(device)
		bAge, bTTL, bOK := b.localDevice(device)
		if aAge != bAge || aOK != bOK || !closeTo(aTTL, bTTL) {
			t.Errorf("device in process memory: %d, %t, %v; single calls: %d, %t, %v", aAge, aOK, aTTL, bAge, bOK, bTTL)
		}
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		aVal, aTTL, aOK, _ := a.kv.GetWithTTL(k)
		bVal, bTTL, bOK, _ := b.kv.GetWithTTL(k)
		if string(aVal) != string(bVal) || aOK != bOK || !closeTo(aTTL, bTTL) {
			t.Errorf("%s in process memory: %q, %t, %v; single calls: %q, %t, %v", k[:6], aVal, aOK, aTTL, bVal, bOK, bTTL)
		}
	}
}

// TestReadBatchMatchesSingleCalls: ReadBatch on one Store answers what
// LowestDeclaredAge and Get answer on another over the same Redis, and
// leaves the same copies in process memory and the same cache metrics.
func TestReadBatchMatchesSingleCalls(t *testing.T) {
	const h = time.Hour
	dev, k1, k2 := hkey("device"), "dc:"+hkey("k1"), "sub:"+hkey("k2")
	ctx := context.Background()
	tests := []struct {
		name        string
		localMaxTTL time.Duration // 0: the default
		redis       map[string]stored
		local       func(e *env) // process memory before the reads
		device      string
		keys        []string
		wantAge     int
		wantAged    bool
		wantVals    map[string]string // the keys found
	}{
		{name: "nothing anywhere", device: dev, keys: []string{k1, k2}},
		{
			name:   "from redis, local copies capped by redis' ttl",
			redis:  map[string]stored{"dev:" + dev: {"12", h}, k1: {"v1", h}, k2: {"v2", 30 * time.Second}},
			device: dev, keys: []string{k1, k2},
			wantAge: 12, wantAged: true, wantVals: map[string]string{k1: "v1", k2: "v2"},
		},
		{
			name:   "lower device age in process memory",
			redis:  map[string]stored{"dev:" + dev: {"16", h}},
			local:  func(e *env) { _ = e.devices.RecordDeclaredAge(ctx, dev, 11, h) },
			device: dev, wantAge: 11, wantAged: true,
		},
		{
			name:   "lower device age in redis, copied to process memory",
			redis:  map[string]stored{"dev:" + dev: {"12", 2 * h}},
			local:  func(e *env) { _ = e.devices.RecordDeclaredAge(ctx, dev, 16, h) },
			device: dev, wantAge: 12, wantAged: true,
		},
		{
			name:   "held in process memory, not asked of redis",
			redis:  map[string]stored{k1: {"in redis", h}, k2: {"v2", h}},
			local:  func(e *env) { _ = e.kv.Set(ctx, k1, []byte("local"), h) },
			device: dev, keys: []string{k1, k2},
			wantVals: map[string]string{k1: "local", k2: "v2"},
		},
		{
			name:        "no local copies",
			localMaxTTL: -1,
			redis:       map[string]stored{"dev:" + dev: {"14", h}, k1: {"v1", h}},
			device:      dev, keys: []string{k1, k2},
			wantAge: 14, wantAged: true, wantVals: map[string]string{k1: "v1"},
		},
		{
			name:   "a device value this package did not write is ignored",
			redis:  map[string]stored{"dev:" + dev: {"not-an-age", h}},
			device: dev,
		},
		{
			name:     "values only",
			redis:    map[string]stored{k2: {"v2", h}},
			keys:     []string{k1, k2},
			wantVals: map[string]string{k2: "v2"},
		},
		{
			name:     "empty keys ask for nothing",
			redis:    map[string]stored{k1: {"v1", h}},
			keys:     []string{"", k1, ""},
			wantVals: map[string]string{k1: "v1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch := newEnv(t, Config{LocalMaxTTL: tt.localMaxTTL})
			single := newEnv(t, Config{URL: batch.srv.URL, Prefix: batch.srv.Prefix, LocalMaxTTL: tt.localMaxTTL})
			for k, v := range tt.redis {
				if err := batch.srv.Client().Set(ctx, batch.srv.Prefix+k, v.val, v.ttl).Err(); err != nil {
					t.Fatal(err)
				}
			}
			if tt.local != nil {
				tt.local(batch)
				tt.local(single)
			}

			age, aged, vals, found, err := readBatch(ctx, batch, tt.device, tt.keys)
			if err != nil || len(vals) != len(tt.keys) || len(found) != len(tt.keys) {
				t.Fatalf("ReadBatch = %d values, %d found, %v", len(vals), len(found), err)
			}
			if age != tt.wantAge || aged != tt.wantAged {
				t.Errorf("ReadBatch age = %d, %t; want %d, %t", age, aged, tt.wantAge, tt.wantAged)
			}
			if tt.device != "" {
				sAge, sAged, err := single.LowestDeclaredAge(ctx, tt.device)
				if err != nil || sAge != age || sAged != aged {
					t.Errorf("LowestDeclaredAge = %d, %t, %v; ReadBatch said %d, %t", sAge, sAged, err, age, aged)
				}
			}
			for i, k := range tt.keys {
				want, wantOK := tt.wantVals[k]
				if string(vals[i]) != want || found[i] != wantOK {
					t.Errorf("ReadBatch key %d = %q, %t; want %q, %t", i, vals[i], found[i], want, wantOK)
				}
				if k == "" {
					continue
				}
				if v, ok, err := single.Get(ctx, k); err != nil || string(v) != string(vals[i]) || ok != found[i] {
					t.Errorf("Get key %d = %q, %t, %v; ReadBatch said %q, %t", i, v, ok, err, vals[i], found[i])
				}
			}

			sameLocal(t, batch, single, tt.device, tt.keys)
			for _, tier := range []string{"local", "redis"} {
				for _, result := range []string{"hit", "miss"} {
					if b, s := batch.cacheCount(t, tier, result), single.cacheCount(t, tier, result); b != s {
						t.Errorf("cache %s %s: %v after ReadBatch, %v after single calls", tier, result, b, s)
					}
				}
			}
		})
	}
}

// TestWriteBatchMatchesSingleCalls: WriteBatch through one Store leaves
// Redis and process memory as RecordDeclaredAge and Set do through another
// (under a prefix of its own).
func TestWriteBatchMatchesSingleCalls(t *testing.T) {
	const h = time.Hour
	dev, k1, k2 := hkey("device"), "dc:"+hkey("k1"), "sub:"+hkey("k2")
	ctx := context.Background()
	type write struct {
		key, val string
		ttl      time.Duration
	}
	tests := []struct {
		name        string
		localMaxTTL time.Duration // 0: the default
		redis       map[string]stored
		local       func(e *env)
		device      string
		age         int
		window      time.Duration
		writes      []write
		wantRedis   map[string]stored
	}{
		{
			name:   "fresh device and two values",
			device: dev, age: 12, window: h,
			writes:    []write{{k1, "v1", 10 * time.Minute}, {k2, "v2", 30 * time.Second}},
			wantRedis: map[string]stored{"dev:" + dev: {"12", h}, k1: {"v1", 10 * time.Minute}, k2: {"v2", 30 * time.Second}},
		},
		{
			name:   "a higher age changes nothing",
			redis:  map[string]stored{"dev:" + dev: {"12", h}},
			local:  func(e *env) { _ = e.devices.RecordDeclaredAge(ctx, dev, 12, h) },
			device: dev, age: 18, window: 10 * h,
			wantRedis: map[string]stored{"dev:" + dev: {"12", h}},
		},
		{
			name:   "a lower age replaces, with its window",
			redis:  map[string]stored{"dev:" + dev: {"16", h}},
			device: dev, age: 10, window: 2 * h,
			writes:    []write{{k1, "v1", h}},
			wantRedis: map[string]stored{"dev:" + dev: {"10", 2 * h}, k1: {"v1", h}},
		},
		{
			name:        "no local copies: a stale one is dropped",
			localMaxTTL: -1,
			local:       func(e *env) { _ = e.kv.Set(ctx, k1, []byte("stale"), h) },
			writes:      []write{{k1, "new", h}},
			wantRedis:   map[string]stored{k1: {"new", h}},
		},
		{
			name:   "device only",
			device: dev, age: 9, window: h,
			wantRedis: map[string]stored{"dev:" + dev: {"9", h}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.New(t)
			batch := newEnv(t, Config{URL: srv.URL, Prefix: srv.Prefix + "batch:", LocalMaxTTL: tt.localMaxTTL})
			single := newEnv(t, Config{URL: srv.URL, Prefix: srv.Prefix + "single:", LocalMaxTTL: tt.localMaxTTL})
			c := srv.Client()
			for _, e := range []*env{batch, single} {
				for k, v := range tt.redis {
					if err := c.Set(ctx, e.prefix+k, v.val, v.ttl).Err(); err != nil {
						t.Fatal(err)
					}
				}
				if tt.local != nil {
					tt.local(e)
				}
			}

			var keys []string
			var vals [][]byte
			var ttls []time.Duration
			for _, w := range tt.writes {
				keys, vals, ttls = append(keys, w.key), append(vals, []byte(w.val)), append(ttls, w.ttl)
			}
			if err := writeBatch(ctx, batch, tt.device, tt.age, tt.window, keys, vals, ttls); err != nil {
				t.Fatalf("WriteBatch: %v", err)
			}
			if tt.device != "" {
				if err := single.RecordDeclaredAge(ctx, tt.device, tt.age, tt.window); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range tt.writes {
				if err := single.Set(ctx, w.key, []byte(w.val), w.ttl); err != nil {
					t.Fatal(err)
				}
			}

			for k, want := range tt.wantRedis {
				for _, e := range []*env{batch, single} {
					got, err := c.Get(ctx, e.prefix+k).Result()
					ttl := c.PTTL(ctx, e.prefix+k).Val()
					if err != nil || got != want.val || !near(ttl, want.ttl, ttlTolerance) {
						t.Errorf("%s%s = %q, ttl %v, %v; want %q, about %v", e.prefix, k[:6], got, ttl, err, want.val, want.ttl)
					}
				}
			}
			sameLocal(t, batch, single, tt.device, keys)
		})
	}
}

func TestBatchInvalid(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	dev, k := hkey("device"), "dc:"+hkey("k")
	reads := []struct {
		name   string
		device string
		keys   []string
	}{
		{"raw device reference", "device-1234", []string{k}},
		{"raw key", dev, []string{k, "dc:alice@example.com"}},
	}
	for _, r := range reads {
		if _, _, _, _, err := readBatch(ctx, e, r.device, r.keys); !errors.Is(err, localcache.ErrInvalidKey) {
			t.Errorf("ReadBatch, %s: %v, want ErrInvalidKey", r.name, err)
		}
	}
	one := func(v string) [][]byte { return [][]byte{[]byte(v)} }
	writes := []struct {
		name   string
		device string
		age    int
		window time.Duration
		keys   []string
		vals   [][]byte
		ttls   []time.Duration
		want   error
	}{
		{"raw device reference", "device-1234", 12, time.Hour, []string{k}, one("v"), []time.Duration{time.Hour}, localcache.ErrInvalidKey},
		{"raw key", dev, 12, time.Hour, []string{"dc:alice@example.com"}, one("v"), []time.Duration{time.Hour}, localcache.ErrInvalidKey},
		{"negative age", dev, -1, time.Hour, []string{k}, one("v"), []time.Duration{time.Hour}, localcache.ErrInvalidAge},
		{"zero window", dev, 12, 0, []string{k}, one("v"), []time.Duration{time.Hour}, localcache.ErrInvalidWindow},
		{"zero ttl", dev, 12, time.Hour, []string{k}, one("v"), []time.Duration{0}, localcache.ErrInvalidTTL},
		{"fewer values than keys", dev, 12, time.Hour, []string{k}, nil, []time.Duration{time.Hour}, ErrInvalidBatch},
		{"fewer ttls than keys", dev, 12, time.Hour, []string{k}, one("v"), nil, ErrInvalidBatch},
	}
	for _, w := range writes {
		if err := writeBatch(ctx, e, w.device, w.age, w.window, w.keys, w.vals, w.ttls); !errors.Is(err, w.want) {
			t.Errorf("WriteBatch, %s: %v, want %v", w.name, err, w.want)
		}
	}
	// Nothing was read or written anywhere, nor counted.
	if keys := e.srv.Keys(t); len(keys) != 0 {
		t.Errorf("invalid calls wrote %q to Redis", keys)
	}
	if n, m := e.kv.Len(), e.devices.Len(); n+m != 0 {
		t.Errorf("invalid calls wrote %d values and %d devices to process memory", n, m)
	}
	if n := counter(t, e.metrics.cache, nil); n != 0 {
		t.Errorf("invalid calls counted %v cache lookups", n)
	}
	for _, op := range []string{"batch_read", "batch_write"} {
		if n := counter(t, e.metrics.ops, map[string]string{"op": op}); n != 0 {
			t.Errorf("invalid calls counted %v %s operations", n, op)
		}
	}
}

// TestBatchRoundTrips counts, with a go-redis hook, what each batch call
// sends: at most one pipeline, and nothing when process memory answers
// everything. Each round trip is one operation in the metrics.
func TestBatchRoundTrips(t *testing.T) {
	e := newEnv(t, Config{LocalMaxTTL: time.Hour})
	ctx := context.Background()
	dev, k1, k2 := hkey("device"), "dc:"+hkey("k1"), "sub:"+hkey("k2")
	rt := e.countRoundTrips(t)
	ops := func() float64 {
		return e.opCount(t, "batch_read", "ok") + e.opCount(t, "batch_write", "ok")
	}
	v := func(s string) []byte { return []byte(s) }
	steps := []struct {
		name string
		do   func() error
		want int64
	}{
		{"read: device and two values, nothing held", func() error {
			_, _, _, _, err := readBatch(ctx, e, dev, []string{k1, k2})
			return err
		}, 1},
		{"write: device and two values", func() error {
			return writeBatch(ctx, e, dev, 12, time.Hour, []string{k1, k2}, [][]byte{v("v1"), v("v2")}, []time.Duration{time.Hour, time.Hour})
		}, 1},
		{"read: values held in process memory", func() error {
			_, _, _, _, err := readBatch(ctx, e, "", []string{k1, k2})
			return err
		}, 0},
		{"read: values held, device always asked", func() error {
			_, _, _, _, err := readBatch(ctx, e, dev, []string{k1, k2})
			return err
		}, 1},
		{"read: one value held, one not", func() error {
			_, _, _, _, err := readBatch(ctx, e, "", []string{k1, "dc:" + hkey("other")})
			return err
		}, 1},
		{"write: values only", func() error {
			return writeBatch(ctx, e, "", 0, 0, []string{k1}, [][]byte{v("v3")}, []time.Duration{time.Hour})
		}, 1},
		{"write: nothing", func() error { return writeBatch(ctx, e, "", 0, 0, nil, nil, nil) }, 0},
	}
	for _, s := range steps {
		before, opsBefore := rt.total(), ops()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n := rt.total() - before; n != s.want {
			t.Errorf("%s: %d round trips (%d commands, %d pipelines so far), want %d", s.name, n, rt.cmds.Load(), rt.pipelines.Load(), s.want)
		}
		if n := ops() - opsBefore; n != float64(s.want) {
			t.Errorf("%s: %v operations counted, want %d", s.name, n, s.want)
		}
	}
	if n := rt.cmds.Load(); n != 0 {
		t.Errorf("%d single commands sent; batches send pipelines only", n)
	}
}

// TestWriteBatchAfterScriptFlush: the device script runs by EVAL inside the
// pipeline, so a Redis that lost its script cache (restart, SCRIPT FLUSH)
// is written at once, without a NOSCRIPT error or a second round trip.
func TestWriteBatchAfterScriptFlush(t *testing.T) {
	p := redistest.Start(t)
	e := newEnv(t, Config{URL: p.URL(), Prefix: "flush:"})
	ctx := context.Background()
	c := redistestClient(t, p.URL())
	dev := hkey("device")
	for i, age := range []int{14, 12} {
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		k := "dc:" + hkey(fmt.Sprint("value", i))
		if err := writeBatch(ctx, e, dev, age, time.Hour, []string{k}, [][]byte{[]byte("v")}, []time.Duration{time.Hour}); err != nil {
			t.Fatal(err)
		}
		if got := c.Get(ctx, "flush:dev:"+dev).Val(); got != fmt.Sprint(age) {
			t.Errorf("write %d: GET = %q, want %d", i, got, age)
		}
		// The value in the same pipeline as the failed EVALSHA is written.
		if got := c.Get(ctx, "flush:"+k).Val(); got != "v" {
			t.Errorf("write %d: value = %q, want v", i, got)
		}
	}
	if n := e.opCount(t, "batch_write", "ok"); n != 2 {
		t.Errorf("batch_write ok = %v, want 2", n)
	}
	if n := e.opCount(t, "batch_write", "error"); n != 0 {
		t.Errorf("batch_write error = %v, want 0", n)
	}
}

// TestBatchOutage kills Redis under a Store: each failed batch is one
// failure for the breaker; reads and writes answer from process memory,
// writes keeping their full ttl there; once Redis is back the breaker
// closes and the batches use it again, the lower age this process saw
// still counting.
func TestBatchOutage(t *testing.T) {
	p := redistest.Start(t)
	e := newEnv(t, outageConfig(p.URL()))
	ctx := context.Background()
	dev, k, k2, unknown := hkey("device"), "dc:"+hkey("before"), "sub:"+hkey("during"), "dc:"+hkey("unknown")
	if err := writeBatch(ctx, e, dev, 12, time.Hour, []string{k}, [][]byte{[]byte("v")}, []time.Duration{time.Hour}); err != nil {
		t.Fatal(err)
	}

	p.Kill()
	for i := range 3 { // ConsecutiveFailures: three failed reads open the breaker
		timed(t, "ReadBatch", func() {
			age, aged, vals, found, err := readBatch(ctx, e, dev, []string{k, unknown})
			if err != nil || age != 12 || !aged || string(vals[0]) != "v" || !found[0] || found[1] {
				t.Errorf("call %d: ReadBatch = %d, %t, %q, %v, %v; want 12 and v from process memory", i, age, aged, vals, found, err)
			}
		})
	}
	if n := e.opCount(t, "batch_read", "error"); n != 3 {
		t.Errorf("batch_read error = %v, want 3: one per batch", n)
	}
	waitState(t, e.Store, "open", sanityBound)

	timed(t, "WriteBatch", func() {
		if err := writeBatch(ctx, e, dev, 9, time.Hour, []string{k2}, [][]byte{[]byte("w")}, []time.Duration{time.Hour}); err != nil {
			t.Errorf("WriteBatch: %v", err)
		}
		// Kept locally for the full hour, not LocalMaxTTL: the only copy.
		if _, ttl, _, _ := e.kv.GetWithTTL(k2); ttl != time.Hour {
			t.Errorf("local ttl of a value written during the outage = %v, want 1h", ttl)
		}
	})
	timed(t, "ReadBatch", func() {
		age, _, vals, found, err := readBatch(ctx, e, dev, []string{k2})
		if err != nil || age != 9 || !found[0] || string(vals[0]) != "w" {
			t.Errorf("ReadBatch = %d, %q, %v, %v; want 9 and w", age, vals, found, err)
		}
	})
	if n := counter(t, e.metrics.ops, map[string]string{"op": "batch_write", "result": "fallback"}) +
		counter(t, e.metrics.ops, map[string]string{"op": "batch_write", "result": "error"}); n != 1 {
		t.Errorf("batch_write fallback+error = %v, want 1", n)
	}

	p.Restart() // empty: no persistence
	waitState(t, e.Store, "closed", 5*time.Second)
	if age, _, _, _, err := readBatch(ctx, e, dev, nil); err != nil || age != 9 {
		t.Errorf("ReadBatch after recovery = %d, %v; want 9 (process memory, lower than Redis' nothing)", age, err)
	}
	before := e.opCount(t, "batch_write", "ok")
	if err := writeBatch(ctx, e, dev, 11, time.Hour, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := e.opCount(t, "batch_write", "ok"); n != before+1 {
		t.Errorf("batch_write ok = %v, want %v", n, before+1)
	}
	if got := redistestClient(t, p.URL()).Get(ctx, "outage:dev:"+dev).Val(); got != "11" {
		t.Errorf("GET after recovery = %q, want 11", got)
	}
	checkTransitionLogs(t, e.logs.String())
}

// TestBatchSeveralAges: a check may carry a device's and an account's
// declared-age keys. Each keeps its own minimum, written in one pipeline
// (also after a SCRIPT FLUSH, for every key) and read back by another
// replica in one round trip; an empty key asks for nothing.
func TestBatchSeveralAges(t *testing.T) {
	p := redistest.Start(t)
	a := newEnv(t, Config{URL: p.URL(), Prefix: "ages:"})
	b := newEnv(t, Config{URL: p.URL(), Prefix: "ages:"})
	ctx := context.Background()
	c := redistestClient(t, p.URL())
	dev, sub := hkey("device"), hkey("subject")
	steps := []struct {
		keys     []string
		age      int
		flush    bool
		wantDev  string
		wantSub  string
		readKeys []string
		want     []int
		wantAged []bool
	}{
		{[]string{dev, sub}, 14, false, "14", "14", []string{dev, sub}, []int{14, 14}, []bool{true, true}},
		{[]string{"", sub}, 12, false, "14", "12", []string{dev, "", sub}, []int{14, 0, 12}, []bool{true, false, true}},
		{[]string{dev, sub}, 17, false, "14", "12", []string{sub, dev}, []int{12, 14}, []bool{true, true}},
		{[]string{dev, sub}, 10, true, "10", "10", []string{dev, sub}, []int{10, 10}, []bool{true, true}},
	}
	for i, st := range steps {
		if st.flush {
			if err := c.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.WriteBatch(ctx, st.keys, st.age, time.Hour, nil, nil, nil); err != nil {
			t.Fatalf("step %d: WriteBatch: %v", i, err)
		}
		if got := c.Get(ctx, "ages:dev:"+dev).Val(); got != st.wantDev {
			t.Errorf("step %d: device age in Redis %q, want %s", i, got, st.wantDev)
		}
		if got := c.Get(ctx, "ages:dev:"+sub).Val(); got != st.wantSub {
			t.Errorf("step %d: account age in Redis %q, want %s", i, got, st.wantSub)
		}
		ages, aged, _, _, degraded, err := b.ReadBatch(ctx, st.readKeys, nil)
		if err != nil || degraded || !slices.Equal(ages, st.want) || !slices.Equal(aged, st.wantAged) {
			t.Errorf("step %d: other replica reads %v %v %v, want %v %v", i, ages, aged, err, st.want, st.wantAged)
		}
	}
	if n := a.opCount(t, "batch_write", "error"); n != 0 {
		t.Errorf("batch_write error = %v, want 0", n)
	}
}

// TestReadBatchSaysWhenDegraded: while Redis cannot be asked (down, then
// the breaker open), ReadBatch answers from process memory and says so,
// so a caller never takes a missing declared age for certain; with Redis
// back it says nothing. A read of values alone is degraded too.
func TestReadBatchSaysWhenDegraded(t *testing.T) {
	p := redistest.Start(t)
	e := newEnv(t, outageConfig(p.URL()))
	ctx := context.Background()
	dev, k := hkey("device"), "dc:"+hkey("value")
	if err := writeBatch(ctx, e, dev, 12, time.Hour, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	read := func() (int, bool, bool) {
		ages, aged, _, _, degraded, err := e.ReadBatch(ctx, []string{dev}, []string{k})
		if err != nil {
			t.Fatal(err)
		}
		return ages[0], aged[0], degraded
	}
	if age, aged, degraded := read(); age != 12 || !aged || degraded {
		t.Fatalf("healthy: %d %t degraded=%t", age, aged, degraded)
	}
	p.Kill()
	for i := range 4 { // down, then the breaker open
		if age, aged, degraded := read(); age != 12 || !aged || !degraded {
			t.Errorf("outage read %d: %d %t degraded=%t, want the local 12, degraded", i, age, aged, degraded)
		}
	}
	if _, _, _, _, degraded, _ := e.ReadBatch(ctx, nil, []string{k}); !degraded {
		t.Error("a value read during the outage is not degraded")
	}
	p.Restart()
	waitState(t, e.Store, "closed", 5*time.Second)
	if _, _, degraded := read(); degraded {
		t.Error("degraded after recovery")
	}
}
