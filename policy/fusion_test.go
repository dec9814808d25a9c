package policy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func accepted(e Evidence) Evidence {
	e.Outcome = OutcomeAccepted
	return e
}

// TestFusion walks the combinations the README promises: buffers around
// estimates, stronger evidence deciding, contradictions escalating, a
// verified under-age denying, consent turning consent-required into allow,
// and unverifiable evidence counting as absent.
func TestFusion(t *testing.T) {
	p, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	estimate := func(e, u float64, liveness bool) Evidence {
		return accepted(Evidence{Type: EvidenceAgeEstimation, Estimate: ptr(e), Uncertainty: u, Liveness: liveness})
	}
	tests := []struct {
		name     string
		jur      string
		declared int
		evidence []Evidence
		signals  map[string]float64

		decision Decision
		band     Band
		level    string
		rules    []string // must all be among the reasons
		noRules  []string // must not be
		met      map[int]bool
		unknown  []int // thresholds the evidence cannot settle
	}{
		{
			name: "estimate clears 13 with buffer and uncertainty (19.2 +/- 2.1, buffer 2)", jur: "US", declared: 19,
			evidence: []Evidence{estimate(19.2, 2.1, false)},
			decision: Allow, band: BandUnknown, level: LevelStandard, rules: []string{"us.of-age"},
			met: map[int]bool{13: true}, unknown: []int{16, 18},
		},
		{
			name: "the same estimate cannot settle Germany's 16", jur: "DE", declared: 19,
			evidence: []Evidence{estimate(19.2, 2.1, false)},
			decision: AdditionalVerificationRequired, band: BandUnknown, level: LevelStandard, rules: []string{"de.age-inconclusive"},
		},
		{
			name: "estimate inside the buffer at the minimum is inconclusive", jur: "US", declared: 14,
			evidence: []Evidence{estimate(14.5, 1, false)},
			decision: AdditionalVerificationRequired, level: LevelStandard, rules: []string{"us.age-inconclusive"}, unknown: []int{13},
		},
		{
			name: "declared 25 with an estimate that fails 13 escalates, naming both", jur: "US", declared: 25,
			evidence: []Evidence{estimate(8, 1, false)},
			decision: AdditionalVerificationRequired, level: LevelStandard,
			rules: []string{"us.evidence-contradiction"}, noRules: []string{"us.minimum-age"},
			met: map[int]bool{13: false},
		},
		{
			name: "a consistent under-age estimate denies", jur: "US", declared: 11,
			evidence: []Evidence{estimate(9, 1, false)},
			decision: Deny, band: BandUnder13, level: LevelStandard, rules: []string{"us.minimum-age"},
		},
		{
			name: "verified under the minimum denies whatever was declared", jur: "DE", declared: 25,
			evidence: []Evidence{accepted(Evidence{Type: EvidenceIDDocument, Age: ptr(12)})},
			decision: Deny, band: BandUnder13, level: LevelEnhanced, rules: []string{"de.minimum-age", "de.evidence-contradiction"},
		},
		{
			name: "verified adult document decides over a younger declaration", jur: "FR", declared: 16,
			evidence: []Evidence{accepted(Evidence{Type: EvidenceIDDocument, Age: ptr(30)})},
			decision: AdditionalVerificationRequired, band: Band18Plus, level: LevelEnhanced, rules: []string{"fr.of-age", "fr.evidence-contradiction"},
		},
		{
			name: "credential age_over_18 settles every lower age", jur: "GB", declared: 30,
			evidence: []Evidence{accepted(Evidence{Type: EvidenceDigitalCredential, Over: map[int]bool{18: true}})},
			decision: Allow, band: Band18Plus, level: LevelEnhanced, rules: []string{"gb.of-age"},
			met: map[int]bool{13: true, 16: true, 18: true},
		},
		{
			name: "credential age_over_18 false with a 13 minimum leaves 13 open", jur: "US", declared: 15,
			evidence: []Evidence{accepted(Evidence{Type: EvidenceDigitalCredential, Over: map[int]bool{18: false}})},
			decision: AdditionalVerificationRequired, level: LevelEnhanced, rules: []string{"us.age-inconclusive"},
			met: map[int]bool{18: false}, unknown: []int{13},
		},
		{
			name: "parental consent turns consent-required into allow", jur: "DE", declared: 14,
			evidence: []Evidence{accepted(Evidence{Type: EvidenceParentalConsent, Consent: true})},
			decision: Allow, band: Band13To15, level: LevelAsserted, rules: []string{"de.parental-consent-given"}, noRules: []string{"de.digital-consent-age"},
		},
		{
			name: "consent does not let an under-minimum child in", jur: "DE", declared: 11,
			evidence: []Evidence{accepted(Evidence{Type: EvidenceParentalConsent, Consent: true})},
			decision: Deny, rules: []string{"de.minimum-age"},
		},
		{
			name: "OS range 13-15 decides over the declaration", jur: "DE", declared: 14,
			evidence: []Evidence{accepted(Evidence{Type: EvidencePlatformAgeRange, Lower: 13, Upper: 15, Source: RangeGuardianDeclared})},
			decision: ParentalConsentRequired, band: Band13To15, level: LevelAsserted,
		},
		{
			name: "OS range 13-15 contradicting a declared 25 escalates", jur: "US", declared: 25,
			evidence: []Evidence{accepted(Evidence{Type: EvidencePlatformAgeRange, Lower: 13, Upper: 15, Source: RangeSelfDeclared})},
			decision: AdditionalVerificationRequired, band: Band13To15, rules: []string{"us.evidence-contradiction"},
		},
		{
			name: "unverifiable evidence counts as absent", jur: "US", declared: 30,
			evidence: []Evidence{{Type: EvidenceIDDocument, Outcome: OutcomeUnverifiable, Reason: "evidence_unverifiable", Age: ptr(9)}},
			decision: Allow, band: Band18Plus, level: LevelAsserted,
		},
		{
			name: "liveness earns enhanced", jur: "US", declared: 40,
			evidence: []Evidence{estimate(40, 3, true)},
			decision: Allow, level: LevelEnhanced,
		},
		{
			name: "risk signals do not override stronger evidence", jur: "US", declared: 40,
			evidence: []Evidence{estimate(40, 3, false)}, signals: map[string]float64{"underage_likelihood": 0.95},
			decision: Allow, level: LevelStandard, noRules: []string{"us.risk-underage-likelihood"},
		},
		{
			name: "risk signals still escalate a bare declaration", jur: "US", declared: 40,
			signals:  map[string]float64{"underage_likelihood": 0.95},
			decision: AdditionalVerificationRequired, level: LevelAsserted, rules: []string{"us.risk-underage-likelihood"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Evaluate(Input{Jurisdiction: tt.jur, Stage: "signup", Age: tt.declared, Evidence: tt.evidence, Signals: tt.signals, Now: now})
			var ids []string
			for _, rs := range r.Reasons {
				ids = append(ids, rs.Rule)
				if strings.Contains(rs.Rule, "contradiction") && !strings.Contains(rs.Message, " vs ") {
					t.Errorf("contradiction message does not name both claims: %q", rs.Message)
				}
			}
			if r.Decision != tt.decision {
				t.Errorf("decision %s, want %s (reasons %v, fusion %+v)", r.Decision, tt.decision, ids, r.Fusion)
			}
			if tt.band != "" && r.Band != tt.band {
				t.Errorf("band %s, want %s", r.Band, tt.band)
			}
			if tt.level != "" && r.Fusion.Assurance.Level != tt.level {
				t.Errorf("level %s, want %s", r.Fusion.Assurance.Level, tt.level)
			}
			for _, want := range tt.rules {
				if !slices.Contains(ids, want) {
					t.Errorf("reasons %v lack %s", ids, want)
				}
			}
			for _, not := range tt.noRules {
				if slices.Contains(ids, not) {
					t.Errorf("reasons %v include %s", ids, not)
				}
			}
			for _, th := range r.Thresholds {
				if want, ok := tt.met[th.Age]; ok && (!th.Known || th.Met != want) {
					t.Errorf("threshold %d = %+v, want met=%v", th.Age, th, want)
				}
				if slices.Contains(tt.unknown, th.Age) && th.Known {
					t.Errorf("threshold %d = %+v, want unknown", th.Age, th)
				}
			}
		})
	}
}

// TestFusionBuffers: the buffer applied is the policy's plus the
// provider's uncertainty, per threshold, and is reported.
func TestFusionBuffers(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, `
id: buffers
thresholds: [13, 18]
fusion:
  buffers:
    age_estimation: {default: 2, "18": 5}
default:
  timezone: UTC
  periods: [{effective_from: 2000-01-01, minimum_age: 13, consent_age: 13, citation: c}]
rules:
  - {id: over-18, decision: allow, when: "age_min >= 18", message: m, citation: c}
  - {id: not-over-18, decision: deny, when: "age_min < 18", message: m, citation: c}
`)
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Jurisdiction: "BR", Age: 30, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Evidence: []Evidence{accepted(Evidence{Type: EvidenceAgeEstimation, Estimate: ptr(22.5), Uncertainty: 0.5})}}
	r := p.Evaluate(in)
	if got := r.Fusion.Assurance.Buffers; got[13] != 2.5 || got[18] != 5.5 {
		t.Errorf("buffers %v, want 13: 2.5, 18: 5.5", got)
	}
	// 22.5 - 5.5 = 17 < 18: not settled at 18 with the larger buffer.
	if r.Decision != Deny || r.Fusion.AgeMin != 13 {
		t.Errorf("decision %s, age_min %d; want deny (not shown to be 18), 13", r.Decision, r.Fusion.AgeMin)
	}
	in.Evidence[0].Estimate = ptr(23.5)
	if r := p.Evaluate(in); r.Decision != Allow || r.Fusion.AgeMin != 18 {
		t.Errorf("23.5 +/- 5.5: decision %s, age_min %d; want allow, 18", r.Decision, r.Fusion.AgeMin)
	}
}

func TestFusionLoadErrors(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{"fusion: {buffers: {id_document: {default: 1}}}", "only age_estimation has a buffer"},
		{"fusion: {buffers: {age_estimation: {default: -1}}}", "outside 0..20"},
		{"fusion: {buffers: {age_estimation: {teen: 1}}}", "neither default nor an age"},
		{"fusion: {levels: {age_estimation: great}}", "not an IEEE 2089.1 level"},
		{"fusion: {levels: {palm_reading: strict}}", "unknown method"},
		{"fusion: {buffer: 2}", "unknown field"},
	} {
		dir := t.TempDir()
		writePolicy(t, dir, "id: x\ndefault:\n  timezone: UTC\n  periods: [{effective_from: 2000-01-01, citation: c}]\nrules:\n  - {id: r, decision: allow, when: 'true', message: m, citation: c}\n"+tt.body+"\n")
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.body, err, tt.want)
		}
	}
}

// writePolicy writes one policy file into dir.
func writePolicy(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
