package service

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service/logentry"
)

// candidatePolicy is the built-in policy with one edit applied to its text.
func candidatePolicy(t *testing.T, old, new string) *policy.Policy {
	t.Helper()
	dir := t.TempDir()
	packs, _ := filepath.Glob("../policy/packs/*.yaml")
	for _, p := range packs {
		if strings.HasSuffix(p, "_test.yaml") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.Replace(string(data), old, new, 1))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := policy.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestShadowPolicy: callers get the active decision; the candidate's
// disagreements are counted from→to and marked in the decision log.
func TestShadowPolicy(t *testing.T) {
	// The candidate raises Germany's consent age to 18 — as a change a
	// trust-and-safety team might trial.
	cand := candidatePolicy(t, "consent_age: 16\n        legal_status: in_force\n        citation: \"GDPR Art. 8(1); no derogation\"",
		"consent_age: 18\n        legal_status: in_force\n        citation: \"GDPR Art. 8(1); no derogation\"")
	log := &recordingLog{inner: nopLog{}}
	e := newTestEnvWith(t, func(_ *testEnv, o *Options) { o.ShadowPolicy = cand; o.DecisionLog = log })

	bodies := map[string]policy.Decision{
		`{"jurisdiction":"DE","declared":{"age":17}}`: policy.Allow,                   // shadow: parental consent
		`{"jurisdiction":"DE","declared":{"age":16}}`: policy.Allow,                   // shadow: parental consent
		`{"jurisdiction":"DE","declared":{"age":30}}`: policy.Allow,                   // agree
		`{"jurisdiction":"FR","declared":{"age":14}}`: policy.ParentalConsentRequired, // agree
	}
	for b, want := range bodies {
		_, out := e.post(t, b)
		if got := decodeResponse(t, out).Decision; got != want {
			t.Errorf("%s: caller got %s, want the active decision %s", b, got, want)
		}
	}
	if got := metricValue(t, e, `ageassure_shadow_disagreements_total{from="allow",to="parental_consent_required"}`); got != "2" {
		t.Errorf("disagreements allow→parental_consent_required = %q, want 2", got)
	}
	if got := metricValue(t, e, "ageassure_shadow_agreements_total"); got != "2" {
		t.Errorf("agreements = %q, want 2", got)
	}
	marked := 0
	for _, en := range log.entries {
		if en.Shadow == nil || en.Shadow.PolicyHash != cand.Hash() {
			t.Fatalf("entry without the shadow outcome: %+v", en)
		}
		if en.Shadow.Decision != en.Decision {
			marked++
		}
	}
	if marked != 2 {
		t.Errorf("%d entries mark a disagreement, want 2", marked)
	}

	_, body := e.do(t, "GET", "/v1/policy", "", map[string]string{"Authorization": "Bearer " + e.key})
	var info PolicyInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if info.Hash != e.svc.Policy().Hash() || info.Shadow == nil || info.Shadow.Hash != cand.Hash() || len(info.Jurisdictions) < 30 || info.LoadedAt == "" {
		t.Errorf("GET /v1/policy = %+v", info)
	}
	if resp, _ := e.do(t, "GET", "/v1/policy", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/policy without a key: %d", resp.StatusCode)
	}
}

type nopLog struct{}

func (nopLog) Append(context.Context, *logentry.Entry) (uint64, bool, error) { return 0, false, nil }
