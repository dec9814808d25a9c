package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ageassure/ageassure/adapters/rediscache"
	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/policy"
)

// replicas are service instances that share a Redis, a tenant and a
// reference key, as replicas behind a load balancer do.
type replicas struct {
	envs   []*testEnv
	stores []*rediscache.Store
	key    string // the tenant's API key
}

func newReplicas(t *testing.T, n int, cfg rediscache.Config, limit *RateLimit) *replicas {
	t.Helper()
	key := "replica-test-key"
	sum := sha256.Sum256([]byte(key))
	tenants, err := NewTenants([]Tenant{{ID: "acme", KeySHA256: hex.EncodeToString(sum[:]), RateLimit: limit}})
	if err != nil {
		t.Fatal(err)
	}
	refKey := []byte("shared-cache-secret-for-the-replicas-under-test")
	r := &replicas{key: key}
	for i := 0; i < n; i++ {
		var store *rediscache.Store
		env := newTestEnvWith(t, func(e *testEnv, o *Options) {
			c := cfg
			c.Clock = e.clock.Now
			c.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var err error
			store, err = rediscache.New(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.Close() })
			if o.Registry == nil {
				o.Registry = prometheus.NewRegistry()
			}
			if err := store.Register(o.Registry); err != nil {
				t.Fatal(err)
			}
			o.Devices, o.Cache, o.RateLimiter = store, store, store
			o.Tenants, o.RefKey = tenants, refKey
			o.ReadyChecks = map[string]ReadyCheck{"redis": store.State}
		})
		env.key = key
		r.envs = append(r.envs, env)
		r.stores = append(r.stores, store)
	}
	return r
}

// steppedUp reports whether got is the fail-safe answer to a check that
// would have been allowed, given while the shared history could not be
// read: additional verification, saying why.
func steppedUp(want string, got CheckResponse) bool {
	return want == string(policy.Allow) && got.Decision == policy.AdditionalVerificationRequired &&
		slices.ContainsFunc(got.Reasons, func(r Reason) bool { return r.Rule == ReasonHistoryUnavailable })
}

func decisionOf(t *testing.T, e *testEnv, body string) CheckResponse {
	t.Helper()
	resp, b := e.post(t, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return decodeResponse(t, b)
}

// sharedStateScenario checks that what one replica learns, the other
// knows: device history, cached decisions, subject records.
func sharedStateScenario(t *testing.T, r *replicas) {
	a, b := r.envs[0], r.envs[1]

	if d := decisionOf(t, a, `{"jurisdiction":"DE","declared":{"age":10},"context":{"device_ref":"tablet-1"}}`).Decision; d != "deny" {
		t.Fatalf("replica A: %s", d)
	}
	got := decisionOf(t, b, `{"jurisdiction":"DE","declared":{"age":18},"context":{"device_ref":"tablet-1"}}`)
	if got.Decision != "additional_verification_required" || !strings.Contains(fmt.Sprint(got.Reasons), "de.anti-hopping") {
		t.Errorf("replica B did not catch the hop: %s %v", got.Decision, got.Reasons)
	}

	body := `{"jurisdiction":"FR","declared":{"age":21},"signals":[{"type":"user_reports","count":1}]}`
	first := decisionOf(t, a, body)
	second := decisionOf(t, b, body)
	if stable(first).Decision != stable(second).Decision || metricValue(t, b, `ageassure_decision_cache_requests_total{result="hit"}`) != "1" {
		t.Errorf("replica B did not serve replica A's cached decision (hits %q)", metricValue(t, b, `ageassure_decision_cache_requests_total{result="hit"}`))
	}

	a.storeSubject(t, a.subjectKey("acct-7"), subjectRecord{
		AgeMin: 12, AgeMax: 12, Band: "under_13", Level: AssuranceStrict, Methods: []string{"id_document"}, ReassessAt: "2027-01-01",
	}, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	got = decisionOf(t, b, `{"jurisdiction":"US","declared":{"age":30},"context":{"subject_ref":"acct-7"}}`)
	if got.Decision != "deny" || got.Assurance.Level != AssuranceStrict {
		t.Errorf("replica B did not re-use A's strict assurance: %s %s", got.Decision, got.Assurance.Level)
	}
}

func TestRedisSharedAcrossReplicas(t *testing.T) {
	srv := redistest.New(t)
	r := newReplicas(t, 2, rediscache.Config{URL: srv.URL, Prefix: srv.Prefix}, nil)
	sharedStateScenario(t, r)
	// Everything the service wrote is under its prefix, in the namespaces
	// the README documents.
	for _, k := range srv.Keys(t) {
		rest := strings.TrimPrefix(k, srv.Prefix)
		if !strings.HasPrefix(rest, "dev:") && !strings.HasPrefix(rest, "dc:") && !strings.HasPrefix(rest, "sub:") {
			t.Errorf("unexpected key %q", k)
		}
	}
}

func TestRedisClusterSharedAcrossReplicas(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	r := newReplicas(t, 2, rediscache.Config{ClusterAddrs: c.Addrs, Prefix: "ageassure-cluster-test:"}, nil)
	sharedStateScenario(t, r)
}

func TestRedisTenantRateLimit(t *testing.T) {
	srv := redistest.New(t)
	r := newReplicas(t, 2, rediscache.Config{URL: srv.URL, Prefix: srv.Prefix}, &RateLimit{Rate: 4, Burst: 4, Period: time.Minute})
	body := `{"jurisdiction":"DE","declared":{"age":20}}`
	for i := 0; i < 4; i++ {
		if resp, b := r.envs[i%2].post(t, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	resp, b := r.envs[0].post(t, body)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fifth request across replicas: %d %s", resp.StatusCode, b)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	if !strings.Contains(string(b), `"code":"rate_limited"`) || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("429 body %s", b)
	}
}

// TestRedisOutageChaos runs a concurrent load, kills Redis in the middle and
// restarts it: every request is answered 200 with the right decision, the
// service stays ready, and once Redis is back its cache is used again.
func TestRedisOutageChaos(t *testing.T) {
	proc := redistest.Start(t)
	r := newReplicas(t, 1, rediscache.Config{
		URL: proc.URL(), Prefix: "ageassure-chaos:", Timeout: 50 * time.Millisecond,
		Breaker: rediscache.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: 200 * time.Millisecond},
		// No long-lived local copies: reads go to Redis while it is up, so
		// the test sees it being used again after the restart.
		LocalMaxTTL: -1,
	}, nil)
	e, store := r.envs[0], r.stores[0]

	cases := []struct{ body, decision string }{
		{`{"jurisdiction":"DE","declared":{"age":14}}`, "parental_consent_required"},
		{`{"jurisdiction":"DE","declared":{"age":12}}`, "deny"},
		{`{"jurisdiction":"FR","declared":{"age":30}}`, "allow"},
		{`{"jurisdiction":"US","declared":{"age":30},"signals":[{"type":"user_reports","count":5}]}`, "additional_verification_required"},
		{`{"jurisdiction":"AU","declared":{"age":15}}`, "deny"},
		{`{"jurisdiction":"GB","declared":{"age":16},"context":{"subject_ref":"s"}}`, "allow"},
	}
	const total, workers = 2400, 8
	var sent, done atomic.Int64
	var failures atomic.Int64
	var maxLatency atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	killed, restarted := make(chan struct{}), make(chan struct{})
	go func() {
		for done.Load() < total/4 {
			time.Sleep(time.Millisecond)
		}
		proc.Kill()
		close(killed)
		for done.Load() < total*3/5 {
			time.Sleep(time.Millisecond)
		}
		proc.Restart()
		close(restarted)
	}()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				i := sent.Add(1) - 1
				if i >= total {
					return
				}
				c := cases[i%int64(len(cases))]
				// Unique device refs keep every expected decision independent
				// of history, while still exercising the device memory.
				body := strings.Replace(c.body, `"declared"`, fmt.Sprintf(`"context":{"device_ref":"dev-%d"},"declared"`, i), 1)
				if strings.Contains(c.body, `"context"`) {
					body = c.body
				}
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/age-checks", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+r.key)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := client.Do(req)
				lat := time.Since(start)
				for {
					m := maxLatency.Load()
					if int64(lat) <= m || maxLatency.CompareAndSwap(m, int64(lat)) {
						break
					}
				}
				ok := err == nil && resp.StatusCode == http.StatusOK
				var got CheckResponse
				if ok {
					b, rerr := io.ReadAll(resp.Body)
					ok = rerr == nil && json.Unmarshal(b, &got) == nil && (string(got.Decision) == c.decision || steppedUp(c.decision, got))
				}
				if resp != nil {
					resp.Body.Close()
				}
				if !ok {
					failures.Add(1)
					firstErr.Do(func() {
						t.Errorf("request %d (%s): err=%v decision=%q want %q", i, body, err, got.Decision, c.decision)
					})
				}
				done.Add(1)
			}
		}()
	}
	<-killed
	// While Redis is down the service stays ready and says why.
	deadline := time.Now().Add(5 * time.Second)
	for store.State() != "open" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	resp, body := e.do(t, "GET", "/readyz", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"redis":"open"`) {
		t.Errorf("readyz during the outage: %d %s", resp.StatusCode, body)
	}
	wg.Wait()
	<-restarted
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed", n, total)
	}
	t.Logf("%d requests, max latency %s", total, time.Duration(maxLatency.Load()))

	deadline = time.Now().Add(10 * time.Second)
	for store.State() != "closed" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := store.State(); s != "closed" {
		t.Fatalf("breaker %s after the restart", s)
	}
	// Redis is used again: a decision cached by this replica after the
	// restart is read back from Redis.
	before := metricValue(t, e, `ageassure_cache_requests_total{result="hit",tier="redis"}`)
	body1 := `{"jurisdiction":"IT","declared":{"age":40}}`
	decisionOf(t, e, body1)
	decisionOf(t, e, body1)
	after := metricValue(t, e, `ageassure_cache_requests_total{result="hit",tier="redis"}`)
	if after == before {
		t.Errorf("no Redis cache hit after the restart (before %q, after %q)", before, after)
	}
	if n, err := redis.NewClient(mustParse(t, proc.URL())).DBSize(context.Background()).Result(); err != nil || n == 0 {
		t.Errorf("Redis holds %d keys after the restart (%v)", n, err)
	}
}

func mustParse(t *testing.T, url string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestNoIdentityDataInRedis: after requests carrying canaries, every key in
// Redis and every value (SCAN + DUMP, and GET) is searched for them, as are
// the logs of the replica.
func TestNoIdentityDataInRedis(t *testing.T) {
	srv := redistest.New(t)
	r := newReplicas(t, 1, rediscache.Config{URL: srv.URL, Prefix: srv.Prefix}, nil)
	sendCanaries(t, r.envs[0])

	ctx := context.Background()
	keys := srv.Keys(t)
	if len(keys) < 3 {
		t.Fatalf("only %d keys in Redis: the search would prove nothing", len(keys))
	}
	var dump strings.Builder
	for _, k := range keys {
		d, err := srv.Client().Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("DUMP %s: %v", k, err)
		}
		v, _ := srv.Client().Get(ctx, k).Result()
		fmt.Fprintf(&dump, "%s\n%s\n%x\n%s\n", k, d, d, v)
	}
	assertNoCanaries(t, map[string]string{
		"redis": dump.String(),
		"logs":  r.envs[0].logs.String(),
	})
}
