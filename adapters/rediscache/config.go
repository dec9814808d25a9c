package rediscache

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for Config fields left zero.
const (
	// DefaultPrefix namespaces every key, so one Redis can serve other
	// applications (and several ageassure deployments with distinct
	// prefixes).
	DefaultPrefix = "ageassure:"
	// DefaultTimeout bounds each Redis operation: far above a healthy
	// round trip (well under 1 ms on a LAN), far below what a request can
	// afford to wait for a cache.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultConsecutiveFailures is how many failures in a row open the
	// breaker: enough to ignore a blip, few enough that an outage costs only
	// a handful of timed-out calls.
	DefaultConsecutiveFailures = 5
	// DefaultOpenTimeout is how long the breaker stays open before probing.
	DefaultOpenTimeout = 5 * time.Second
	// DefaultHalfOpenRequests is how many probe calls the half-open breaker
	// lets through; that many successes in a row close it.
	DefaultHalfOpenRequests = 3
	// DefaultLocalMaxTTL caps how long a value read from (or written to)
	// Redis is also served from process memory, which bounds how stale a
	// replica's copy of a value another replica changed can be.
	DefaultLocalMaxTTL = time.Minute
)

// Sentinel errors. Both are wrapped with %w; test with errors.Is.
var (
	// ErrInvalidConfig means the Config cannot work (no or several modes,
	// malformed URL, negative durations). New returns it at start-up so a
	// misconfiguration stops the service instead of degrading it silently.
	ErrInvalidConfig = errors.New("invalid redis configuration")
	// ErrDegraded means Redis could not be asked and the answer comes from
	// this process alone. Only FirstUse returns it: a replay seen by
	// another replica cannot be ruled out, and the caller must decide
	// (evidence verifiers treat the evidence as unverifiable). Every other
	// operation degrades silently, because its local answer is safe.
	ErrDegraded = errors.New("redis unavailable, answered from process memory only")
)

// BreakerConfig configures the circuit breaker in front of Redis.
type BreakerConfig struct {
	// ConsecutiveFailures opens the breaker (default
	// DefaultConsecutiveFailures). A miss (redis.Nil) is not a failure,
	// nor is a call the caller cancelled, nor one that gave up while
	// queued for a shared pipeline. When Redis answers nothing for a
	// whole Timeout, the Store pings it, and each ping that times out
	// counts too, so a hung Redis opens the breaker after about this many
	// Timeouts whatever the load (see the package documentation).
	ConsecutiveFailures uint32
	// OpenTimeout is how long the breaker stays open before it lets probe
	// calls through (default DefaultOpenTimeout).
	OpenTimeout time.Duration
	// HalfOpenRequests is how many probes may run while half-open; that many
	// successes close the breaker, one failure re-opens it (default
	// DefaultHalfOpenRequests).
	HalfOpenRequests uint32
}

// Config configures a Store. Exactly one of URL, ClusterAddrs or
// SentinelAddrs (with MasterName) must be set.
type Config struct {
	// URL of a single Redis: redis://[user:password@]host:port/db, or
	// rediss:// for TLS (go-redis ParseURL; query options such as
	// ?dial_timeout= are honoured, but the timeouts are then set from
	// Timeout).
	URL string
	// ClusterAddrs are seed host:port addresses of a Redis Cluster.
	ClusterAddrs []string
	// SentinelAddrs are host:port addresses of Redis Sentinels that know
	// the master MasterName.
	SentinelAddrs []string
	MasterName    string

	// Username and Password authenticate to cluster nodes or to the
	// Sentinel-managed master (a URL carries its own).
	Username, Password string
	// SentinelUsername and SentinelPassword authenticate to the Sentinels
	// themselves, when they require it.
	SentinelUsername, SentinelPassword string
	// TLS enables TLS (TLS 1.2 or later, system roots) for cluster and
	// sentinel connections; with URL use the rediss:// scheme instead.
	TLS bool

	// Prefix starts every key (default DefaultPrefix).
	Prefix string
	// Timeout bounds each Redis operation, and is also the go-redis dial,
	// read, write and pool timeout (default DefaultTimeout).
	Timeout time.Duration
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig

	// PoolSize is the most connections to Redis (per node for a cluster);
	// zero means go-redis' default, 10 per CPU. Give it at least the number
	// of requests that may use Redis at once: a request waiting for a
	// connection waits out the Timeout, and enough of those open the
	// breaker on a healthy Redis.
	PoolSize int
	// LocalMaxEntries bounds each in-process tier (devices, values, replay,
	// rate limiters); zero means localcache.DefaultMaxEntries.
	LocalMaxEntries int
	// LocalMaxTTL caps how long a value Redis holds is also kept in process
	// memory (default DefaultLocalMaxTTL). Negative keeps no copies: every
	// Get asks Redis while it is up. Values written while Redis is down are
	// kept locally for their full ttl regardless, as the only copy.
	LocalMaxTTL time.Duration

	// Logger receives breaker transitions and start-up warnings (default
	// slog.Default()). Nothing is logged per request.
	Logger *slog.Logger
	// Clock drives the in-process tier's expiry (default time.Now); Redis
	// expiry follows Redis' own clock.
	Clock func() time.Time
}

// LogValue logs the configuration without secrets: passwords are dropped
// and a URL's user information redacted.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("prefix", c.Prefix), slog.Duration("timeout", c.Timeout)}
	switch {
	case c.URL != "":
		u, err := url.Parse(c.URL)
		if err != nil {
			attrs = append(attrs, slog.String("url", "(malformed)"))
		} else {
			attrs = append(attrs, slog.String("url", u.Redacted()))
		}
	case len(c.ClusterAddrs) > 0:
		attrs = append(attrs, slog.Any("cluster_addrs", c.ClusterAddrs))
	default:
		attrs = append(attrs, slog.Any("sentinel_addrs", c.SentinelAddrs), slog.String("master", c.MasterName))
	}
	return slog.GroupValue(attrs...)
}

// withDefaults returns c with zero fields defaulted, or an error wrapping
// ErrInvalidConfig.
func (c Config) withDefaults() (Config, error) {
	modes := 0
	if c.URL != "" {
		modes++
	}
	if len(c.ClusterAddrs) > 0 {
		modes++
	}
	if len(c.SentinelAddrs) > 0 || c.MasterName != "" {
		modes++
		if len(c.SentinelAddrs) == 0 || c.MasterName == "" {
			return c, fmt.Errorf("%w: SentinelAddrs and MasterName go together", ErrInvalidConfig)
		}
	}
	if modes != 1 {
		return c, fmt.Errorf("%w: set exactly one of URL, ClusterAddrs or SentinelAddrs+MasterName (%d set)", ErrInvalidConfig, modes)
	}
	if c.URL != "" && c.TLS {
		return c, fmt.Errorf("%w: TLS is for cluster and sentinel; use a rediss:// URL", ErrInvalidConfig)
	}
	if c.URL != "" && (c.Username != "" || c.Password != "") {
		return c, fmt.Errorf("%w: with URL, put the credentials in the URL", ErrInvalidConfig)
	}
	for _, a := range append(append([]string(nil), c.ClusterAddrs...), c.SentinelAddrs...) {
		if a == "" {
			return c, fmt.Errorf("%w: empty address", ErrInvalidConfig)
		}
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	for i := 0; i < len(c.Prefix); i++ {
		if ch := c.Prefix[i]; ch <= ' ' || ch > '~' || ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\' {
			return c, fmt.Errorf("%w: Prefix must be printable ASCII without spaces or glob characters", ErrInvalidConfig)
		}
	}
	if len(c.Prefix) > 64 {
		return c, fmt.Errorf("%w: Prefix longer than 64 bytes", ErrInvalidConfig)
	}
	switch {
	case c.Timeout < 0 || c.Breaker.OpenTimeout < 0:
		return c, fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	case c.LocalMaxEntries < 0:
		return c, fmt.Errorf("%w: negative LocalMaxEntries", ErrInvalidConfig)
	case c.PoolSize < 0:
		return c, fmt.Errorf("%w: negative PoolSize", ErrInvalidConfig)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Breaker.ConsecutiveFailures == 0 {
		c.Breaker.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if c.Breaker.OpenTimeout == 0 {
		c.Breaker.OpenTimeout = DefaultOpenTimeout
	}
	if c.Breaker.HalfOpenRequests == 0 {
		c.Breaker.HalfOpenRequests = DefaultHalfOpenRequests
	}
	if c.LocalMaxTTL == 0 {
		c.LocalMaxTTL = DefaultLocalMaxTTL
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c, nil
}

// newClient builds the go-redis client for c (already defaulted). Timeouts
// are c.Timeout throughout, retries are off: the breaker and the local tier
// handle failures, and a retry would only push a request past its budget.
func (c Config) newClient() (redis.UniversalClient, error) {
	var tlsConfig *tls.Config
	if c.TLS {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch {
	case c.URL != "":
		o, err := redis.ParseURL(c.URL)
		if err != nil {
			// The error may quote the URL, password included: don't wrap it.
			return nil, fmt.Errorf("%w: URL: not a valid redis:// or rediss:// URL", ErrInvalidConfig)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = c.Timeout, c.Timeout, c.Timeout, c.Timeout
		o.ContextTimeoutEnabled, o.MaxRetries, o.DialerRetries = true, -1, 1
		if c.PoolSize > 0 {
			o.PoolSize = c.PoolSize
		}
		return redis.NewClient(o), nil
	case len(c.ClusterAddrs) > 0:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:    c.ClusterAddrs,
			Username: c.Username, Password: c.Password,
			TLSConfig:   tlsConfig,
			DialTimeout: c.Timeout, ReadTimeout: c.Timeout, WriteTimeout: c.Timeout, PoolTimeout: c.Timeout,
			PoolSize:              c.PoolSize,
			ContextTimeoutEnabled: true,
			// Redirects (MOVED/ASK) during resharding are normal cluster
			// operation, not failures: keep go-redis' default of 3.
			MaxRetries: -1, DialerRetries: 1,
		}), nil
	default:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       c.MasterName,
			SentinelAddrs:    c.SentinelAddrs,
			SentinelUsername: c.SentinelUsername, SentinelPassword: c.SentinelPassword,
			Username: c.Username, Password: c.Password,
			TLSConfig:   tlsConfig,
			DialTimeout: c.Timeout, ReadTimeout: c.Timeout, WriteTimeout: c.Timeout, PoolTimeout: c.Timeout,
			PoolSize:              c.PoolSize,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1, DialerRetries: 1,
		}), nil
	}
}
