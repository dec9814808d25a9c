package service

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/ageassure/ageassure/policy"
)

func TestDecodeCheckErrors(t *testing.T) {
	pol := builtinPolicy(t)
	tests := []struct {
		name    string
		body    string
		code    string // Problem.Code
		pointer string // first field error's pointer
		field   string // first field error's code
	}{
		{"not json", `{"jurisdiction":`, CodeMalformedJSON, "/jurisdiction", FieldMalformedJSON},
		{"trailing garbage", `{"jurisdiction":"DE","declared":{"age":20}} x`, CodeMalformedJSON, "", FieldMalformedJSON},
		{"array body", `[]`, CodeValidationFailed, "", FieldInvalidType},
		{"empty body", ``, CodeMalformedJSON, "", FieldMalformedJSON},
		{"invalid utf8", "{\"jurisdiction\":\"\xff\"}", CodeMalformedJSON, "/jurisdiction", FieldMalformedJSON},
		{"duplicate member", `{"jurisdiction":"DE","jurisdiction":"FR","declared":{"age":20}}`, CodeMalformedJSON, "/jurisdiction", FieldDuplicate},
		{"unknown top-level field", `{"jurisdiction":"DE","declared":{"age":20},"foo":1}`, CodeValidationFailed, "/foo", FieldUnknown},
		{"evidence not an array", `{"jurisdiction":"DE","declared":{"age":20},"evidence":{}}`, CodeValidationFailed, "/evidence", FieldInvalidType},
		{"evidence unknown member", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"id_document","provider":"p","token":"t","photo":"x"}]}`, CodeValidationFailed, "/evidence/0/photo", FieldUnknown},
		{"evidence without type", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"provider":"p","token":"t"}]}`, CodeValidationFailed, "/evidence/0/type", FieldRequired},
		{"evidence unknown type", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"palm_reading","token":"t"}]}`, CodeValidationFailed, "/evidence/0/type", FieldUnknownEvidenceType},
		{"evidence without provider", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"age_estimation","token":"t"}]}`, CodeValidationFailed, "/evidence/0/provider", FieldRequired},
		{"consent without provider", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"parental_consent","token":"t"}]}`, CodeValidationFailed, "/evidence/0/provider", FieldRequired},
		{"credential with an empty provider", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"digital_credential","provider":"","token":"t"}]}`, CodeValidationFailed, "/evidence/0/provider", FieldEmpty},
		{"credential without token", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"digital_credential"}]}`, CodeValidationFailed, "/evidence/0/token", FieldRequired},
		{"evidence without token", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"id_document","provider":"p"}]}`, CodeValidationFailed, "/evidence/0/token", FieldRequired},
		{"evidence empty token", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"id_document","provider":"p","token":""}]}`, CodeValidationFailed, "/evidence/0/token", FieldEmpty},
		{"evidence huge token", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"id_document","provider":"p","token":"` + strings.Repeat("t", MaxTokenBytes+1) + `"}]}`, CodeValidationFailed, "/evidence/0/token", FieldTooLong},
		{"signed evidence with a range", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"id_document","provider":"p","token":"t","lower":18}]}`, CodeValidationFailed, "/evidence/0/lower", FieldUnexpectedEvidence},
		{"duplicate evidence type", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"id_document","provider":"p","token":"t"},{"type":"id_document","provider":"q","token":"u"}]}`, CodeValidationFailed, "/evidence/1/type", FieldDuplicateEvidence},
		{"range with a token", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"platform_age_range","lower":13,"upper":15,"source":"verified","token":"t"}]}`, CodeValidationFailed, "/evidence/0", FieldUnexpectedEvidence},
		{"range without lower", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"platform_age_range","upper":15,"source":"verified"}]}`, CodeValidationFailed, "/evidence/0/lower", FieldRequired},
		{"range upside down", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"platform_age_range","lower":16,"upper":13,"source":"verified"}]}`, CodeValidationFailed, "/evidence/0/upper", FieldInvalidRange},
		{"range upper negative", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"platform_age_range","lower":13,"upper":-1,"source":"verified"}]}`, CodeValidationFailed, "/evidence/0/upper", FieldInvalidRange},
		{"range upper over 130", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"platform_age_range","lower":13,"upper":131,"source":"verified"}]}`, CodeValidationFailed, "/evidence/0/upper", FieldInvalidRange},
		{"range bad source", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[{"type":"platform_age_range","lower":13,"source":"vibes"}]}`, CodeValidationFailed, "/evidence/0/source", FieldInvalidRange},
		{"too much evidence", `{"jurisdiction":"DE","declared":{"age":20},"evidence":[` + strings.Repeat(`{"type":"x"},`, MaxEvidence) + `{"type":"x"}]}`, CodeValidationFailed, "/evidence", FieldTooMany},
		{"unknown nested field", `{"jurisdiction":"DE","declared":{"age":20,"x":1}}`, CodeValidationFailed, "/declared/x", FieldUnknown},
		{"case-sensitive names", `{"Jurisdiction":"DE","declared":{"age":20}}`, CodeValidationFailed, "/Jurisdiction", FieldUnknown},
		{"age as string", `{"jurisdiction":"DE","declared":{"age":"20"}}`, CodeValidationFailed, "/declared/age", FieldInvalidType},
		{"fractional age", `{"jurisdiction":"DE","declared":{"age":20.5}}`, CodeValidationFailed, "/declared/age", FieldInvalidType},
		{"huge age", `{"jurisdiction":"DE","declared":{"age":99999999999999999999}}`, CodeValidationFailed, "/declared/age", FieldInvalidType},
		{"missing jurisdiction", `{"declared":{"age":20}}`, CodeValidationFailed, "/jurisdiction", FieldRequired},
		{"jurisdiction syntax", `{"jurisdiction":"Germany","declared":{"age":20}}`, CodeValidationFailed, "/jurisdiction", FieldInvalidJurisdiction},
		{"jurisdiction unknown", `{"jurisdiction":"ZZ","declared":{"age":20}}`, CodeValidationFailed, "/jurisdiction", FieldUnknownJurisdiction},
		{"jurisdiction UK is not ISO", `{"jurisdiction":"UK","declared":{"age":20}}`, CodeValidationFailed, "/jurisdiction", FieldUnknownJurisdiction},
		{"unknown US state", `{"jurisdiction":"US-XX","declared":{"age":20}}`, CodeValidationFailed, "/jurisdiction", FieldUnknownJurisdiction},
		{"missing declared", `{"jurisdiction":"DE"}`, CodeValidationFailed, "/declared", FieldRequired},
		{"null declared", `{"jurisdiction":"DE","declared":null}`, CodeValidationFailed, "/declared", FieldRequired},
		{"both declared", `{"jurisdiction":"DE","declared":{"age":20,"birth_date":"2000-01-01"}}`, CodeValidationFailed, "/declared", FieldDeclaredBoth},
		{"neither declared", `{"jurisdiction":"DE","declared":{}}`, CodeValidationFailed, "/declared", FieldDeclaredNeither},
		{"impossible date", `{"jurisdiction":"DE","declared":{"birth_date":"2023-02-29"}}`, CodeValidationFailed, "/declared/birth_date", FieldInvalidBirthDate},
		{"month 13", `{"jurisdiction":"DE","declared":{"birth_date":"2010-13-01"}}`, CodeValidationFailed, "/declared/birth_date", FieldInvalidBirthDate},
		{"not a date", `{"jurisdiction":"DE","declared":{"birth_date":"01/05/2012"}}`, CodeValidationFailed, "/declared/birth_date", FieldInvalidBirthDate},
		{"future date", `{"jurisdiction":"DE","declared":{"birth_date":"2027-01-01"}}`, CodeValidationFailed, "/declared/birth_date", FieldFutureBirthDate},
		{"tomorrow in Berlin", `{"jurisdiction":"DE","declared":{"birth_date":"2026-11-27"}}`, CodeValidationFailed, "/declared/birth_date", FieldFutureBirthDate},
		{"too old by date", `{"jurisdiction":"DE","declared":{"birth_date":"1850-01-01"}}`, CodeValidationFailed, "/declared/birth_date", FieldAgeOutOfRange},
		{"negative age", `{"jurisdiction":"DE","declared":{"age":-1}}`, CodeValidationFailed, "/declared/age", FieldAgeOutOfRange},
		{"age 131", `{"jurisdiction":"DE","declared":{"age":131}}`, CodeValidationFailed, "/declared/age", FieldAgeOutOfRange},
		{"bad stage", `{"jurisdiction":"DE","declared":{"age":20},"context":{"stage":"login"}}`, CodeValidationFailed, "/context/stage", FieldInvalidStage},
		{"empty device ref", `{"jurisdiction":"DE","declared":{"age":20},"context":{"device_ref":""}}`, CodeValidationFailed, "/context/device_ref", FieldEmpty},
		{"long nonce", `{"jurisdiction":"DE","declared":{"age":20},"context":{"nonce":"` + strings.Repeat("n", MaxRefBytes+1) + `"}}`, CodeValidationFailed, "/context/nonce", FieldTooLong},
		{"unknown signal", `{"jurisdiction":"DE","declared":{"age":20},"signals":[{"type":"vibes","score":1}]}`, CodeValidationFailed, "/signals/0/type", FieldUnknownSignalType},
		{"signal without type", `{"jurisdiction":"DE","declared":{"age":20},"signals":[{"score":1}]}`, CodeValidationFailed, "/signals/0/type", FieldRequired},
		{"score above 1", `{"jurisdiction":"DE","declared":{"age":20},"signals":[{"type":"underage_likelihood","score":1.5}]}`, CodeValidationFailed, "/signals/0/score", FieldInvalidSignalValue},
		{"score missing", `{"jurisdiction":"DE","declared":{"age":20},"signals":[{"type":"underage_likelihood"}]}`, CodeValidationFailed, "/signals/0/score", FieldRequired},
		{"count on a score signal", `{"jurisdiction":"DE","declared":{"age":20},"signals":[{"type":"underage_likelihood","score":0.1,"count":2}]}`, CodeValidationFailed, "/signals/0/count", FieldUnexpectedSignalData},
		{"negative count", `{"jurisdiction":"DE","declared":{"age":20},"signals":[{"type":"user_reports","count":-1}]}`, CodeValidationFailed, "/signals/0/count", FieldInvalidSignalValue},
		{"fractional count", `{"jurisdiction":"DE","declared":{"age":20},"signals":[{"type":"user_reports","count":1.5}]}`, CodeValidationFailed, "/signals/0/count", FieldInvalidType},
		{"duplicate signal", `{"jurisdiction":"DE","declared":{"age":20},"signals":[{"type":"user_reports","count":1},{"type":"user_reports","count":2}]}`, CodeValidationFailed, "/signals/1/type", FieldDuplicateSignal},
		{"too many signals", `{"jurisdiction":"DE","declared":{"age":20},"signals":[` + strings.Repeat(`{"type":"user_reports","count":1},`, MaxSignals) + `{"type":"user_reports","count":1}]}`, CodeValidationFailed, "/signals", FieldTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chk, err := decodeCheck([]byte(tt.body), pol, fixedNow)
			if err == nil {
				t.Fatalf("decodeCheck(%s) = %+v, want error", tt.body, chk)
			}
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v is not a *Problem", err)
			}
			if p.Status != http.StatusBadRequest || p.Code != tt.code {
				t.Fatalf("status, code = %d, %q; want 400, %q (%v)", p.Status, p.Code, tt.code, p)
			}
			if len(p.Errors) == 0 {
				t.Fatalf("no field errors in %+v", p)
			}
			if got := p.Errors[0]; got.Pointer != tt.pointer || got.Code != tt.field || got.Detail == "" {
				t.Errorf("first field error = %+v; want pointer %q code %q and a detail", got, tt.pointer, tt.field)
			}
			if strings.Contains(p.Detail+p.Errors[0].Detail, "Go ") {
				t.Errorf("detail leaks Go type names: %q", p.Errors[0].Detail)
			}
		})
	}
}

// TestDecodeCheckCollectsEveryError: a caller fixes a request in one round
// trip only if every bad field is reported at once.
func TestDecodeCheckCollectsEveryError(t *testing.T) {
	body := `{"jurisdiction":"XX","declared":{"age":200},"signals":[{"type":"user_reports","count":-3}],"context":{"stage":"x","nonce":""}}`
	_, err := decodeCheck([]byte(body), builtinPolicy(t), fixedNow)
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("got %v, want a Problem", err)
	}
	want := map[string]string{
		"/jurisdiction":    FieldUnknownJurisdiction,
		"/declared/age":    FieldAgeOutOfRange,
		"/signals/0/count": FieldInvalidSignalValue,
		"/context/stage":   FieldInvalidStage,
		"/context/nonce":   FieldEmpty,
	}
	got := map[string]string{}
	for _, e := range p.Errors {
		got[e.Pointer] = e.Code
	}
	for ptr, code := range want {
		if got[ptr] != code {
			t.Errorf("error at %s = %q, want %q (all: %v)", ptr, got[ptr], code, got)
		}
	}
}

// TestSignalScoresAreBucketed: scores are used at 0.01 resolution, so
// near-identical scores share a decision and a cache entry.
func TestSignalScoresAreBucketed(t *testing.T) {
	pol := builtinPolicy(t)
	for _, tt := range []struct {
		score string
		want  float64
	}{{"0.799", 0.8}, {"0.8049", 0.8}, {"0.805", 0.81}, {"0", 0}, {"1", 1}, {"0.123456", 0.12}} {
		chk, err := decodeCheck([]byte(`{"jurisdiction":"DE","declared":{"age":20},"signals":[{"type":"underage_likelihood","score":`+tt.score+`}]}`), pol, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		if got := chk.signals[SignalUnderageLikelihood]; got != tt.want {
			t.Errorf("score %s -> %v, want %v", tt.score, got, tt.want)
		}
	}
}

func TestDecodeCheckAccepts(t *testing.T) {
	pol := builtinPolicy(t)
	tests := []struct {
		name  string
		body  string
		jur   string
		age   int
		stage string
	}{
		{"age", `{"jurisdiction":"DE","declared":{"age":14}}`, "DE", 14, StageSignup},
		{"lower-case jurisdiction", `{"jurisdiction":"de","declared":{"age":14}}`, "DE", 14, StageSignup},
		{"subdivision", `{"jurisdiction":"US-UT","declared":{"age":30}}`, "US-UT", 30, StageSignup},
		{"birth date, birthday today", `{"jurisdiction":"DE","declared":{"birth_date":"2013-11-26"}}`, "DE", 13, StageSignup},
		{"birth date, birthday tomorrow", `{"jurisdiction":"DE","declared":{"birth_date":"2013-11-27"}}`, "DE", 12, StageSignup},
		{"born today", `{"jurisdiction":"DE","declared":{"birth_date":"2026-11-26"}}`, "DE", 0, StageSignup},
		{"age 0 and 130", `{"jurisdiction":"FR","declared":{"age":130}}`, "FR", 130, StageSignup},
		{"reassessment with everything", `{"jurisdiction":"GB","declared":{"age":15},"signals":[{"type":"underage_likelihood","score":0},{"type":"user_reports","count":0}],"context":{"stage":"reassessment","device_ref":"d","subject_ref":"s","nonce":"n"}}`, "GB", 15, StageReassessment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chk, err := decodeCheck([]byte(tt.body), pol, fixedNow)
			if err != nil {
				t.Fatalf("decodeCheck: %v", err)
			}
			if chk.jurisdiction != tt.jur || chk.age != tt.age || chk.stage != tt.stage {
				t.Errorf("got %s/%d/%s, want %s/%d/%s", chk.jurisdiction, chk.age, chk.stage, tt.jur, tt.age, tt.stage)
			}
		})
	}
}

// TestDecodeEvidenceAccepts: what the README promises evidence items may
// look like is accepted as the item the verifier gets.
func TestDecodeEvidenceAccepts(t *testing.T) {
	pol := builtinPolicy(t)
	tests := []struct {
		name string
		item string
		want policy.EvidenceItem
	}{
		{"credential without provider: its issuer selects one", `{"type":"digital_credential","token":"a~b~c"}`,
			policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Token: "a~b~c"}},
		{"credential naming its provider", `{"type":"digital_credential","provider":"pid","token":"a~b~c"}`,
			policy.EvidenceItem{Type: policy.EvidenceDigitalCredential, Provider: "pid", Token: "a~b~c"}},
		{"range without upper is open", `{"type":"platform_age_range","lower":18,"source":"verified"}`,
			policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 18, Source: policy.RangeVerified}},
		{"range with upper 0 is open", `{"type":"platform_age_range","lower":18,"upper":0,"source":"self_declared"}`,
			policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 18, Source: policy.RangeSelfDeclared}},
		{"closed range", `{"type":"platform_age_range","lower":13,"upper":15,"source":"guardian_declared"}`,
			policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 13, Upper: 15, Source: policy.RangeGuardianDeclared}},
		{"range of one age", `{"type":"platform_age_range","lower":13,"upper":13,"source":"verified"}`,
			policy.EvidenceItem{Type: policy.EvidencePlatformAgeRange, Lower: 13, Upper: 13, Source: policy.RangeVerified}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chk, err := decodeCheck([]byte(`{"jurisdiction":"GB","declared":{"age":19},"evidence":[`+tt.item+`]}`), pol, fixedNow)
			if err != nil {
				t.Fatalf("decodeCheck: %v", err)
			}
			if len(chk.evidence) != 1 || !reflect.DeepEqual(chk.evidence[0], tt.want) {
				t.Errorf("evidence = %+v, want [%+v]", chk.evidence, tt.want)
			}
		})
	}
}
