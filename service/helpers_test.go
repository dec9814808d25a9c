package service

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/adapters/signer"
	"github.com/ageassure/ageassure/internal/syncbuf"
	"github.com/ageassure/ageassure/policy"
)

// fixedNow is the instant tests evaluate at unless they say otherwise.
var fixedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// testEnv is a running service on a loopback port with a known API key.
type testEnv struct {
	svc     *Service
	srv     *httptest.Server
	key     string
	tenant  string
	signer  *signer.Signer
	devices *localcache.DeviceMemory
	cache   *localcache.KV
	logs    *syncbuf.Buffer
	clock   *testClock
}

// testClock is a settable time source. The cache library reads it from
// its own goroutines, so it must be safe for concurrent use.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func builtinPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Builtin()
	if err != nil {
		t.Fatalf("built-in policy: %v", err)
	}
	return p
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	return newTestEnvWith(t, nil)
}

// newTestEnvWith builds a test service; configure may change the options
// (another cache, shared tenants or reference key) before it is built.
func newTestEnvWith(t testing.TB, configure func(e *testEnv, o *Options)) *testEnv {
	t.Helper()
	sig, err := signer.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	key, tenants, err := DevTenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{key: key, tenant: "acme", signer: sig, logs: &syncbuf.Buffer{}, clock: &testClock{now: fixedNow}}
	env.devices = localcache.NewDeviceMemory(localcache.Options{MaxEntries: 10_000, Clock: env.clock.Now})
	env.cache = localcache.NewKV(localcache.Options{MaxEntries: 10_000, Clock: env.clock.Now})
	opts := Options{
		Policy:    builtinPolicy(t),
		Signer:    sig,
		Devices:   env.devices,
		Cache:     env.cache,
		Tenants:   tenants,
		Issuer:    "https://ageassure.test",
		Logger:    slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:     env.clock.Now,
		AccessLog: true,
	}
	if configure != nil {
		configure(env, &opts)
	}
	env.svc, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	env.srv = httptest.NewServer(env.svc.Handler())
	t.Cleanup(env.srv.Close)
	return env
}

// post sends body to /v1/age-checks with the env's key and JSON content type.
func (e *testEnv) post(t testing.TB, body string) (*http.Response, []byte) {
	t.Helper()
	return e.do(t, http.MethodPost, "/v1/age-checks", body, map[string]string{
		"Authorization": "Bearer " + e.key,
		"Content-Type":  "application/json",
	})
}

func (e *testEnv) do(t testing.TB, method, path, body string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decodeResponse(t testing.TB, b []byte) CheckResponse {
	t.Helper()
	var r CheckResponse
	if err := json.Unmarshal(b, &r, json.RejectUnknownMembers(false)); err != nil {
		t.Fatalf("decoding response %s: %v", b, err)
	}
	return r
}

// problemBody mirrors Problem for decoding answers.
type problemBody struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors"`
}
