package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ageassure/ageassure/adapters/rediscache"
)

// redisFlags are the settings of the shared Redis cache. Exactly one of
// URL, Cluster or Sentinel (with Master) selects it; none keeps every cache
// in process.
type redisFlags struct {
	URL              string
	Cluster          string
	Sentinel         string
	Master           string
	Username         string
	PasswordFile     string
	TLS              bool
	Prefix           string
	Timeout          time.Duration
	BreakerFailures  uint
	BreakerOpen      time.Duration
	LocalMaxTTL      time.Duration
	SentinelPassFile string
}

func (r *redisFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&r.URL, "redis", "", "Redis `URL`: redis://[user:password@]host:port/db, or rediss:// for TLS\n(default: no Redis; every cache in process)")
	fs.StringVar(&r.Cluster, "redis-cluster", "", "Redis Cluster seed `addresses`, comma-separated host:port")
	fs.StringVar(&r.Sentinel, "redis-sentinel", "", "Redis Sentinel `addresses`, comma-separated host:port (with --redis-master)")
	fs.StringVar(&r.Master, "redis-master", "", "the master `name` the Sentinels manage")
	fs.StringVar(&r.Username, "redis-username", "", "`user` for cluster nodes or the Sentinel-managed master (a --redis URL carries its own)")
	fs.StringVar(&r.PasswordFile, "redis-password-file", "", "`file` holding the password for cluster nodes or the Sentinel-managed master")
	fs.StringVar(&r.SentinelPassFile, "redis-sentinel-password-file", "", "`file` holding the password of the Sentinels themselves, if they require one")
	fs.BoolVar(&r.TLS, "redis-tls", false, "use TLS to cluster nodes or Sentinels (with --redis use rediss://)")
	fs.StringVar(&r.Prefix, "redis-prefix", rediscache.DefaultPrefix, "`prefix` of every Redis key")
	fs.DurationVar(&r.Timeout, "redis-timeout", rediscache.DefaultTimeout, "bound on each Redis operation (also dial, read, write and pool timeouts)")
	fs.UintVar(&r.BreakerFailures, "redis-breaker-failures", uint(rediscache.DefaultConsecutiveFailures), "consecutive Redis failures that open the circuit breaker")
	fs.DurationVar(&r.BreakerOpen, "redis-breaker-open", rediscache.DefaultOpenTimeout, "how long the breaker stays open before probing Redis again")
	fs.DurationVar(&r.LocalMaxTTL, "redis-local-ttl", rediscache.DefaultLocalMaxTTL, "how long a value read from Redis is also kept in process memory")
}

// mode names the cache deployment for logs.
func (r *redisFlags) mode() string {
	switch {
	case r.URL != "":
		return "redis"
	case r.Cluster != "":
		return "redis-cluster"
	case r.Sentinel != "" || r.Master != "":
		return "redis-sentinel"
	}
	return "in-process"
}

// config turns the flags into the adapter's configuration; the adapter
// validates combinations (exactly one mode, a parseable URL).
func (r *redisFlags) config(localSize, poolSize int, log *slog.Logger) (rediscache.Config, error) {
	c := rediscache.Config{
		URL:             r.URL,
		ClusterAddrs:    splitList(r.Cluster),
		SentinelAddrs:   splitList(r.Sentinel),
		MasterName:      r.Master,
		Username:        r.Username,
		TLS:             r.TLS,
		Prefix:          r.Prefix,
		Timeout:         r.Timeout,
		Breaker:         rediscache.BreakerConfig{ConsecutiveFailures: uint32(r.BreakerFailures), OpenTimeout: r.BreakerOpen},
		PoolSize:        poolSize,
		LocalMaxEntries: localSize,
		LocalMaxTTL:     r.LocalMaxTTL,
		Logger:          log,
	}
	var err error
	if c.Password, err = readSecret(r.PasswordFile, "redis password file"); err != nil {
		return c, err
	}
	if c.SentinelPassword, err = readSecret(r.SentinelPassFile, "redis sentinel password file"); err != nil {
		return c, err
	}
	return c, nil
}

// readSecret reads a one-line secret file ("" when no file is given).
// Secrets come from files, not flags, so they stay out of process listings.
func readSecret(path, what string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
