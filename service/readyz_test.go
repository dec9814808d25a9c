package service

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReadyGates: a dependency the service cannot decide without (the
// decision log) makes /readyz answer 503 "unready" with its state while it
// is not ready, and ready again when it recovers; draining still wins.
func TestReadyGates(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	e := newTestEnvWith(t, func(_ *testEnv, o *Options) {
		o.ReadyGates = map[string]ReadyGate{"decision_log": func() (string, bool) {
			if healthy.Load() {
				return "ok", true
			}
			return "unwritable", false
		}}
	})
	steps := []struct {
		name    string
		healthy bool
		drain   bool
		status  int
		want    []string
	}{
		{"healthy", true, false, http.StatusOK, []string{`"status":"ready"`, `"decision_log":"ok"`}},
		{"log unwritable", false, false, http.StatusServiceUnavailable, []string{`"status":"unready"`, `"decision_log":"unwritable"`}},
		{"log recovered", true, false, http.StatusOK, []string{`"status":"ready"`, `"decision_log":"ok"`}},
		{"unwritable and draining", false, true, http.StatusServiceUnavailable, []string{`"status":"draining"`, `"decision_log":"unwritable"`}},
	}
	for _, st := range steps {
		healthy.Store(st.healthy)
		if st.drain {
			e.svc.Drain()
		}
		resp, body := e.do(t, "GET", "/readyz", "", nil)
		if resp.StatusCode != st.status {
			t.Errorf("%s: status %d, want %d: %s", st.name, resp.StatusCode, st.status, body)
		}
		for _, w := range st.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: body %s lacks %s", st.name, body, w)
			}
		}
	}
}
