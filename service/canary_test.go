package service

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// canaryForms are the encodings in which a leaked value would still be
// recognisable.
func canaryForms(v string) []string {
	return []string{
		v,
		hex.EncodeToString([]byte(v)),
		base64.StdEncoding.EncodeToString([]byte(v)),
		base64.RawURLEncoding.EncodeToString([]byte(v)),
	}
}

// canaries are unique values sent in every identifying field.
var canaries = struct{ device, subject, nonce, birth string }{
	"canary-device-7f3a9c2e", "canary-subject-51be0d44", "canary-nonce-c0ffee99", "1987-03-17",
}

// sendCanaries posts requests carrying the canaries (valid and invalid
// ones: errors are logged too) and checks the responses never echo the
// device, subject or birth date.
func sendCanaries(t *testing.T, e *testEnv) {
	t.Helper()
	c := canaries
	bodies := []string{
		fmt.Sprintf(`{"jurisdiction":"DE","declared":{"birth_date":%q},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q}}`, c.birth, c.device, c.subject, c.nonce),
		fmt.Sprintf(`{"jurisdiction":"DE","declared":{"age":9},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q}}`, c.device, c.subject, c.nonce),
		fmt.Sprintf(`{"jurisdiction":"ZZ","declared":{"birth_date":%q},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q}}`, c.birth, c.device, c.subject, c.nonce),
		fmt.Sprintf(`{"jurisdiction":"DE","declared":{"birth_date":%q},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q},"evidence":[]}`, c.birth, c.device, c.subject, c.nonce),
	}
	for _, b := range bodies {
		resp, out := e.post(t, b)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		// The response may echo the nonce inside the signed attestation (the
		// caller asked for that), but never the device, subject or birth date.
		for _, v := range []string{c.device, c.subject, c.birth} {
			if strings.Contains(string(out), v) {
				t.Errorf("response contains %q", v)
			}
		}
	}
}

// assertNoCanaries searches every place for every canary, in clear, hex
// and base64.
func assertNoCanaries(t *testing.T, places map[string]string) {
	t.Helper()
	for where, text := range places {
		if text == "" {
			t.Errorf("%s is empty: the search would prove nothing", where)
		}
		for _, c := range []string{canaries.device, canaries.subject, canaries.nonce, canaries.birth} {
			for _, form := range canaryForms(c) {
				if strings.Contains(text, form) {
					t.Errorf("%s contains canary %q (as %q)", where, c, form)
				}
			}
		}
	}
}

// TestNoIdentityDataRetained sends unique canary values in every identifying
// field and then searches everything the service keeps or emits outside
// the response: logs at debug level with access logging on, the device
// memory and the cache (keys and values), and the metrics.
func TestNoIdentityDataRetained(t *testing.T) {
	e := newTestEnv(t)
	sendCanaries(t, e)

	var devices, cached []string
	e.devices.Range(func(key string, age int, expires time.Time) bool {
		devices = append(devices, key, fmt.Sprint(age), expires.String())
		return true
	})
	e.cache.Range(func(key string, val []byte, expires time.Time) bool {
		cached = append(cached, key, string(val), hex.EncodeToString(val), expires.String())
		return true
	})
	_, metrics := e.do(t, "GET", "/metrics", "", nil)
	if !strings.Contains(e.logs.String(), `"route":"/v1/age-checks"`) {
		t.Fatal("no access log lines captured: the test would prove nothing")
	}
	assertNoCanaries(t, map[string]string{
		"logs":          e.logs.String(),
		"device memory": strings.Join(devices, "\n"),
		"cache":         strings.Join(cached, "\n"),
		"metrics":       string(metrics),
	})
}
