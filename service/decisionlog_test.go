package service

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/service/logentry"
)

// recordingLog wraps the real log and keeps the entries it was given.
type recordingLog struct {
	inner   DecisionLog
	entries []*logentry.Entry
}

func (r *recordingLog) Append(ctx context.Context, e *logentry.Entry) (uint64, bool, error) {
	r.entries = append(r.entries, e)
	return r.inner.Append(ctx, e)
}

func TestDecisionsAreLogged(t *testing.T) {
	ctx := context.Background()
	l, err := decisionlog.Open(ctx, decisionlog.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	rec := &recordingLog{inner: l}
	e := newTestEnvWith(t, func(_ *testEnv, o *Options) { o.DecisionLog = rec })

	bodies := []string{
		`{"jurisdiction":"DE","declared":{"birth_date":"2012-05-01"},"signals":[{"type":"underage_likelihood","score":0.9}],"context":{"device_ref":"d","subject_ref":"s","nonce":"n"}}`,
		`{"jurisdiction":"US-UT","declared":{"age":30}}`,
	}
	for i, b := range bodies {
		_, out := e.post(t, b)
		r := decodeResponse(t, out)
		if r.LogIndex == nil || *r.LogIndex != uint64(i) {
			t.Errorf("decision %d: log_index %v", i, r.LogIndex)
		}
		got := rec.entries[i]
		if err := got.Validate(); err != nil {
			t.Errorf("entry %d does not validate: %v", i, err)
		}
		if got.DecisionID != r.DecisionID || got.AttestationSHA256 != logentry.AttestationDigest([]byte(r.Attestation)) ||
			got.Decision != string(r.Decision) || got.Band != string(r.AgeBand) || got.Policy.Hash != r.Policy.Hash {
			t.Errorf("entry %d does not match its response: %+v", i, got)
		}
		if len(got.Rules) != len(r.Reasons) {
			t.Errorf("entry %d rules %v vs reasons %v", i, got.Rules, r.Reasons)
		}
	}
	if e0 := rec.entries[0]; e0.Age != 14 || e0.Signals["underage_likelihood"] != 0.9 || e0.Stage != "signup" {
		t.Errorf("entry 0 lacks what a replay needs: %+v", e0)
	}
}

type failingLog struct{}

func (failingLog) Append(context.Context, *logentry.Entry) (uint64, bool, error) {
	return 0, false, errors.New("disk full")
}

// TestDecisionWithheldWhenLogFails: a decision the log cannot record is not
// issued; the caller gets a 503 it can retry, never an unlogged decision.
func TestDecisionWithheldWhenLogFails(t *testing.T) {
	e := newTestEnvWith(t, func(_ *testEnv, o *Options) { o.DecisionLog = failingLog{} })
	resp, body := e.post(t, `{"jurisdiction":"DE","declared":{"age":20}}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(string(body), CodeLogUnavailable) || strings.Contains(string(body), "attestation") {
		t.Errorf("body %s", body)
	}
	if got := metricValue(t, e, "ageassure_decision_log_errors_total"); got != "1" {
		t.Errorf("log errors metric = %q", got)
	}
}
