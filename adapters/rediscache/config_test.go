package rediscache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no mode", Config{}},
		{"url and cluster", Config{URL: "redis://127.0.0.1:6379", ClusterAddrs: []string{"127.0.0.1:7000"}}},
		{"url and sentinel", Config{URL: "redis://127.0.0.1:6379", SentinelAddrs: []string{"s:26379"}, MasterName: "m"}},
		{"cluster and sentinel", Config{ClusterAddrs: []string{"a:1"}, SentinelAddrs: []string{"s:26379"}, MasterName: "m"}},
		{"sentinel without master", Config{SentinelAddrs: []string{"s:26379"}}},
		{"master without sentinels", Config{MasterName: "m"}},
		{"empty cluster address", Config{ClusterAddrs: []string{""}}},
		{"http url", Config{URL: "http://127.0.0.1:6379"}},
		{"bad port", Config{URL: "redis://127.0.0.1:notaport"}},
		{"bad db", Config{URL: "redis://127.0.0.1:6379/x"}},
		{"tls with url", Config{URL: "redis://127.0.0.1:6379", TLS: true}},
		{"password with url", Config{URL: "redis://127.0.0.1:6379", Password: "p"}},
		{"negative timeout", Config{URL: "redis://127.0.0.1:6379", Timeout: -time.Second}},
		{"negative open timeout", Config{URL: "redis://127.0.0.1:6379", Breaker: BreakerConfig{OpenTimeout: -1}}},
		{"negative local entries", Config{URL: "redis://127.0.0.1:6379", LocalMaxEntries: -1}},
		{"negative pool size", Config{URL: "redis://127.0.0.1:6379", PoolSize: -1}},
		{"glob in prefix", Config{URL: "redis://127.0.0.1:6379", Prefix: "app*:"}},
		{"space in prefix", Config{URL: "redis://127.0.0.1:6379", Prefix: "a b:"}},
		{"long prefix", Config{URL: "redis://127.0.0.1:6379", Prefix: strings.Repeat("p", 65)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(context.Background(), tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("New() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestConfigErrorsHideSecrets(t *testing.T) {
	_, err := New(context.Background(), Config{URL: "redis://user:s3cret-pw@127.0.0.1:notaport/0"})
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("New() = %v: want an error without the password", err)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "config", Config{URL: "redis://user:s3cret-pw@h:6379/0", Password: "other-secret"})
	if strings.Contains(b.String(), "s3cret-pw") || strings.Contains(b.String(), "other-secret") {
		t.Errorf("logged config leaks a secret: %s", b.String())
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{ClusterAddrs: []string{"a:1", "b:2"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Prefix != DefaultPrefix || c.Timeout != DefaultTimeout || c.Breaker.ConsecutiveFailures != DefaultConsecutiveFailures ||
		c.Breaker.OpenTimeout != DefaultOpenTimeout || c.Breaker.HalfOpenRequests != DefaultHalfOpenRequests ||
		c.LocalMaxTTL != DefaultLocalMaxTTL || c.Logger == nil || c.Clock == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
}

// TestNewRedisDown: a Redis that is down at start-up is not a reason to
// refuse to start; New warns and returns a Store that serves locally.
func TestNewRedisDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	e := newEnv(t, Config{URL: fmt.Sprintf("redis://%s/0", addr), Prefix: "t:"})
	if d := time.Since(start); d > time.Second {
		t.Errorf("New took %v with Redis down", d)
	}
	if !strings.Contains(e.logs.String(), "redis unavailable at start") {
		t.Errorf("no start-up warning in logs: %s", e.logs)
	}
	ctx := context.Background()
	k := hkey("device")
	if err := e.RecordDeclaredAge(ctx, k, 12, time.Hour); err != nil {
		t.Fatal(err)
	}
	if age, ok, err := e.LowestDeclaredAge(ctx, k); err != nil || !ok || age != 12 {
		t.Errorf("LowestDeclaredAge = %d, %t, %v; want 12 from process memory", age, ok, err)
	}
}
