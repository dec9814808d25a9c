package service

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-json-experiment/json"
	"github.com/google/go-cmp/cmp"

	"github.com/ageassure/ageassure/adapters/rediscache"
	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/policy"
)

// metricValue reads one series from /metrics ("" if absent).
func metricValue(t *testing.T, e *testEnv, series string) string {
	t.Helper()
	_, body := e.do(t, "GET", "/metrics", "", nil)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, series+" ") {
			return strings.TrimPrefix(line, series+" ")
		}
	}
	return ""
}

// stable drops what legitimately differs between two answers to the same
// check: the decision id, the attestation and its expiry.
func stable(r CheckResponse) CheckResponse {
	r.DecisionID, r.Attestation, r.ExpiresAt = "", "", ""
	return r
}

func TestDecisionCacheServesIdenticalDecisions(t *testing.T) {
	bodies := []string{
		`{"jurisdiction":"DE","declared":{"birth_date":"2012-05-01"}}`,
		`{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"underage_likelihood","score":0.91},{"type":"user_reports","count":3}]}`,
		`{"jurisdiction":"US-UT","declared":{"age":15}}`,
		`{"jurisdiction":"AU","declared":{"age":15}}`,
		`{"jurisdiction":"MX","declared":{"age":40},"context":{"stage":"reassessment"}}`,
		`{"jurisdiction":"GB","declared":{"age":16}}`,
	}
	e := newTestEnv(t)
	for i, b := range bodies {
		_, first := e.post(t, b)
		_, second := e.post(t, b)
		r1, r2 := decodeResponse(t, first), decodeResponse(t, second)
		if diff := cmp.Diff(stable(r1), stable(r2)); diff != "" {
			t.Errorf("body %d: cached answer differs (-first +second):\n%s", i, diff)
		}
		if r1.DecisionID == r2.DecisionID || r1.Attestation == r2.Attestation {
			t.Errorf("body %d: a cached decision must still get a fresh id and attestation", i)
		}
	}
	if got := metricValue(t, e, `ageassure_decision_cache_requests_total{result="hit"}`); got != "6" {
		t.Errorf("cache hits = %q, want 6", got)
	}
	if got := metricValue(t, e, `ageassure_decision_cache_requests_total{result="miss"}`); got != "6" {
		t.Errorf("cache misses = %q, want 6", got)
	}
}

// TestDecisionCacheNeverCrossesPolicies: after a policy change the old
// policy's cached decision is not served.
func TestDecisionCacheNeverCrossesPolicies(t *testing.T) {
	e := newTestEnv(t)
	body := `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"underage_likelihood","score":0.85}]}`
	_, b := e.post(t, body)
	if r := decodeResponse(t, b); r.Decision != policy.AdditionalVerificationRequired {
		t.Fatalf("built-in policy: %s", r.Decision)
	}

	// The same policy with a higher risk threshold: 0.85 no longer escalates.
	dir := t.TempDir()
	packs, _ := filepath.Glob("../policy/packs/*.yaml")
	for _, p := range packs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.Replace(string(data), "underage_likelihood_threshold: 0.8", "underage_likelihood_threshold: 0.9", 1))
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pol, err := policy.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pol.Hash() == e.svc.Policy().Hash() {
		t.Fatal("edited policy has the same hash")
	}
	e.svc.SetPolicy(pol)
	_, b = e.post(t, body)
	r := decodeResponse(t, b)
	if r.Decision != policy.Allow || r.Policy.Hash != pol.Hash() {
		t.Errorf("after the policy change: %s under %s, want allow under %s", r.Decision, r.Policy.Hash, pol.Hash())
	}
}

func (e *testEnv) subjectKey(ref string) string {
	return nsSubject + e.svc.keyRef(e.tenant, "subject", ref)
}

// storeSubject remembers rec under key until expires (as evidence
// verification will record it), the way a check remembers a subject.
func (e *testEnv) storeSubject(t testing.TB, key string, rec subjectRecord, expires time.Time) {
	t.Helper()
	entry, ok := e.svc.subjectEntry(context.Background(), key, rec, expires, e.clock.Now())
	if !ok {
		t.Fatal("subject record not encoded, or already expired")
	}
	e.svc.remember(context.Background(), declaration{}, []cacheEntry{entry})
}

func TestSubjectReuse(t *testing.T) {
	t.Run("in-process", func(t *testing.T) { subjectReuseScenario(t, newTestEnv(t)) })
	t.Run("redis", func(t *testing.T) {
		srv := redistest.New(t)
		subjectReuseScenario(t, newReplicas(t, 1, rediscache.Config{URL: srv.URL, Prefix: srv.Prefix}, nil).envs[0])
	})
}

// subjectReuseScenario: stronger earlier assurance decides until
// reassess_at, judged by the service's clock (not the store's TTL).
func subjectReuseScenario(t *testing.T, e *testEnv) {
	// An earlier enhanced check (as evidence verification will record):
	// 14 years old until 2027-03-01.
	e.storeSubject(t, e.subjectKey("acct-1"), subjectRecord{
		AgeMin: 14, AgeMax: 14, Band: "13_15", Level: AssuranceEnhanced, Methods: []string{"id_document"}, ReassessAt: "2027-03-01",
	}, time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC))

	// A declaration consistent with it: the enhanced assurance is re-used.
	_, b := e.post(t, `{"jurisdiction":"DE","declared":{"age":14},"context":{"subject_ref":"acct-1"}}`)
	r := decodeResponse(t, b)
	if r.Decision != policy.ParentalConsentRequired || r.AgeBand != policy.Band13To15 {
		t.Errorf("with enhanced assurance of 14, a declared 14 gives %s/%s", r.Decision, r.AgeBand)
	}
	if r.Assurance.Level != AssuranceEnhanced || len(r.Reasons) == 0 || r.Reasons[0].Rule != ReasonAssuranceReused {
		t.Errorf("assurance %+v, reasons %+v: re-use not reported", r.Assurance, r.Reasons)
	}

	// A declaration contradicting it: the verified age still decides the
	// band, and the contradiction is escalated, naming both claims.
	body := `{"jurisdiction":"DE","declared":{"age":25},"context":{"subject_ref":"acct-1"}}`
	_, b = e.post(t, body)
	r = decodeResponse(t, b)
	if r.Decision != policy.AdditionalVerificationRequired || r.AgeBand != policy.Band13To15 || r.Assurance.Level != AssuranceEnhanced {
		t.Errorf("with enhanced assurance of 14, a declared 25 gives %s/%s/%s", r.Decision, r.AgeBand, r.Assurance.Level)
	}
	if !slices.ContainsFunc(r.Reasons, func(x Reason) bool {
		return x.Rule == "de.evidence-contradiction" && strings.Contains(x.Message, "reused_assurance")
	}) {
		t.Errorf("contradiction with the re-used assurance not reported: %+v", r.Reasons)
	}

	// Another subject, or another tenant's subject with the same ref, is not
	// affected.
	_, b = e.post(t, `{"jurisdiction":"DE","declared":{"age":25},"context":{"subject_ref":"acct-2"}}`)
	if r := decodeResponse(t, b); r.Decision != policy.Allow || r.Assurance.Level != AssuranceAsserted {
		t.Errorf("unrelated subject: %s %s", r.Decision, r.Assurance.Level)
	}

	// On reassess_at the record no longer applies: the declaration decides
	// alone. (It repeats the 14 declared above: a higher age would be a hop
	// from it while Redis, on real time, still holds the account's window.)
	e.clock.Advance(time.Date(2027, 3, 1, 1, 0, 0, 0, time.UTC).Sub(fixedNow))
	_, b = e.post(t, `{"jurisdiction":"DE","declared":{"age":14},"context":{"subject_ref":"acct-1"}}`)
	if r := decodeResponse(t, b); r.Decision != policy.ParentalConsentRequired || r.Assurance.Level != AssuranceAsserted ||
		slices.ContainsFunc(r.Reasons, func(x Reason) bool { return x.Rule == ReasonAssuranceReused }) {
		t.Errorf("after reassess_at: %s %s %+v, want parental_consent_required asserted, nothing re-used", r.Decision, r.Assurance.Level, r.Reasons)
	}
}

// TestSubjectRecordHoldsDerivedDataOnly: what is remembered for a subject is
// a whole-year age, band, assurance and the re-assessment date, which is
// the birthday on which the next known age is reached, not the birth date.
func TestSubjectRecordHoldsDerivedDataOnly(t *testing.T) {
	e := newTestEnv(t)
	e.post(t, `{"jurisdiction":"DE","declared":{"birth_date":"2012-05-01"},"context":{"subject_ref":"acct-9"}}`)
	b, ok, err := e.cache.Get(context.Background(), e.subjectKey("acct-9"))
	if err != nil || !ok {
		t.Fatalf("no subject record: %v", err)
	}
	var rec subjectRecord
	if err := cbor.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	want := subjectRecord{AgeMin: 14, AgeMax: 14, Band: "13_15", Level: AssuranceAsserted, Methods: []string{MethodSelfDeclaration}, ReassessAt: "2027-05-01"}
	if diff := cmp.Diff(want, rec, cmp.AllowUnexported(subjectRecord{})); diff != "" {
		t.Errorf("subject record (-want +got):\n%s", diff)
	}
	if strings.Contains(string(b), "2012") {
		t.Error("the record contains the birth year")
	}
	js, _ := json.Marshal(rec)
	t.Logf("record: %d bytes CBOR, %s", len(b), js)
}

func TestReassessAt(t *testing.T) {
	known := []int{13, 14, 15, 16, 18}
	d := func(s string) policy.Date {
		x, err := policy.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name  string
		age   int
		birth string // "" = declared age only
		today string
		want  string // "" = none
	}{
		{"birth date: next birthday", 14, "2012-05-01", "2026-11-26", "2027-05-01"},
		{"birth date: skips to next known age", 16, "2010-01-10", "2026-11-26", "2028-01-10"},
		{"birth date: leap day in a common year", 12, "2012-02-29", "2024-06-01", "2025-03-01"},
		{"birth date: leap day in a leap year", 15, "2012-02-29", "2027-06-01", "2028-02-29"},
		{"birth date: over every known age", 30, "1996-01-01", "2026-11-26", ""},
		{"declared: next year of age may start tomorrow", 12, "", "2026-11-26", "2026-11-27"},
		{"declared: two years to the next known age", 16, "", "2026-11-26", "2027-11-27"},
		{"declared: on 29 February", 12, "", "2028-02-29", "2028-03-01"},
		{"declared: over every known age", 40, "", "2026-11-26", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var birth *policy.Date
			if tt.birth != "" {
				b := d(tt.birth)
				birth = &b
				if got := policy.AgeOn(b, d(tt.today)); got != tt.age {
					t.Fatalf("bad case: age on %s is %d", tt.today, got)
				}
			}
			got := reassessAt(known, tt.age, birth, d(tt.today))
			gotS := ""
			if got != (policy.Date{}) {
				gotS = got.String()
			}
			if gotS != tt.want {
				t.Errorf("reassessAt = %q, want %q", gotS, tt.want)
			}
		})
	}
}
