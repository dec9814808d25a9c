package rediscache

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/internal/redistest"
)

// TestCluster runs every operation against a 3-master Redis Cluster, with
// keys spread over slots (so over masters), through two Stores. A batch
// call's keys are in different slots: go-redis splits its one pipeline by
// node, and it still counts as one round trip at the client.
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	a := newEnv(t, Config{ClusterAddrs: cl.Addrs, Prefix: "c:"})
	b := newEnv(t, Config{ClusterAddrs: cl.Addrs, Prefix: "c:", LocalMaxTTL: -1})
	ctx := context.Background()
	rtA, rtB := a.countRoundTrips(t), b.countRoundTrips(t)

	const n = 30
	for i := range n {
		dev := hkey(fmt.Sprint("device-", i))
		if err := a.RecordDeclaredAge(ctx, dev, 10+i%5, time.Hour); err != nil {
			t.Fatal(err)
		}
		if age, ok, err := b.LowestDeclaredAge(ctx, dev); err != nil || !ok || age != 10+i%5 {
			t.Errorf("device %d via b = %d, %t, %v", i, age, ok, err)
		}
		k := "dc:" + hkey(fmt.Sprint("decision-", i))
		if err := b.Set(ctx, k, []byte(fmt.Sprint(i)), time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := a.Get(ctx, k); err != nil || !ok || string(v) != fmt.Sprint(i) {
			t.Errorf("value %d via a = %q, %t, %v", i, v, ok, err)
		}
		batchDev, sub := hkey(fmt.Sprint("batch-device-", i)), "sub:"+hkey(fmt.Sprint("subject-", i))
		before := rtA.pipelines.Load()
		if err := writeBatch(ctx, a, batchDev, 10+i%5, time.Hour, []string{k, sub}, [][]byte{[]byte("d"), []byte("s")}, []time.Duration{time.Hour, time.Hour}); err != nil {
			t.Fatal(err)
		}
		if n := rtA.pipelines.Load() - before; n != 1 {
			t.Errorf("WriteBatch %d: %d pipelines, want 1", i, n)
		}
		before = rtB.pipelines.Load()
		age, aged, vals, found, err := readBatch(ctx, b, batchDev, []string{k, sub})
		if err != nil || !aged || age != 10+i%5 || !found[0] || !found[1] || string(vals[0]) != "d" || string(vals[1]) != "s" {
			t.Errorf("ReadBatch %d via b = %d, %t, %q, %v, %v", i, age, aged, vals, found, err)
		}
		if n := rtB.pipelines.Load() - before; n != 1 {
			t.Errorf("ReadBatch %d: %d pipelines, want 1", i, n)
		}
		nonce := hkey(fmt.Sprint("nonce-", i))
		if ok, err := a.FirstUse(ctx, nonce, time.Minute); !ok || err != nil {
			t.Errorf("FirstUse %d = %t, %v", i, ok, err)
		}
		if ok, err := b.FirstUse(ctx, nonce, time.Minute); ok || err != nil {
			t.Errorf("replay %d via b = %t, %v", i, ok, err)
		}
	}
	l := localcache.Limit{Rate: 1, Burst: 3, Period: time.Hour}
	for i, want := range []bool{true, true, true, false} {
		s := []*env{a, b}[i%2]
		if d, err := s.Allow(ctx, "acme", l); err != nil || d.Allowed != want {
			t.Errorf("Allow #%d = %+v, %v; want %t", i, d, err, want)
		}
	}
	for _, op := range []string{"batch_read", "batch_write"} {
		if n := a.opCount(t, op, "error") + b.opCount(t, op, "error"); n != 0 {
			t.Errorf("%s errors: %v", op, n)
		}
	}
	if a.State() != "closed" || b.State() != "closed" {
		t.Errorf("states %q, %q; want closed", a.State(), b.State())
	}

	// The keys really are spread over the masters.
	var used atomic.Int32
	err := cl.Client().ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		if c.DBSize(ctx).Val() > 0 {
			used.Add(1)
		}
		return nil
	})
	if err != nil || used.Load() < 2 {
		t.Errorf("keys on %d masters (%v); want them spread", used.Load(), err)
	}
}
