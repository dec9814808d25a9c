package service

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ageassure/ageassure/policy"
)

// Request limits. They bound the work one request can cause and are part of
// the API contract (documented in openapi.yaml).
const (
	// MaxBodyBytes is the largest request body accepted; larger bodies get 413.
	MaxBodyBytes = 64 << 10
	// MaxRefBytes bounds device_ref, subject_ref and nonce.
	MaxRefBytes = 256
	// MaxSignals bounds the signals array.
	MaxSignals = 16
	// MaxAge is the oldest whole-year age accepted, declared or computed.
	MaxAge = 130
	// MaxEvidence bounds the evidence array (one item per type at most).
	MaxEvidence = 5
	// MaxTokenBytes bounds one evidence token (an SD-JWT with disclosures
	// and a key-binding JWT fits comfortably).
	MaxTokenBytes = 16 << 10
	// maxProviderBytes bounds a provider id.
	maxProviderBytes = 64
	// maxReportCount bounds user_reports.count: far above any real count,
	// low enough that no arithmetic on it can overflow.
	maxReportCount = 1_000_000
)

// Stages of the platform's flow, sent as context.stage.
const (
	StageSignup       = "signup"
	StageReassessment = "reassessment"
)

// Risk signal types the service understands.
const (
	SignalUnderageLikelihood = "underage_likelihood"
	SignalUserReports        = "user_reports"
)

// CheckRequest is the body of POST /v1/age-checks. Pointers distinguish an
// absent member from a zero value, which validation needs to tell "missing"
// from "0".
type CheckRequest struct {
	Jurisdiction string        `json:"jurisdiction"`
	Declared     *Declared     `json:"declared"`
	Signals      []Signal      `json:"signals"`
	Evidence     []Evidence    `json:"evidence"`
	Context      *CheckContext `json:"context"`
}

// Evidence is one piece of age evidence the platform holds: a token signed
// by an age-assurance provider or a wallet, or the OS age range.
type Evidence struct {
	Type     string  `json:"type"`
	Provider *string `json:"provider"`
	Token    *string `json:"token"`
	// platform_age_range only.
	Lower  *int    `json:"lower"`
	Upper  *int    `json:"upper"`
	Source *string `json:"source"`
}

// Declared is what the applicant typed: exactly one of a birth date or a
// whole-year age.
type Declared struct {
	BirthDate *string `json:"birth_date"`
	Age       *int    `json:"age"`
}

// Signal is one risk signal from the platform's own systems. Which value
// member is required depends on the type.
type Signal struct {
	Type  string   `json:"type"`
	Score *float64 `json:"score"`
	Count *int64   `json:"count"`
}

// CheckContext carries where in the platform's flow the check happens and
// opaque references that must never be stored or logged in clear.
type CheckContext struct {
	Stage      *string `json:"stage"`
	DeviceRef  *string `json:"device_ref"`
	SubjectRef *string `json:"subject_ref"`
	Nonce      *string `json:"nonce"`
}

// check is a validated request reduced to what the decision needs. The raw
// references are kept only until they are keyed (device, subject) or signed
// (nonce); a check never outlives its request.
type check struct {
	jurisdiction string
	stage        string
	age          int
	// birthDate is set when the applicant declared one; the service uses it
	// only for arithmetic and drops it with the request. It points at birth,
	// so declaring one costs no allocation of its own.
	birthDate  *policy.Date
	birth      policy.Date
	signals    map[string]float64
	evidence   []policy.EvidenceItem
	deviceRef  string
	subjectRef string
	nonce      string
}

// decodeOptions are the strict decoding rules: unknown members, duplicate
// names and invalid UTF-8 are errors, and names match case-sensitively.
var decodeOptions = json.JoinOptions(json.RejectUnknownMembers(true))

// decodeCheck turns a request body into a check, or a *Problem naming every
// bad field. now is the evaluation instant; pol supplies the jurisdiction's
// calendar for the birth-date arithmetic.
func decodeCheck(body []byte, pol *policy.Policy, now time.Time) (*check, error) {
	var req CheckRequest
	if err := json.Unmarshal(body, &req, decodeOptions); err != nil {
		return nil, decodeProblem(err)
	}
	return validateCheck(&req, pol, now)
}

// decodeProblem maps a decoder error to a 400 that names the field. The Go
// error text is not passed on: it names Go types, which mean nothing to a
// caller.
func decodeProblem(err error) *Problem {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		code, detail := FieldMalformedJSON, "The body is not valid JSON"
		if errors.Is(syn.Err, jsontext.ErrDuplicateName) {
			code, detail = FieldDuplicate, "Member appears more than once"
		} else if syn.Err != nil {
			detail = fmt.Sprintf("The body is not valid JSON at byte %d: %s", syn.ByteOffset, syntaxReason(syn.Err))
		}
		p := newProblem(400, CodeMalformedJSON, "Malformed JSON", detail)
		p.Errors = []FieldError{{Pointer: string(syn.JSONPointer), Code: code, Detail: detail}}
		return p
	}
	var sem *json.SemanticError
	if errors.As(err, &sem) {
		ptr := string(sem.JSONPointer)
		if errors.Is(sem.Err, json.ErrUnknownName) {
			return validationProblem([]FieldError{{Pointer: ptr, Code: FieldUnknown,
				Detail: "Unknown member; the API accepts only the documented fields"}})
		}
		return validationProblem([]FieldError{{Pointer: ptr, Code: FieldInvalidType,
			Detail: typeDetail(sem)}})
	}
	// Anything else (an I/O error cannot happen on a byte slice) is still a
	// client error about the body, never a 500.
	p := newProblem(400, CodeMalformedJSON, "Malformed JSON", "The body could not be decoded")
	p.Errors = []FieldError{{Pointer: "", Code: FieldMalformedJSON, Detail: "The body could not be decoded"}}
	return p
}

// syntaxReason keeps the decoder's description of a syntax error, which is
// about the input ("invalid character 'x'"), not about Go.
func syntaxReason(err error) string {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) && syn.Err != nil {
		return syn.Err.Error()
	}
	return err.Error()
}

// typeDetail explains a type mismatch in JSON terms.
func typeDetail(sem *json.SemanticError) string {
	want := "a value of another type"
	if sem.GoType != nil {
		want = jsonTypeName(sem.GoType)
	}
	if errors.Is(sem.Err, strconv.ErrRange) {
		return "Number out of range"
	}
	if sem.JSONKind != 0 {
		return fmt.Sprintf("Expected %s, got %s", want, kindName(sem.JSONKind))
	}
	return "Expected " + want
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a value of another type"
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "another value"
}
