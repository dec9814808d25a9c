package localcache

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// More sentinel errors for the stores added next to DeviceMemory. Like the
// others they only come from a caller's mistake, never from the store's
// state, so callers may treat them as bugs.
var (
	// ErrInvalidTTL means a non-positive time to live: an entry that is
	// already expired would be a silent no-op.
	ErrInvalidTTL = errors.New("invalid ttl")
	// ErrInvalidTenant means a tenant id that is not a lower-case slug. Rate
	// limiter keys are tenant ids, never per-person values; the check keeps
	// anything else out.
	ErrInvalidTenant = errors.New("invalid tenant id")
	// ErrInvalidLimit means a rate limit that cannot be enforced (zero or
	// negative rate, burst or period).
	ErrInvalidLimit = errors.New("invalid rate limit")
)

// maxNamespace bounds the namespace part of a namespaced key, so it cannot
// smuggle in more than a short label.
const maxNamespace = 32

// ValidateKey reports whether key is a hex-encoded HMAC of 128 to 512 bits,
// the only shape of key the stores accept. It is exported so that other
// tiers (adapters/rediscache) apply exactly the same rule. The error wraps
// ErrInvalidKey and never echoes the key.
func ValidateKey(key string) error { return checkKey(key) }

// ValidateNamespacedKey accepts "<namespace>:<hex HMAC>" or a bare hex HMAC,
// where the namespace is one or more colon-separated lower-case labels
// ([a-z0-9_-], at most 32 bytes in all) naming what the value is, e.g.
// "dc:<hmac>" for a cached decision or "sub:<hmac>" for a subject record.
// The namespace is a fixed label chosen in code; the part that comes from a
// request is the HMAC. The error wraps ErrInvalidKey and never echoes the key.
func ValidateNamespacedKey(key string) error {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		return checkKey(key)
	}
	ns := key[:i]
	if len(ns) == 0 || len(ns) > maxNamespace {
		return fmt.Errorf("localcache: %w (namespace length %d)", ErrInvalidKey, len(ns))
	}
	for j := 0; j < len(ns); j++ {
		c := ns[j]
		if c == ':' && j > 0 && ns[j-1] != ':' && j < len(ns)-1 {
			continue
		}
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("localcache: %w (bad namespace character at %d)", ErrInvalidKey, j)
		}
	}
	return checkKey(key[i+1:])
}

// ValidateTenant accepts the tenant ids the service issues: lower-case slugs
// of 1 to 64 characters, [a-z0-9][a-z0-9._-]*.
func ValidateTenant(id string) error {
	if n := len(id); n == 0 || n > 64 {
		return fmt.Errorf("localcache: %w (length %d)", ErrInvalidTenant, n)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("localcache: %w (bad character at %d)", ErrInvalidTenant, i)
		}
	}
	return nil
}

// ValidateTTL reports whether ttl is positive, the only time to live the
// stores accept, so that another tier (adapters/rediscache) can check a
// whole batch of writes before making any of them. The error wraps
// ErrInvalidTTL.
func ValidateTTL(ttl time.Duration) error { return checkTTL(ttl) }

// checkTTL rejects non-positive durations.
func checkTTL(ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("localcache: ttl %v: %w", ttl, ErrInvalidTTL)
	}
	return nil
}

// deadline returns now+d in Unix nanoseconds, saturating instead of
// overflowing for very long durations.
func deadline(now int64, d time.Duration) int64 {
	exp := now + int64(d)
	if exp < now {
		return math.MaxInt64
	}
	return exp
}
