// Package redistest gives tests a Redis to talk to, the same way everywhere
// in the repository, and makes a missing Redis loud.
//
//   - New: a shared Redis (AGEASSURE_TEST_REDIS, default
//     redis://127.0.0.1:6379/15) if one answers, else a private redis-server
//     from PATH; each test gets a unique key prefix that is deleted at the
//     end, so tests and packages running in parallel never see each other.
//   - Start: a private redis-server process that a test may kill, pause and
//     restart (outage tests).
//   - StartCluster: a private Redis Cluster of n masters.
//
// When no Redis can be had the test is skipped with a loud message, except
// under CI (CI=true), where it fails: CI must not go green by skipping.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable with the URL of a shared test Redis.
const EnvURL = "AGEASSURE_TEST_REDIS"

// DefaultURL is the shared test Redis used when EnvURL is unset: the local
// default port, database 15 so that development data in database 0 is not
// touched.
const DefaultURL = "redis://127.0.0.1:6379/15"

// pingTimeout bounds the check that the shared Redis answers, so a suite
// without one falls back quickly.
const pingTimeout = 500 * time.Millisecond

// Server is a Redis for one test, with a key prefix of its own.
type Server struct {
	// URL is the redis:// URL of the server (with its database).
	URL string
	// Prefix is unique to the test, e.g. "ageassure-test:3f9c…:". Put every
	// key under it: keys containing it are deleted when the test ends.
	Prefix string

	client *redis.Client
}

// New returns a Redis for t: the shared one named by EnvURL (or DefaultURL)
// if it answers PING within 500 ms, otherwise a private redis-server started
// from PATH. Keys containing s.Prefix anywhere (so also those a library puts
// its own prefix in front of, like redis_rate's "rate:") are deleted with
// SCAN and UNLINK when t ends.
func New(t testing.TB) *Server {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		url = DefaultURL
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redistest: %s=%q: %v", EnvURL, url, err)
	}
	if err := ping(opts); err != nil {
		t.Logf("redistest: no Redis at %s (%v); starting redis-server", redact(url), err)
		url = Start(t).URL()
		if opts, err = redis.ParseURL(url); err != nil {
			t.Fatalf("redistest: %v", err)
		}
	}
	s := &Server{URL: url, Prefix: "ageassure-test:" + randomHex(8) + ":", client: redis.NewClient(opts)}
	t.Cleanup(func() {
		defer s.client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := DeleteMatching(ctx, s.client, "*"+s.Prefix+"*"); err != nil {
			t.Errorf("redistest: deleting keys under %s: %v", s.Prefix, err)
		}
	})
	return s
}

// Options returns new client options for the server, for tests that build
// their own client; changing them affects no one else.
func (s *Server) Options() *redis.Options {
	opts, err := redis.ParseURL(s.URL)
	if err != nil {
		panic(err) // parsed successfully in New
	}
	return opts
}

// Client returns a client for the server, shared by the test and closed
// when it ends.
func (s *Server) Client() *redis.Client { return s.client }

// Keys returns every key containing the test's prefix, for canary tests that
// inspect all a component stored.
func (s *Server) Keys(t testing.TB) []string {
	t.Helper()
	keys, err := ScanKeys(context.Background(), s.client, "*"+s.Prefix+"*")
	if err != nil {
		t.Fatalf("redistest: scanning keys: %v", err)
	}
	return keys
}

// ScanKeys returns the keys matching the glob pattern, using SCAN (never
// KEYS) so it is safe on a shared server. On a cluster client it scans every
// master.
func ScanKeys(ctx context.Context, c redis.UniversalClient, pattern string) ([]string, error) {
	var (
		mu   sync.Mutex
		keys []string
	)
	scan := func(ctx context.Context, c *redis.Client) error {
		var part []string
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			part = append(part, it.Val())
		}
		mu.Lock()
		keys = append(keys, part...)
		mu.Unlock()
		return it.Err()
	}
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("redistest: ScanKeys: unsupported client %T", c)
	}
	return keys, err
}

// DeleteMatching unlinks every key matching the glob pattern and returns
// how many it removed.
func DeleteMatching(ctx context.Context, c redis.UniversalClient, pattern string) (int, error) {
	keys, err := ScanKeys(ctx, c, pattern)
	if err != nil {
		return 0, err
	}
	for _, k := range keys { // one by one: on a cluster keys live in different slots
		if err := c.Unlink(ctx, k).Err(); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// ping reports whether the server of opts answers within pingTimeout.
func ping(opts *redis.Options) error {
	o := *opts
	o.DialTimeout, o.DialerRetries, o.MaxRetries = pingTimeout, 1, -1
	c := redis.NewClient(&o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	return c.Ping(ctx).Err()
}

// unavailable skips t with a loud message, or fails it under CI.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("redistest: %s (CI=true: Redis tests must not be skipped)", msg)
		return
	}
	t.Skipf("\n\n*** SKIPPED, NO REDIS: %s. Install redis-server or set %s. ***\n", msg, EnvURL)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// redact drops the password from a URL for logging.
func redact(u string) string {
	if i, j := strings.Index(u, "://"), strings.LastIndexByte(u, '@'); i >= 0 && j > i {
		return u[:i+3] + "…@" + u[j+1:]
	}
	return u
}
