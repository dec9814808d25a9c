package service

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMetricsElsewhere: with MetricsElsewhere the API answers /metrics
// with a 404 problem (they name tenants), and MetricsHandler serves them.
func TestMetricsElsewhere(t *testing.T) {
	e := newTestEnvWith(t, func(_ *testEnv, o *Options) { o.MetricsElsewhere = true })
	decisionOf(t, e, `{"jurisdiction":"DE","declared":{"age":25}}`)
	resp, body := e.do(t, "GET", "/metrics", "", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
		t.Errorf("API /metrics: %d %s", resp.StatusCode, body)
	}
	rec := httptest.NewRecorder()
	e.svc.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `ageassure_decisions_total{decision="allow"`) {
		t.Errorf("metrics handler: %d %.300s", rec.Code, rec.Body.String())
	}
}
