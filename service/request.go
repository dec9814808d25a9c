package service

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
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

// maxFieldErrors bounds the field errors one answer lists. A real request
// has far fewer problems; a body of thousands of unknown members must not
// earn an answer many times its size.
const maxFieldErrors = 100

// decodeCheck turns a request body into a check, or a *Problem naming every
// bad field. now is the evaluation instant; pol supplies the jurisdiction's
// calendar for the birth-date arithmetic.
func decodeCheck(body []byte, pol *policy.Policy, now time.Time) (*check, error) {
	var req CheckRequest
	err := json.Unmarshal(body, &req, decodeOptions)
	if err == nil {
		return validateCheck(&req, pol, now)
	}
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	if errors.As(err, &syn) || !errors.As(err, &sem) {
		return nil, decodeProblem(err)
	}
	// The decoder stops at the first unknown or mistyped member; a caller
	// fixes a request in one round trip only if it hears of all of them.
	return nil, structuralProblem(body, pol, now, err)
}

// structuralProblem reports every unknown and mistyped member of a body
// the decoder refused with first, together with the field errors of the
// members that could be read. A malformed body is reported as such, first:
// its structure cannot be trusted.
func structuralProblem(body []byte, pol *policy.Policy, now time.Time, first error) *Problem {
	if err := json.Unmarshal(body, new(jsontext.Value)); err != nil {
		return decodeProblem(err)
	}
	var req CheckRequest
	w := structureWalker{dec: jsontext.NewDecoder(bytes.NewReader(body))}
	if err := w.value(reflect.ValueOf(&req).Elem(), ""); err != nil || len(w.errs) == 0 {
		// Neither can happen on a body that is valid JSON and that the
		// decoder refused; if it did, the decoder's own error stands.
		return decodeProblem(first)
	}
	errs := w.errs
	_, fields := checkFields(&req, pol, now)
	for _, fe := range fields {
		if !hiddenByMistype(fe.Pointer, w.errs) {
			errs = append(errs, fe)
		}
	}
	if len(errs) > maxFieldErrors {
		errs = errs[:maxFieldErrors]
	}
	return validationProblem(errs)
}

// hiddenByMistype tells whether a field error at ptr is only the echo of a
// mistyped member, which validation saw as absent: an error at the member
// itself ("required"), inside it, or at the object holding it
// ("declared_neither" when declared.age was a string). An array holding a
// mistyped item is not hidden: its errors (too many items) stand. Unknown
// members hide nothing: they decode to nothing, so what validation says of
// the rest is true.
func hiddenByMistype(ptr string, structural []FieldError) bool {
	for _, s := range structural {
		if s.Code != FieldInvalidType {
			continue
		}
		if ptr == s.Pointer || strings.HasPrefix(ptr, s.Pointer+"/") {
			return true
		}
		i := strings.LastIndexByte(s.Pointer, '/')
		if _, err := strconv.Atoi(s.Pointer[i+1:]); i >= 0 && err != nil && ptr == s.Pointer[:i] {
			return true
		}
	}
	return false
}

// structureWalker decodes a body that is valid JSON into a request member
// by member, noting every unknown member and every member of the wrong
// type (which it leaves unset) instead of stopping at the first. It follows
// the Go types of CheckRequest, so it knows the members the decoder does.
type structureWalker struct {
	dec  *jsontext.Decoder
	errs []FieldError
}

// value decodes the next JSON value into v, found at ptr in the body.
func (w *structureWalker) value(v reflect.Value, ptr string) error {
	kind := w.dec.PeekKind()
	if kind == 0 {
		_, err := w.dec.ReadToken()
		return cmp.Or(err, io.ErrUnexpectedEOF)
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		switch kind {
		case 'n':
			_, err := w.dec.ReadToken()
			return err
		case '{':
			v.Set(reflect.New(t.Elem()))
			return w.object(v.Elem(), ptr)
		}
		return w.mistyped(t, kind, ptr)
	case t.Kind() == reflect.Struct:
		if kind != '{' {
			return w.mistyped(t, kind, ptr)
		}
		return w.object(v, ptr)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		switch kind {
		case 'n':
			_, err := w.dec.ReadToken()
			return err
		case '[':
			return w.array(v, ptr)
		}
		return w.mistyped(t, kind, ptr)
	}
	raw, err := w.dec.ReadValue()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v.Addr().Interface(), decodeOptions); err != nil {
		var sem *json.SemanticError
		if !errors.As(err, &sem) {
			return err
		}
		w.errs = append(w.errs, FieldError{Pointer: ptr, Code: FieldInvalidType, Detail: typeDetail(sem)})
	}
	return nil
}

// object decodes a JSON object into the struct v.
func (w *structureWalker) object(v reflect.Value, ptr string) error {
	if _, err := w.dec.ReadToken(); err != nil {
		return err
	}
	fields := jsonFields(v.Type())
	for w.dec.PeekKind() != '}' {
		tok, err := w.dec.ReadToken()
		if err != nil {
			return err
		}
		name := tok.String()
		member := ptr + "/" + pointerEscaper.Replace(name)
		i, ok := fields[name]
		if !ok {
			w.errs = append(w.errs, FieldError{Pointer: member, Code: FieldUnknown,
				Detail: "Unknown member; the API accepts only the documented fields"})
			if err := w.dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if err := w.value(v.Field(i), member); err != nil {
			return err
		}
	}
	_, err := w.dec.ReadToken()
	return err
}

// array decodes a JSON array into the slice v. A mistyped item is kept as
// a zero item, so the items after it keep their indexes.
func (w *structureWalker) array(v reflect.Value, ptr string) error {
	if _, err := w.dec.ReadToken(); err != nil {
		return err
	}
	for i := 0; w.dec.PeekKind() != ']'; i++ {
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		if err := w.value(v.Index(i), ptr+"/"+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	_, err := w.dec.ReadToken()
	return err
}

// mistyped notes a value of the wrong JSON kind for t and skips it.
func (w *structureWalker) mistyped(t reflect.Type, kind jsontext.Kind, ptr string) error {
	w.errs = append(w.errs, FieldError{Pointer: ptr, Code: FieldInvalidType,
		Detail: fmt.Sprintf("Expected %s, got %s", jsonTypeName(t), kindName(kind))})
	return w.dec.SkipValue()
}

// pointerEscaper escapes a member name as an RFC 6901 reference token.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// structFields caches jsonFields per struct type.
var structFields sync.Map // reflect.Type -> map[string]int

// jsonFields maps the JSON member names of struct type t (its fields' json
// tags, matched case-sensitively as the decoder does) to field indexes.
func jsonFields(t reflect.Type) map[string]int {
	if m, ok := structFields.Load(t); ok {
		return m.(map[string]int)
	}
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		m[cmp.Or(name, f.Name)] = i
	}
	structFields.Store(t, m)
	return m
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
