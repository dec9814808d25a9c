package service

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

const benchBody = `{"jurisdiction":"DE","declared":{"birth_date":"2012-05-01"},"signals":[{"type":"underage_likelihood","score":0.31},{"type":"user_reports","count":1}],"context":{"stage":"signup","device_ref":"device-123","nonce":"nonce-abc"}}`

// BenchmarkDecide measures one decision in process: decode and validate the
// body, evaluate the policy, sign the attestation.
func BenchmarkDecide(b *testing.B) {
	e := newTestEnv(b)
	tenant := Tenant{ID: "acme"}
	body := []byte(benchBody)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.decide(ctx, tenant, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandler adds the HTTP layer (routing, auth, metrics, response
// encoding) without a network.
func BenchmarkHandler(b *testing.B) {
	e := newTestEnv(b)
	e.svc.access = false
	h := e.svc.Handler()
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/age-checks", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
