package service

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/ageassure/ageassure/internal/redistest"
)

// realisticMix returns n request bodies drawn (seeded) from a signup-like
// distribution: jurisdictions weighted roughly by users online, a share of
// under-13s and 13–15s, birth dates and declared ages, risk signals on a
// minority, repeated devices and subjects.
func realisticMix(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	jur := []struct {
		code string
		w    int
	}{{"US", 30}, {"IN", 12}, {"BR", 10}, {"GB", 8}, {"DE", 8}, {"FR", 6}, {"ID", 6}, {"ES", 4}, {"IT", 4}, {"AU", 3}, {"NL", 3}, {"US-UT", 2}, {"DK", 2}, {"PL", 2}}
	total := 0
	for _, j := range jur {
		total += j.w
	}
	out := make([][]byte, n)
	for i := range out {
		x := rng.IntN(total)
		code := jur[0].code
		for _, j := range jur {
			if x < j.w {
				code = j.code
				break
			}
			x -= j.w
		}
		var age int
		switch p := rng.IntN(100); {
		case p < 10:
			age = 8 + rng.IntN(5)
		case p < 25:
			age = 13 + rng.IntN(3)
		case p < 35:
			age = 16 + rng.IntN(2)
		default:
			age = 18 + rng.IntN(45)
		}
		declared := `"age":` + strconv.Itoa(age)
		if rng.IntN(100) < 70 {
			declared = fmt.Sprintf(`"birth_date":"%04d-%02d-%02d"`, 2026-age-1, 1+rng.IntN(12), 1+rng.IntN(28))
		}
		signals := ""
		if rng.IntN(100) < 20 {
			signals = fmt.Sprintf(`,"signals":[{"type":"underage_likelihood","score":%.2f}]`, rng.Float64())
		} else if rng.IntN(100) < 10 {
			signals = fmt.Sprintf(`,"signals":[{"type":"user_reports","count":%d}]`, rng.IntN(6))
		}
		device := fmt.Sprintf("dev-%d", i)
		if rng.IntN(100) < 20 {
			device = fmt.Sprintf("dev-%d", rng.IntN(i+1))
		}
		subject := ""
		if rng.IntN(100) < 50 {
			subject = fmt.Sprintf(`,"subject_ref":"acct-%d"`, rng.IntN(n))
		}
		out[i] = []byte(fmt.Sprintf(`{"jurisdiction":%q,"declared":{%s}%s,"context":{"device_ref":%q%s,"nonce":"n-%d"}}`, code, declared, signals, device, subject, i))
	}
	return out
}

// benchMix runs the mix through decide and reports decisions/s, the
// decision-cache hit ratio and, on Redis, the round trips per decision.
func benchMix(b *testing.B, e *testEnv) {
	mix := realisticMix(20_000, 1)
	tenant := Tenant{ID: e.tenant}
	ctx := context.Background()
	hits0, miss0 := counterValue(e, "hit"), counterValue(e, "miss")
	trips0 := redisRoundTrips(b, e)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := e.svc.decide(ctx, tenant, mix[i%len(mix)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	hits, miss := counterValue(e, "hit")-hits0, counterValue(e, "miss")-miss0
	if hits+miss > 0 {
		b.ReportMetric(hits/(hits+miss), "hit-ratio")
	}
	if trips := redisRoundTrips(b, e) - trips0; trips > 0 {
		b.ReportMetric(float64(trips)/float64(i), "round-trips/op")
	}
}

func counterValue(e *testEnv, result string) float64 {
	return testCounter(e.svc.metrics.decisionCache.WithLabelValues(result))
}

// BenchmarkDecideMix compares the decision path on the realistic mix with
// the in-process cache only, with Redis (warm; reads go to Redis), and with
// Redis behind the in-process tier; on Redis batched (the service's path
// with the Redis store) and, for comparison, one call per value.
func BenchmarkDecideMix(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		benchMix(b, newTestEnv(b))
	})
	redisEnv := func(b *testing.B, localTTL time.Duration, batched bool) *testEnv {
		srv := redistest.New(b)
		return newRedisEnv(b, srv, srv.Prefix, localTTL, batched)
	}
	b.Run("redis", func(b *testing.B) {
		benchMix(b, redisEnv(b, -1, true))
	})
	b.Run("redis+local-tier", func(b *testing.B) {
		benchMix(b, redisEnv(b, 0, true))
	})
	b.Run("redis-per-call", func(b *testing.B) {
		benchMix(b, redisEnv(b, -1, false))
	})
	b.Run("redis+local-tier-per-call", func(b *testing.B) {
		benchMix(b, redisEnv(b, 0, false))
	})
}
