package rediscache

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ageassure/ageassure/adapters/localcache"
)

// TestStoresOnlyWhatItIsGiven stores through every operation, then reads
// back every key under the prefix (SCAN, DUMP, GET): keys must be the
// prefix, a namespace and the HMACs (or the tenant id), values exactly what
// was given (for a used one-time value, its use's random claim), and no
// canary reference may appear anywhere, in clear, hex or base64.
func TestStoresOnlyWhatItIsGiven(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	canaries := []string{"idfa:6D92078A-8246-4BA4-AE5B-76104861E7DC", "alice@example.com", "203.0.113.7", "n-canary-1234"}
	want := map[string]string{} // Redis key (after the prefix) → value
	for i, ref := range canaries {
		k := hkey(ref)
		if err := e.RecordDeclaredAge(ctx, k, 12+i, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		want["dev:"+k] = fmt.Sprint(12 + i)
		v := fmt.Sprintf(`{"band":"13_15","n":%d}`, i)
		if err := e.Set(ctx, "dc:"+k, []byte(v), time.Hour); err != nil {
			t.Fatal(err)
		}
		want["dc:"+k] = v
		if _, err := e.FirstUse(ctx, k, time.Minute); err != nil {
			t.Fatal(err)
		}
		want["rp:"+k] = claimOf(e, k)
		if _, err := e.FirstUse(ctx, "ev:"+k, time.Minute); err != nil {
			t.Fatal(err)
		}
		want["rp:ev:"+k] = claimOf(e, "ev:"+k)
	}
	if _, err := e.Allow(ctx, "acme", localcache.Limit{Rate: 10, Burst: 10, Period: time.Second}); err != nil {
		t.Fatal(err)
	}

	c := e.srv.Client()
	keyShape := regexp.MustCompile(`^(dev|dc|rp|rp:ev):[0-9a-f]{64}$`)
	seen := 0
	for _, key := range e.srv.Keys(t) {
		dump, err := c.Dump(ctx, key).Result()
		if err != nil {
			t.Fatalf("DUMP: %v", err)
		}
		for _, ref := range canaries {
			for _, form := range []string{ref, hex.EncodeToString([]byte(ref)), base64.StdEncoding.EncodeToString([]byte(ref)), base64.RawURLEncoding.EncodeToString([]byte(ref))} {
				if strings.Contains(strings.ToLower(key+dump), strings.ToLower(form)) {
					t.Errorf("key %s or its DUMP contains canary %q", key, ref)
				}
			}
		}
		if key == "rate:"+e.srv.Prefix+"rl:acme" { // GCRA state: a time, not ours to read
			continue
		}
		rest, ok := strings.CutPrefix(key, e.srv.Prefix)
		if !ok || !keyShape.MatchString(rest) {
			t.Errorf("unexpected key %q", key)
			continue
		}
		got, err := c.Get(ctx, key).Result()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		if got != want[rest] {
			t.Errorf("%s = %q, want %q", rest[:12], got, want[rest])
		}
		seen++
	}
	if seen != len(want) {
		t.Errorf("found %d keys, want %d", seen, len(want))
	}
}

// claimOf is the value a used key holds in Redis: the claim of its use, a
// random number the replica generated, nothing it was given.
func claimOf(e *env, key string) string {
	c, _ := e.replay.ClaimOf(key)
	return claimValue(c)
}
