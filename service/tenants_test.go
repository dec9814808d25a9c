package service

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestTenantsLookupKeyLengths: Lookup finds a tenant by any length of key,
// below, at and beyond its stack buffer, and no other key matches.
func TestTenantsLookupKeyLengths(t *testing.T) {
	for _, n := range []int{1, 31, 32, 33, 64, 127, 128, 129, 300, 5000} {
		key := strings.Repeat("k", n)
		sum := sha256.Sum256([]byte(key))
		tenants, err := NewTenants([]Tenant{{ID: "acme", KeySHA256: hex.EncodeToString(sum[:])}})
		if err != nil {
			t.Fatal(err)
		}
		if tn, ok := tenants.Lookup(key); !ok || tn.ID != "acme" {
			t.Errorf("%d-byte key: Lookup = %+v, %v", n, tn, ok)
		}
		for _, other := range []string{"", key[1:], key + "k", strings.ToUpper(key)} {
			if _, ok := tenants.Lookup(other); ok {
				t.Errorf("%d-byte key: Lookup(%d-byte other key) matched", n, len(other))
			}
		}
	}
}
