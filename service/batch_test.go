package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ageassure/ageassure/adapters/rediscache"
	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/policy"
)

// The Redis store batches; the service finds out by a type assertion, so
// this is the check that it still does.
var _ Batcher = (*rediscache.Store)(nil)

// perCall shows a store only as a DeviceMemory and a Cache, so the service
// takes the per-call path on it: the path of stores that do not batch.
type perCall struct {
	DeviceMemory
	Cache
}

// newRedisEnv returns a test service on srv's Redis under prefix, with
// local copies of Redis values for at most localTTL (negative: none, so
// every read goes to Redis). With batched false the service sees the store
// through perCall. The store's metrics are registered with the service's.
func newRedisEnv(t testing.TB, srv *redistest.Server, prefix string, localTTL time.Duration, batched bool) *testEnv {
	t.Helper()
	return newTestEnvWith(t, func(e *testEnv, o *Options) {
		store, err := rediscache.New(context.Background(), rediscache.Config{
			URL: srv.URL, Prefix: prefix, LocalMaxTTL: localTTL, Clock: e.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		o.Registry = prometheus.NewRegistry()
		if err := store.Register(o.Registry); err != nil {
			t.Fatal(err)
		}
		o.Devices, o.Cache = store, store
		if !batched {
			p := perCall{store, store}
			o.Devices, o.Cache = p, p
		}
	})
}

// redisRoundTrips is how many Redis operations the service's store has
// made: each is one round trip (one command or one pipeline; the
// rediscache tests count them with a go-redis hook).
func redisRoundTrips(t testing.TB, e *testEnv) int {
	t.Helper()
	families, err := e.svc.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, f := range families {
		if f.GetName() != "ageassure_redis_operations_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() != "fallback" { // a refused call sends nothing
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return int(n)
}

// checkOnce runs body through decide.
func checkOnce(t testing.TB, e *testEnv, body string) CheckResponse {
	t.Helper()
	r, err := e.svc.decide(context.Background(), Tenant{ID: e.tenant}, []byte(body))
	if err != nil {
		t.Fatalf("decide(%s): %v", body, err)
	}
	return *r
}

// TestDecideRoundTrips counts the Redis round trips of a sequence of
// checks, batched and per call, with no local copies (every read goes to
// Redis): a fresh signup costs 2 instead of 6, and one whose device has
// history 3. Both answer the same.
func TestDecideRoundTrips(t *testing.T) {
	srv := redistest.New(t)
	batched := newRedisEnv(t, srv, srv.Prefix+"batched:", -1, true)
	single := newRedisEnv(t, srv, srv.Prefix+"per-call:", -1, false)
	if batched.svc.batch == nil || single.svc.batch != nil {
		t.Fatal("the environments do not take the paths under test")
	}
	for _, e := range []*testEnv{batched, single} {
		e.storeSubject(t, e.subjectKey("rt-acct-strong"), subjectRecord{
			AgeMin: 14, AgeMax: 14, Band: "13_15", Level: AssuranceEnhanced, Methods: []string{"id_document"},
		}, time.Time{})
	}

	steps := []struct {
		name                 string
		body                 string
		wantBatched, wantOne int
	}{
		{
			// read the device's and the account's declared ages, the subject
			// and the guessed decision; write all four
			name:        "fresh device and subject",
			body:        `{"jurisdiction":"DE","declared":{"age":14},"context":{"device_ref":"rt-dev-1","subject_ref":"rt-acct-1"}}`,
			wantBatched: 2, wantOne: 8,
		},
		{
			// the device's history changes the decision key: a second read
			name:        "device with history",
			body:        `{"jurisdiction":"DE","declared":{"age":18},"context":{"device_ref":"rt-dev-1"}}`,
			wantBatched: 3, wantOne: 4,
		},
		{
			// the guessed key is the one the first step cached
			name:        "fresh device, cached decision",
			body:        `{"jurisdiction":"DE","declared":{"age":14},"context":{"device_ref":"rt-dev-2"}}`,
			wantBatched: 2, wantOne: 3,
		},
		{
			name:        "nothing to remember, cached decision",
			body:        `{"jurisdiction":"DE","declared":{"age":14}}`,
			wantBatched: 1, wantOne: 1,
		},
		{
			// a declared-only record is no prior, but the account's declared
			// history changes the decision key: a second read
			name:        "known subject, declaration only",
			body:        `{"jurisdiction":"DE","declared":{"age":14},"context":{"subject_ref":"rt-acct-1"}}`,
			wantBatched: 3, wantOne: 6,
		},
		{
			// stronger earlier assurance changes the decision key
			name:        "subject with stronger assurance",
			body:        `{"jurisdiction":"DE","declared":{"age":14},"context":{"device_ref":"rt-dev-3","subject_ref":"rt-acct-strong"}}`,
			wantBatched: 3, wantOne: 7,
		},
	}
	for _, s := range steps {
		before, beforeOne := redisRoundTrips(t, batched), redisRoundTrips(t, single)
		got, want := checkOnce(t, batched, s.body), checkOnce(t, single, s.body)
		if n := redisRoundTrips(t, batched) - before; n != s.wantBatched {
			t.Errorf("%s: %d round trips batched, want %d", s.name, n, s.wantBatched)
		}
		if n := redisRoundTrips(t, single) - beforeOne; n != s.wantOne {
			t.Errorf("%s: %d round trips per call, want %d", s.name, n, s.wantOne)
		}
		if diff := cmp.Diff(stable(want), stable(got)); diff != "" {
			t.Errorf("%s: batched answer differs (-per call +batched):\n%s", s.name, diff)
		}
	}
}

// TestBatchedDecisionsMatch sends the same sequence of checks — the
// realistic mix, with repeated devices and subjects, and subjects with
// stronger earlier assurance — to the in-process service and to Redis-
// backed ones, per call and batched, with and without local copies. Every
// answer, and the decision-cache hits and misses, must be the same.
func TestBatchedDecisionsMatch(t *testing.T) {
	srv := redistest.New(t)
	envs := []struct {
		name string
		env  *testEnv
	}{
		{"in-process", newTestEnv(t)},
		{"redis per call", newRedisEnv(t, srv, srv.Prefix+"per-call:", -1, false)},
		{"redis batched", newRedisEnv(t, srv, srv.Prefix+"batched:", -1, true)},
		{"redis batched, local copies", newRedisEnv(t, srv, srv.Prefix+"batched-local:", 0, true)},
	}
	const n = 400
	// Earlier assurance for some of the mix's subjects, stronger than a
	// declaration, at ages that agree or disagree with what is declared.
	for _, e := range envs {
		for i := range 40 {
			age := 10 + i%12
			e.env.storeSubject(t, e.env.subjectKey(fmt.Sprint("acct-", i*n/40)), subjectRecord{
				AgeMin: age, AgeMax: age, Band: string(policy.BandOf(age)), Level: AssuranceEnhanced, Methods: []string{"id_document"},
			}, time.Time{})
		}
	}

	ref := envs[0].env
	reused := 0
	for i, body := range realisticMix(n, 7) {
		want := checkOnce(t, ref, string(body))
		if len(want.Reasons) > 0 && want.Reasons[0].Rule == ReasonAssuranceReused {
			reused++
		}
		for _, e := range envs[1:] {
			if diff := cmp.Diff(stable(want), stable(checkOnce(t, e.env, string(body)))); diff != "" {
				t.Fatalf("check %d %s: %s differs from in-process (-in-process +%[2]s):\n%s", i, body, e.name, diff)
			}
		}
	}
	for _, e := range envs[1:] {
		hits, misses := counterValue(e.env, "hit"), counterValue(e.env, "miss")
		if hits != counterValue(ref, "hit") || misses != counterValue(ref, "miss") {
			t.Errorf("%s: decision cache %v hits, %v misses; in-process %v, %v", e.name, hits, misses, counterValue(ref, "hit"), counterValue(ref, "miss"))
		}
	}
	for _, e := range envs {
		if errs := testCounter(e.env.svc.metrics.cacheErrors) + testCounter(e.env.svc.metrics.deviceErrors); errs != 0 {
			t.Errorf("%s: %v cache or device memory errors", e.name, errs)
		}
	}
	if counterValue(ref, "hit") == 0 || reused == 0 {
		t.Errorf("%v decisions served from the cache, %d re-used assurance: the comparison proves little", counterValue(ref, "hit"), reused)
	}
}
