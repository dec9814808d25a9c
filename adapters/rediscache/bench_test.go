package rediscache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redistestClient returns a plain client for url, closed when t ends.
func redistestClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

func benchKeys(n int, ns string) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = ns + hkey(fmt.Sprint(i))
	}
	return keys
}

// BenchmarkStoreGetHitLocal: a Get answered from process memory.
func BenchmarkStoreGetHitLocal(b *testing.B) {
	benchGet(b, Config{LocalMaxTTL: time.Hour, Clock: time.Now})
}

// BenchmarkStoreGetRedis: a Get answered by Redis (no local copies), one
// round trip (GET and PTTL pipelined), sequential.
func BenchmarkStoreGetRedis(b *testing.B) {
	benchGet(b, Config{LocalMaxTTL: -1, Clock: time.Now})
}

// benchGet measures Get over 1,024 stored decisions with cfg.
func benchGet(b *testing.B, cfg Config) {
	e := newEnv(b, cfg)
	ctx := context.Background()
	keys := benchKeys(1024, "dc:")
	for _, k := range keys {
		if err := e.Set(ctx, k, []byte(`{"decision":"allow","band":"18_plus"}`), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, ok, err := e.Get(ctx, keys[i%len(keys)]); !ok || err != nil {
			b.Fatalf("Get: %t, %v", ok, err)
		}
		i++
	}
}

// BenchmarkRecordDeclaredAge: both tiers, the Redis one by EVALSHA.
func BenchmarkRecordDeclaredAge(b *testing.B) {
	e := newEnv(b, Config{Clock: time.Now})
	ctx := context.Background()
	keys := benchKeys(1024, "")
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if err := e.RecordDeclaredAge(ctx, keys[i%len(keys)], 10+i%10, time.Hour); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if e.State() != "closed" {
		b.Fatalf("breaker %s during the benchmark", e.State())
	}
}

// BenchmarkReadBatch: what one age check reads — a device and two values
// (subject record, decision) — answered by Redis in one pipeline, no local
// copies.
func BenchmarkReadBatch(b *testing.B) {
	// A long timeout: on a busy 2-core machine, 64 goroutines can push one
	// read past the default 100 ms, and the fallback (no local copies here)
	// would fail the benchmark without saying anything about its speed.
	e := newEnv(b, Config{LocalMaxTTL: -1, Clock: time.Now, Timeout: 5 * time.Second})
	ctx := context.Background()
	devices, decisions, subjects := benchKeys(1024, ""), benchKeys(1024, "dc:"), benchKeys(1024, "sub:")
	for i := range devices {
		err := writeBatch(ctx, e, devices[i], 10+i%10, time.Hour, []string{decisions[i], subjects[i]},
			[][]byte{[]byte(`decision`), []byte(`subject`)}, []time.Duration{time.Hour, time.Hour})
		if err != nil {
			b.Fatal(err)
		}
	}
	read := func(b *testing.B, i int) {
		j := i % len(devices)
		if _, aged, _, found, err := readBatch(ctx, e, devices[j], []string{subjects[j], decisions[j]}); !aged || !found[0] || !found[1] || err != nil {
			b.Errorf("ReadBatch: %t, %v, %v", aged, found, err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		rt := e.countRoundTrips(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			read(b, i)
		}
		b.ReportMetric(float64(rt.total())/float64(b.N), "pipelines/op")
	})
	// Concurrent callers, as under load: they share pipelines (sharedPipe),
	// so pipelines/op falls below 1.
	b.Run("parallel=32xCPU", func(b *testing.B) {
		rt := e.countRoundTrips(b)
		b.SetParallelism(32)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				read(b, i)
			}
		})
		b.ReportMetric(float64(rt.total())/float64(b.N), "pipelines/op")
	})
}

// BenchmarkWriteBatch: what one age check writes — a device record (EVAL)
// and two values — in one pipeline, both tiers.
func BenchmarkWriteBatch(b *testing.B) {
	e := newEnv(b, Config{Clock: time.Now})
	ctx := context.Background()
	devices, decisions, subjects := benchKeys(1024, ""), benchKeys(1024, "dc:"), benchKeys(1024, "sub:")
	vals, ttls := [][]byte{[]byte(`decision`), []byte(`subject`)}, []time.Duration{time.Hour, time.Hour}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		j := i % len(devices)
		if err := writeBatch(ctx, e, devices[j], 10+i%10, time.Hour, []string{decisions[j], subjects[j]}, vals, ttls); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if e.State() != "closed" {
		b.Fatalf("breaker %s during the benchmark", e.State())
	}
}
