package service

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/policy"
)

// The decision path stage by stage, each with -benchmem, so a regression
// shows where it lives. Signing, policy evaluation, the Redis store and the
// log have their own benchmarks in their packages; these cover the service's
// own stages and the whole path.

// BenchmarkStageDecode: strict JSON decoding and validation of a body.
func BenchmarkStageDecode(b *testing.B) {
	pol := builtinPolicy(b)
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeCheck(body, pol, fixedNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStageDecisionKey: the keyed hash naming a cached decision.
func BenchmarkStageDecisionKey(b *testing.B) {
	e := newTestEnv(b)
	pol := e.svc.Policy()
	in := policy.Input{Jurisdiction: "DE", Stage: "signup", Age: 14, Signals: map[string]float64{"underage_likelihood": 0.31, "user_reports": 1}, Now: fixedNow}
	today := pol.Today("DE", fixedNow)
	b.ReportAllocs()
	for b.Loop() {
		_ = e.svc.decisionKey("acme", pol, &in, today)
	}
}

// BenchmarkStageCacheHit: a decision served from the in-process cache
// instead of evaluated.
func BenchmarkStageCacheHit(b *testing.B) {
	e := newTestEnv(b)
	pol := e.svc.Policy()
	in := policy.Input{Jurisdiction: "DE", Stage: "signup", Age: 14, Now: fixedNow}
	key := e.svc.decisionKey("acme", pol, &in, pol.Today("DE", fixedNow))
	res := pol.Evaluate(in)
	ctx := context.Background()
	entry, ok := e.svc.decisionEntry(ctx, key, &res)
	if !ok {
		b.Fatal("decision not encoded")
	}
	e.svc.remember(ctx, declaration{}, []cacheEntry{entry})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.svc.lookupDecision(ctx, key, pol, &in); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkFullPathVsSign compares, side by side and under the same
// parallelism, signing alone with the whole decision path — decode,
// validate, cache, policy, sign, and a durable append to a real decision
// log — so their throughputs can be read off ns/op (lower is faster).
// Parallel, because the durable log batches concurrent appends.
func BenchmarkFullPathVsSign(b *testing.B) {
	b.Run("sign", func(b *testing.B) {
		e := newTestEnv(b)
		payload := []byte(`{"iss":"https://ageassure.test","aud":"acme","iat":1795694400,"exp":1795695300,"jti":"01a21926-9a7e-742c-9deb-950953d08261","nonce":"nonce-abc","decision":"parental_consent_required","age_band":"13_15","age_equal_or_over":{"13":true,"16":false,"18":false},"assurance":{"level":"asserted","methods":["self_declaration"]},"jurisdiction":"DE","policy":"sha256:c8602408382189f1da583c449f3038c8915d4ce3a7c5953d3f8451cb6aaeec4c"}`)
		b.SetParallelism(32)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.signer.Sign(payload); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	full := func(b *testing.B, async bool, parallelism int) {
		ctx := context.Background()
		l, err := decisionlog.Open(ctx, decisionlog.Options{Dir: b.TempDir(), Async: async, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		// Closing waits for a final checkpoint; that is not the path.
		b.Cleanup(func() { _ = l.Close(context.Background()) })
		e := newTestEnvWith(b, func(_ *testEnv, o *Options) { o.DecisionLog = l })
		tenant := Tenant{ID: e.tenant}
		mix := realisticMix(4096, 7)
		var refused atomic.Int64
		b.SetParallelism(parallelism)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				for {
					_, err := e.svc.decide(ctx, tenant, mix[i%len(mix)])
					var p *Problem
					if errors.As(err, &p) && p.Code == CodeLogUnavailable {
						// The log's queue is full: a producer faster than
						// the disk (async) is held to the rate the log
						// sustains, as a platform retrying its 503 would be.
						refused.Add(1)
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						b.Error(err)
						return
					}
					break
				}
				i++
			}
		})
		b.ReportMetric(float64(refused.Load())/float64(b.N), "refused/op")
	}
	// Durable: each decision waits until its entry is sequenced, so
	// throughput grows with the decisions in flight (bigger batches).
	b.Run("full-durable-64", func(b *testing.B) { full(b, false, 32) })
	b.Run("full-durable-512", func(b *testing.B) { full(b, false, 256) })
	b.Run("full-async", func(b *testing.B) { full(b, true, 32) })
}
