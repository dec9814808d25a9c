package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ageassure/ageassure/adapters/verifier"
	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service/logentry"
)

// memoryLog keeps the entries it is given, in order: the round-trip test
// reads back exactly what the decision path wrote.
type memoryLog struct{ entries []*logentry.Entry }

func (m *memoryLog) Append(_ context.Context, e *logentry.Entry) (uint64, bool, error) {
	m.entries = append(m.entries, e)
	return uint64(len(m.entries) - 1), true, nil
}

// TestReplayRoundTrip feeds every kind of request through the real
// decision path (real verifier, providers over loopback HTTP, device and
// subject memory, the decision cache) and replays each logged entry through
// the policy that decided: the decision, band, thresholds and policy rules
// must come back unchanged. Expectations come from the service's own
// answers, never from the mapping under test.
func TestReplayRoundTrip(t *testing.T) {
	face := newProvider(t, "faceage")
	docs := newProvider(t, "docscan")
	guardian := newProvider(t, "guardian")
	log := &memoryLog{}
	provs := []verifier.Provider{face.config("age_estimation"), docs.config("id_document"), guardian.config("parental_consent")}
	e := evidenceEnvWith(t, provs, func(o *Options) { o.DecisionLog = log })
	pol := e.svc.policy.Load().Policy

	nonce := 0
	tok := func(p *provider, claims map[string]any) (string, string) {
		nonce++
		n := fmt.Sprintf("rt-%d", nonce)
		claims["nonce"] = n
		return p.token(t, claims), n
	}
	est := func(jur string, age int, estimate, spread float64, liveness bool, ctx string) string {
		tk, n := tok(face, map[string]any{"age_estimate": estimate, "age_estimate_uncertainty": spread, "liveness": liveness})
		return body(jur, age, n, ctx, signed("age_estimation", "faceage", tk))
	}
	id := func(jur string, age int, claims map[string]any, ctx string) string {
		tk, n := tok(docs, claims)
		return body(jur, age, n, ctx, signed("id_document", "docscan", tk))
	}
	consent := func(jur string, age int, ctx string) string {
		tk, n := tok(guardian, map[string]any{"consent": true})
		return body(jur, age, n, ctx, signed("parental_consent", "guardian", tk))
	}
	osRange := func(jur string, age, lower, upper int, source string) string {
		ev := fmt.Sprintf(`{"type":"platform_age_range","lower":%d,"upper":%d,"source":%q}`, lower, upper, source)
		if upper == 0 {
			ev = fmt.Sprintf(`{"type":"platform_age_range","lower":%d,"source":%q}`, lower, source)
		}
		return body(jur, age, "", "", ev)
	}
	tests := []struct {
		name string
		body string
	}{
		{"declaration", `{"jurisdiction":"DE","declared":{"age":25}}`},
		{"birth date", `{"jurisdiction":"GB","declared":{"birth_date":"2011-03-01"}}`},
		{"under the minimum", `{"jurisdiction":"US","declared":{"age":11}}`},
		{"signals", `{"jurisdiction":"GB","declared":{"age":19},"signals":[{"type":"underage_likelihood","score":0.93},{"type":"user_reports","count":4}]}`},
		{"reassessment", `{"jurisdiction":"AU","declared":{"age":17},"context":{"stage":"reassessment"}}`},
		{"device history, minimum age", `{"jurisdiction":"US","declared":{"age":12},"context":{"device_ref":"dev-1"}}`},
		{"device hop at the minimum age", `{"jurisdiction":"US","declared":{"age":20},"context":{"device_ref":"dev-1"}}`},
		{"device history, consent age", `{"jurisdiction":"DE","declared":{"age":14},"context":{"device_ref":"dev-2"}}`},
		{"device hop at the consent age", `{"jurisdiction":"DE","declared":{"age":17},"context":{"device_ref":"dev-2"}}`},
		{"subject history", `{"jurisdiction":"DE","declared":{"age":14},"context":{"subject_ref":"acct-h"}}`},
		{"subject hop at the consent age", `{"jurisdiction":"DE","declared":{"age":17},"context":{"subject_ref":"acct-h"}}`},
		{"consent", consent("DE", 14, "")},
		{"estimate conclusive", est("US", 30, 30, 1, false, "")},
		{"estimate with liveness", est("GB", 25, 26, 1.5, true, "")},
		{"estimate inconclusive", est("DE", 16, 16, 2, false, "")},
		{"estimate contradicts", est("GB", 25, 9, 1, false, "")},
		{"ID birth date", id("DE", 20, map[string]any{"birthdate": "2010-01-15"}, "")},
		{"ID age_over", id("GB", 19, map[string]any{"age_over_18": true}, "")},
		{"ID age_over false", id("US", 30, map[string]any{"age_over_13": false}, "")},
		{"OS range verified, contradicting", osRange("GB", 19, 13, 15, "verified")},
		{"OS range open", osRange("DE", 17, 18, 0, "self_declared")},
		{"OS range straddling", osRange("DE", 15, 13, 17, "guardian_declared")},
		{"ID for a subject", id("DE", 25, map[string]any{"age_over_18": true}, `"subject_ref":"acct-r"`)},
		{"re-used assurance", `{"jurisdiction":"DE","declared":{"age":25},"context":{"subject_ref":"acct-r"}}`},
		{"re-used assurance contradicted", `{"jurisdiction":"DE","declared":{"age":12},"context":{"subject_ref":"acct-r"}}`},
		{"cached decision", `{"jurisdiction":"DE","declared":{"age":25}}`},
	}
	seen := map[policy.Decision]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(log.entries)
			resp, out := e.post(t, tt.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			r := decodeResponse(t, out)
			for _, ev := range r.Evidence {
				if ev.Type != "platform_age_range" && ev.Outcome != policy.OutcomeAccepted {
					t.Fatalf("evidence not accepted, the case tests nothing: %+v", r.Evidence)
				}
			}
			seen[r.Decision] = true
			if len(log.entries) != n+1 {
				t.Fatalf("%d entries logged, want 1", len(log.entries)-n)
			}
			entry := log.entries[n]
			if err := entry.Validate(); err != nil {
				t.Fatalf("entry does not validate: %v\n%+v", err, entry)
			}
			b, err := entry.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := logentry.Parse(b) // what a replay reads is the bytes
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, b)
			}
			in, err := ReplayInput(parsed)
			if err != nil {
				t.Fatal(err)
			}
			got := pol.Evaluate(in)
			if parsed.Pack == "" || parsed.Pack != got.Pack || parsed.Pack != r.Policy.Pack {
				t.Errorf("entry names pack %q, the response %q, replay applied %q", parsed.Pack, r.Policy.Pack, got.Pack)
			}
			if got.Decision != r.Decision || got.Band != r.AgeBand {
				t.Errorf("replay: %s/%s, served %s/%s\nentry %s", got.Decision, got.Band, r.Decision, r.AgeBand, b)
			}
			if want := policyRules(r.Reasons); !slices.Equal(ruleIDs(got.Reasons), want) {
				t.Errorf("replay rules %v, served %v\nentry %s", ruleIDs(got.Reasons), want, b)
			}
			replayed, _ := json.Marshal(thresholdSet(got.Thresholds))
			if served, _ := json.Marshal(r.AgeEqualOrOver); string(replayed) != string(served) {
				t.Errorf("replay thresholds %s, served %s", replayed, served)
			}
		})
	}
	for _, d := range []policy.Decision{policy.Allow, policy.ParentalConsentRequired, policy.AdditionalVerificationRequired, policy.Deny} {
		if !seen[d] {
			t.Errorf("no case was decided %s: the table does not cover it", d)
		}
	}
}

// body is an age check with an optional nonce, extra context members and
// evidence items.
func body(jur string, age int, nonce, ctx string, evidence ...string) string {
	var c []string
	if nonce != "" {
		c = append(c, fmt.Sprintf(`"nonce":%q`, nonce))
	}
	if ctx != "" {
		c = append(c, ctx)
	}
	return fmt.Sprintf(`{"jurisdiction":%q,"declared":{"age":%d},"evidence":[%s],"context":{%s}}`,
		jur, age, strings.Join(evidence, ","), strings.Join(c, ","))
}

// policyRules are the reasons a policy rule gave, leaving out the service's
// own notes (re-used assurance, unused evidence), which a replay does not
// produce.
func policyRules(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		if r.Decision != "" {
			out = append(out, r.Rule)
		}
	}
	return out
}

func ruleIDs(rs []policy.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Rule)
	}
	return out
}
