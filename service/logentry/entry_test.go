package logentry

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sample returns a valid entry with every optional field set.
func sample() *Entry {
	dh := 12
	return &Entry{
		V:                 1,
		DecisionID:        "019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a77",
		Time:              "2026-11-26T12:00:00Z",
		Tenant:            "acme-social",
		Jurisdiction:      "DE",
		Stage:             StageSignup,
		Age:               14,
		Band:              Band13To15,
		DeviceHistory:     &dh,
		Signals:           map[string]float64{SignalUnderageLikelihood: 0.2, SignalUserReports: 3},
		Evidence:          []EvidenceOutcome{{Type: EvidenceSelfDeclaration, Outcome: OutcomeAccepted}},
		Decision:          DecisionAdditionalVerificationRequired,
		Rules:             []string{"de.digital-consent-age", "de.anti-hopping"},
		Assurance:         Assurance{Level: AssuranceAsserted, Methods: []string{EvidenceSelfDeclaration}},
		Policy:            Policy{ID: "ageassure-builtin", Hash: "sha256:" + strings.Repeat("ab", 32)},
		AttestationSHA256: strings.Repeat("0f", 32),
		Shadow:            &ShadowOutcome{PolicyHash: "sha256:" + strings.Repeat("cd", 32), Decision: DecisionDeny},
	}
}

// goldenSample is sample() encoded by hand following RFC 8785.
const goldenSample = `{"age":14,"assurance":{"level":"asserted","methods":["self_declaration"]},` +
	`"attestation_sha256":"0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f",` +
	`"band":"13_15","decision":"additional_verification_required",` +
	`"decision_id":"019ac1c4-5d2e-7c4b-9a51-0c3b8e1f2a77","device_history":12,` +
	`"evidence":[{"outcome":"accepted","type":"self_declaration"}],"jurisdiction":"DE",` +
	`"policy":{"hash":"sha256:abababababababababababababababababababababababababababababababab","id":"ageassure-builtin"},` +
	`"rules":["de.digital-consent-age","de.anti-hopping"],` +
	`"shadow":{"decision":"deny","policy_hash":"sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"},` +
	`"signals":{"underage_likelihood":0.2,"user_reports":3},"stage":"signup","tenant":"acme-social",` +
	`"time":"2026-11-26T12:00:00Z","v":1}`

func TestMarshalGolden(t *testing.T) {
	b, err := sample().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenSample, string(b)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
}

func TestMarshalMinimal(t *testing.T) {
	e := sample()
	e.DeviceHistory, e.Shadow, e.Signals, e.Rules = nil, nil, nil, nil
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"device_history", "shadow"} {
		if strings.Contains(string(b), absent) {
			t.Errorf("nil %s encoded: %s", absent, b)
		}
	}
	for _, want := range []string{`"signals":{}`, `"rules":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("want %s in %s", want, b)
		}
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal) = %v", err)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestParseRoundTrip(t *testing.T) {
	e, err := Parse([]byte(goldenSample))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sample(), e); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	g := goldenSample
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"not json", "nope", ErrMalformed},
		{"empty", "", ErrMalformed},
		{"array", "[]", ErrMalformed},
		{"unknown member", strings.Replace(g, `"v":1}`, `"v":1,"name":"Alice"}`, 1), ErrMalformed},
		{"duplicate member", strings.Replace(g, `"v":1}`, `"v":1,"v":1}`, 1), ErrMalformed},
		{"wrong type", strings.Replace(g, `"age":14`, `"age":"14"`, 1), ErrMalformed},
		{"fractional age", strings.Replace(g, `"age":14`, `"age":14.5`, 1), ErrMalformed},
		{"trailing data", g + "{}", ErrMalformed},
		{"whitespace", strings.Replace(g, `"age":14`, `"age": 14`, 1), ErrNotCanonical},
		{"trailing newline", g + "\n", ErrNotCanonical},
		{"member order", strings.Replace(g, `{"age":14,"assurance":{"level":"asserted","methods":["self_declaration"]},`,
			`{"assurance":{"level":"asserted","methods":["self_declaration"]},"age":14,`, 1), ErrNotCanonical},
		{"nested order", strings.Replace(g, `{"outcome":"accepted","type":"self_declaration"}`,
			`{"type":"self_declaration","outcome":"accepted"}`, 1), ErrNotCanonical},
		{"exponent age", strings.Replace(g, `"age":14`, `"age":1.4e1`, 1), ErrMalformed},
		{"number form", strings.Replace(g, `"user_reports":3`, `"user_reports":3.0`, 1), ErrNotCanonical},
		{"escaped letter", strings.Replace(g, `"tenant":"acme-social"`, `"tenant":"\u0061cme-social"`, 1), ErrNotCanonical},
		{"explicit null", strings.Replace(g, `"device_history":12,`, `"device_history":null,`, 1), ErrNotCanonical},
		{"signal order", strings.Replace(g, `{"underage_likelihood":0.2,"user_reports":3}`,
			`{"user_reports":3,"underage_likelihood":0.2}`, 1), ErrNotCanonical},
		{"signal form", strings.Replace(g, `"underage_likelihood":0.2`, `"underage_likelihood":0.20`, 1), ErrNotCanonical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNumberFormat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {-0.0, "0"}, {1, "1"}, {0.01, "0.01"}, {0.07, "0.07"}, {1000000, "1000000"},
		{1e-7, "1e-7"}, {1e21, "1e+21"}, {1.5e300, "1.5e+300"}, {123.456, "123.456"},
	}
	for _, tt := range tests {
		w := encoder{}
		w.num(tt.in)
		if string(w.buf) != tt.want {
			t.Errorf("num(%v) = %s, want %s", tt.in, w.buf, tt.want)
		}
	}
}

func TestStringEscaping(t *testing.T) {
	w := encoder{}
	w.str("a\"b\\c\n\x01\u2028é")
	if want := `"a\"b\\c\n\u0001` + "\u2028é" + `"`; string(w.buf) != want {
		t.Errorf("str = %s, want %s", w.buf, want)
	}
	e := sample()
	e.Tenant = "\xff"
	if _, err := e.Marshal(); err == nil {
		t.Error("Marshal accepted invalid UTF-8")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(e *Entry)
		field string // "" = valid
	}{
		{"valid", func(e *Entry) {}, ""},
		{"no optional fields", func(e *Entry) { e.DeviceHistory, e.Shadow, e.Signals, e.Rules = nil, nil, nil, nil }, ""},
		{"subdivision", func(e *Entry) { e.Jurisdiction = "US-UT" }, ""},
		{"version", func(e *Entry) { e.V = 2 }, "v"},
		{"upper-case uuid", func(e *Entry) { e.DecisionID = strings.ToUpper(e.DecisionID) }, "decision_id"},
		{"uuid as name", func(e *Entry) { e.DecisionID = "alice" }, "decision_id"},
		{"sub-second time", func(e *Entry) { e.Time = "2026-11-26T12:00:00.123Z" }, "time"},
		{"offset time", func(e *Entry) { e.Time = "2026-11-26T12:00:00+01:00" }, "time"},
		{"impossible date", func(e *Entry) { e.Time = "2026-02-30T12:00:00Z" }, "time"},
		{"tenant with space", func(e *Entry) { e.Tenant = "acme social" }, "tenant"},
		{"tenant e-mail", func(e *Entry) { e.Tenant = "alice@example.com" }, "tenant"},
		{"tenant upper", func(e *Entry) { e.Tenant = "Acme" }, "tenant"},
		{"tenant too long", func(e *Entry) { e.Tenant = strings.Repeat("a", 65) }, "tenant"},
		{"jurisdiction lower", func(e *Entry) { e.Jurisdiction = "de" }, "jurisdiction"},
		{"jurisdiction long sub", func(e *Entry) { e.Jurisdiction = "US-UTAH" }, "jurisdiction"},
		{"stage", func(e *Entry) { e.Stage = "login" }, "stage"},
		{"negative age", func(e *Entry) { e.Age = -1 }, "age"},
		{"old age", func(e *Entry) { e.Age = 131 }, "age"},
		{"band", func(e *Entry) { e.Band = "teen" }, "band"},
		{"device history", func(e *Entry) { v := 200; e.DeviceHistory = &v }, "device_history"},
		{"unknown signal", func(e *Entry) { e.Signals["alice@example.com"] = 1 }, "signals"},
		{"raw score", func(e *Entry) { e.Signals[SignalUnderageLikelihood] = 0.123456 }, "signals.underage_likelihood"},
		{"score above 1", func(e *Entry) { e.Signals[SignalUnderageLikelihood] = 1.01 }, "signals.underage_likelihood"},
		{"fractional count", func(e *Entry) { e.Signals[SignalUserReports] = 2.5 }, "signals.user_reports"},
		{"huge count", func(e *Entry) { e.Signals[SignalUserReports] = 1e7 }, "signals.user_reports"},
		{"no evidence", func(e *Entry) { e.Evidence = nil }, "evidence"},
		{"evidence type", func(e *Entry) { e.Evidence[0].Type = "passport 123456789" }, "evidence[0].type"},
		{"evidence outcome", func(e *Entry) { e.Evidence[0].Outcome = "ok" }, "evidence[0].outcome"},
		{"decision", func(e *Entry) { e.Decision = "maybe" }, "decision"},
		{"rule id free text", func(e *Entry) { e.Rules = []string{"Alice Smith"} }, "rules[0]"},
		{"rule without pack", func(e *Entry) { e.Rules = []string{"minimum-age"} }, "rules[0]"},
		{"assurance level", func(e *Entry) { e.Assurance.Level = "high" }, "assurance.level"},
		{"assurance method", func(e *Entry) { e.Assurance.Methods = []string{"face scan"} }, "assurance.methods[0]"},
		{"repeated method", func(e *Entry) { e.Assurance.Methods = []string{EvidenceSelfDeclaration, EvidenceSelfDeclaration} }, "assurance.methods[1]"},
		{"policy id", func(e *Entry) { e.Policy.ID = "my policy" }, "policy.id"},
		{"policy id upper", func(e *Entry) { e.Policy.ID = "Acme" }, "policy.id"},
		{"tenant with date", func(e *Entry) { e.Tenant = "acme-2012-05-01" }, "tenant"},
		{"tenant with phone", func(e *Entry) { e.Tenant = "acme-07700900123" }, "tenant"},
		{"tenant with year", func(e *Entry) { e.Tenant = "acme-2026" }, ""},
		{"policy hash", func(e *Entry) { e.Policy.Hash = strings.Repeat("ab", 32) }, "policy.hash"},
		{"attestation hash upper", func(e *Entry) { e.AttestationSHA256 = strings.Repeat("AB", 32) }, "attestation_sha256"},
		{"shadow hash", func(e *Entry) { e.Shadow.PolicyHash = "x" }, "shadow.policy_hash"},
		{"shadow decision", func(e *Entry) { e.Shadow.Decision = "x" }, "shadow.decision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sample()
			tt.edit(e)
			err := e.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrSchema) {
				t.Fatalf("Validate = %v, want a FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
		})
	}
}

// canaries are identity data a careless integration might try to log.
var canaries = []string{
	"canary-3f9a1c@example.com",
	"2012-05-01",
	"+44 7700 900123",
	"Alice Canary",
	"device-ref-CANARY-81f2",
}

// TestValidateRejectsCanaries smuggles each canary into every string field
// of an entry: Validate must refuse all of them, and no error message may
// repeat the canary (messages end up in logs).
func TestValidateRejectsCanaries(t *testing.T) {
	fields := map[string]func(e *Entry, s string){
		"decision_id":     func(e *Entry, s string) { e.DecisionID = s },
		"time":            func(e *Entry, s string) { e.Time = s },
		"tenant":          func(e *Entry, s string) { e.Tenant = s },
		"jurisdiction":    func(e *Entry, s string) { e.Jurisdiction = s },
		"stage":           func(e *Entry, s string) { e.Stage = s },
		"band":            func(e *Entry, s string) { e.Band = s },
		"signal name":     func(e *Entry, s string) { e.Signals[s] = 1 },
		"evidence type":   func(e *Entry, s string) { e.Evidence[0].Type = s },
		"outcome":         func(e *Entry, s string) { e.Evidence[0].Outcome = s },
		"decision":        func(e *Entry, s string) { e.Decision = s },
		"rule":            func(e *Entry, s string) { e.Rules = append(e.Rules, s) },
		"level":           func(e *Entry, s string) { e.Assurance.Level = s },
		"method":          func(e *Entry, s string) { e.Assurance.Methods = append(e.Assurance.Methods, s) },
		"policy id":       func(e *Entry, s string) { e.Policy.ID = s },
		"policy hash":     func(e *Entry, s string) { e.Policy.Hash = s },
		"attestation":     func(e *Entry, s string) { e.AttestationSHA256 = s },
		"shadow hash":     func(e *Entry, s string) { e.Shadow.PolicyHash = s },
		"shadow decision": func(e *Entry, s string) { e.Shadow.Decision = s },
	}
	for name, set := range fields {
		for _, c := range canaries {
			e := sample()
			set(e, c)
			err := e.Validate()
			if err == nil {
				t.Errorf("%s = %q: Validate accepted it", name, c)
				continue
			}
			if strings.Contains(err.Error(), c) {
				t.Errorf("%s: error repeats the canary: %v", name, err)
			}
		}
	}
}

func TestDerive(t *testing.T) {
	for in, want := range map[float64]float64{0.123: 0.12, 0.125: 0.13, 0.07: 0.07, 1: 1, 0: 0, 0.999: 1} {
		if got := QuantizeScore(in); got != want {
			t.Errorf("QuantizeScore(%v) = %v, want %v", in, got, want)
		}
		if q := QuantizeScore(in); QuantizeScore(q) != q {
			t.Errorf("QuantizeScore not idempotent at %v", in)
		}
	}
	if got := AttestationDigest([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("AttestationDigest = %s", got)
	}
}

// TestAgeRange: the evidence interval sorts right after age, round-trips,
// and is bounded.
func TestAgeRange(t *testing.T) {
	e := sample()
	e.AgeRange = &AgeRange{Min: 18, Max: 150}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"age":14,"age_range":{"max":150,"min":18},"assurance":`) {
		t.Errorf("encoding %s", b)
	}
	back, err := Parse(b)
	if err != nil || back.AgeRange == nil || *back.AgeRange != *e.AgeRange {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	for _, r := range []AgeRange{{Min: -1, Max: 5}, {Min: 16, Max: 13}, {Min: 13, Max: 151}, {Min: 13, Max: 15, Exact: true}} {
		e.AgeRange = &r
		if err := e.Validate(); err == nil {
			t.Errorf("age_range %+v accepted", r)
		}
	}
}
