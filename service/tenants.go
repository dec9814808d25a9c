package service

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Tenant is a platform calling the API. Its id is the audience of every
// attestation issued to it.
type Tenant struct {
	ID string `yaml:"id"`
	// KeySHA256 is the hex SHA-256 of the tenant's API key: the key itself is
	// never stored, so a leaked tenants file grants no access.
	KeySHA256 string `yaml:"key_sha256"`
	// RateLimit, when set, bounds the tenant's request rate across all
	// replicas (GCRA): Rate requests per Period, with bursts up to Burst.
	RateLimit *RateLimit `yaml:"rate_limit"`
}

// RateLimit is a tenant's allowance: Rate requests per Period on average,
// Burst at once.
type RateLimit struct {
	Rate   int           `yaml:"rate"`
	Burst  int           `yaml:"burst"`
	Period time.Duration `yaml:"period"`
}

// Tenants maps API-key digests to tenants. It is immutable once built.
type Tenants struct {
	byDigest map[[sha256.Size]byte]Tenant
}

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ErrInvalidTenants reports a tenants list the service must not start with.
var ErrInvalidTenants = errors.New("invalid tenants")

// NewTenants validates a tenant list: ids are lower-case slugs (they become
// JWT audiences), digests are 64 hex digits, and neither repeats.
func NewTenants(list []Tenant) (*Tenants, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: no tenants", ErrInvalidTenants)
	}
	t := &Tenants{byDigest: make(map[[sha256.Size]byte]Tenant, len(list))}
	ids := make(map[string]bool, len(list))
	for i, tn := range list {
		if !tenantIDPattern.MatchString(tn.ID) {
			return nil, fmt.Errorf("%w: tenant %d: id %q must match %s", ErrInvalidTenants, i+1, tn.ID, tenantIDPattern)
		}
		raw, err := hex.DecodeString(strings.ToLower(tn.KeySHA256))
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("%w: tenant %q: key_sha256 must be 64 hex digits (the SHA-256 of the API key)", ErrInvalidTenants, tn.ID)
		}
		var d [sha256.Size]byte
		copy(d[:], raw)
		if ids[tn.ID] {
			return nil, fmt.Errorf("%w: tenant %q appears twice", ErrInvalidTenants, tn.ID)
		}
		if _, dup := t.byDigest[d]; dup {
			return nil, fmt.Errorf("%w: tenant %q: key_sha256 is already used by another tenant", ErrInvalidTenants, tn.ID)
		}
		if l := tn.RateLimit; l != nil {
			if l.Period == 0 {
				l.Period = time.Second
			}
			if l.Burst == 0 {
				l.Burst = l.Rate
			}
			if l.Rate <= 0 || l.Burst <= 0 || l.Period <= 0 {
				return nil, fmt.Errorf("%w: tenant %q: rate_limit needs a positive rate, burst and period", ErrInvalidTenants, tn.ID)
			}
		}
		ids[tn.ID] = true
		tn.KeySHA256 = hex.EncodeToString(raw)
		t.byDigest[d] = tn
	}
	return t, nil
}

// LoadTenantsFile reads a YAML list of tenants. Unknown fields are errors:
// a misspelt field must not silently drop a setting.
func LoadTenantsFile(path string) (*Tenants, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tenants file %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var list []Tenant
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("tenants file %s: %w: %s", path, ErrInvalidTenants, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	t, err := NewTenants(list)
	if err != nil {
		return nil, fmt.Errorf("tenants file %s: %w", path, err)
	}
	return t, nil
}

// Lookup finds the tenant for an API key. Only the key's digest is
// compared, so the lookup time says nothing useful about the key.
//
// The key is copied to a stack buffer for hashing: converting a string
// longer than 32 bytes to []byte would allocate on every request.
func (t *Tenants) Lookup(apiKey string) (Tenant, bool) {
	var buf [128]byte
	tn, ok := t.byDigest[sha256.Sum256(append(buf[:0], apiKey...))]
	return tn, ok
}

// Len is the number of tenants.
func (t *Tenants) Len() int { return len(t.byDigest) }

// DevTenant makes a single development tenant with a fresh random API key.
// The key is returned once for the operator to copy; only its digest is
// kept.
func DevTenant(id string) (apiKey string, tenants *Tenants, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("generating a development API key: %w", err)
	}
	apiKey = "aa_dev_" + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(apiKey))
	tenants, err = NewTenants([]Tenant{{ID: id, KeySHA256: hex.EncodeToString(sum[:])}})
	return apiKey, tenants, err
}
