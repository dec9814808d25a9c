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

// TestNoIdentityDataRetained sends unique canary values in every identifying
// field and then searches everything the service keeps or emits outside
// the response: logs at debug level with access logging on, the device
// memory (keys and values), and the metrics.
func TestNoIdentityDataRetained(t *testing.T) {
	e := newTestEnv(t)
	device := "canary-device-7f3a9c2e"
	subject := "canary-subject-51be0d44"
	nonce := "canary-nonce-c0ffee99"
	birth := "1987-03-17"
	bodies := []string{
		fmt.Sprintf(`{"jurisdiction":"DE","declared":{"birth_date":%q},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q}}`, birth, device, subject, nonce),
		fmt.Sprintf(`{"jurisdiction":"DE","declared":{"age":9},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q}}`, device, subject, nonce),
		// Failing requests must not leak either (errors are logged too).
		fmt.Sprintf(`{"jurisdiction":"ZZ","declared":{"birth_date":%q},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q}}`, birth, device, subject, nonce),
		fmt.Sprintf(`{"jurisdiction":"DE","declared":{"birth_date":%q},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q},"evidence":[]}`, birth, device, subject, nonce),
	}
	for _, b := range bodies {
		resp, out := e.post(t, b)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d: %s", resp.StatusCode, out)
		}
		// The response may echo the nonce inside the signed attestation (the
		// caller asked for that), but never the device, subject or birth date.
		for _, c := range []string{device, subject, birth} {
			if strings.Contains(string(out), c) {
				t.Errorf("response contains %q", c)
			}
		}
	}
	if e.devices.Len() == 0 {
		t.Fatal("device memory is empty: the test would prove nothing")
	}

	var stored []string
	e.devices.Range(func(key string, age int, expires time.Time) bool {
		stored = append(stored, key, fmt.Sprint(age), expires.String())
		return true
	})
	_, metrics := e.do(t, "GET", "/metrics", "", nil)
	places := map[string]string{
		"logs":          e.logs.String(),
		"device memory": strings.Join(stored, "\n"),
		"metrics":       string(metrics),
	}
	if !strings.Contains(places["logs"], `"route":"/v1/age-checks"`) {
		t.Fatal("no access log lines captured: the test would prove nothing")
	}
	for where, text := range places {
		for _, c := range []string{device, subject, nonce, birth} {
			for _, form := range canaryForms(c) {
				if strings.Contains(text, form) {
					t.Errorf("%s contains canary %q (as %q)", where, c, form)
				}
			}
		}
	}
}
