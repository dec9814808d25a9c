package service

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json"
)

// Stable problem codes. Clients branch on these, so they never change once
// released; the human-readable title and detail may.
const (
	CodeValidationFailed     = "validation_failed"
	CodeMalformedJSON        = "malformed_json"
	CodeMissingCredentials   = "missing_credentials"
	CodeInvalidCredentials   = "invalid_credentials"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeRateLimited          = "rate_limited"
	// CodeLogUnavailable (503): the decision log could not take the entry,
	// and a decision the log does not hold is never handed out.
	CodeLogUnavailable = "decision_log_unavailable"
	// CodeOverloaded (503): the check waited longer than the queue timeout
	// for one of the slots admission control allows; nothing was decided.
	CodeOverloaded = "overloaded"
	CodeInternal   = "internal_error"
)

// Stable field-level codes, carried in Problem.Errors.
const (
	FieldMalformedJSON        = "malformed_json"
	FieldUnknown              = "unknown_field"
	FieldDuplicate            = "duplicate_field"
	FieldInvalidType          = "invalid_type"
	FieldRequired             = "required"
	FieldEmpty                = "empty_value"
	FieldTooLong              = "too_long"
	FieldTooMany              = "too_many_items"
	FieldInvalidJurisdiction  = "invalid_jurisdiction"
	FieldUnknownJurisdiction  = "unknown_jurisdiction"
	FieldInvalidBirthDate     = "invalid_birth_date"
	FieldFutureBirthDate      = "future_birth_date"
	FieldAgeOutOfRange        = "age_out_of_range"
	FieldDeclaredBoth         = "declared_both"
	FieldDeclaredNeither      = "declared_neither"
	FieldInvalidStage         = "invalid_stage"
	FieldUnknownSignalType    = "unknown_signal_type"
	FieldDuplicateSignal      = "duplicate_signal"
	FieldInvalidSignalValue   = "invalid_signal_value"
	FieldUnexpectedSignalData = "unexpected_signal_field"
	FieldUnknownEvidenceType  = "unknown_evidence_type"
	FieldDuplicateEvidence    = "duplicate_evidence"
	FieldUnexpectedEvidence   = "unexpected_evidence_field"
	FieldInvalidRange         = "invalid_range"
)

// problemTypePrefix makes every problem type a URN: stable, globally unique
// and, unlike a made-up URL, never mistaken for something to fetch.
const problemTypePrefix = "urn:ageassure:problem:"

// Problem is the one error type the HTTP layer answers with, rendered as
// RFC 9457 application/problem+json. Everything that can go wrong in a
// request is turned into a Problem before it reaches the wire, so callers
// always get a status, a stable code and, for validation, the JSON pointer
// of each offending field.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors,omitempty"`

	// retryAfter, when positive, is sent as a Retry-After header (seconds).
	retryAfter int
}

// FieldError names one bad field by its RFC 6901 JSON pointer into the
// request body, with a stable code and a message for humans.
type FieldError struct {
	Pointer string `json:"pointer"`
	Code    string `json:"code"`
	Detail  string `json:"detail"`
}

// Error makes a Problem usable as a Go error, so lower layers can return it
// and the handler can find it with errors.As.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Code)
}

// newProblem builds a Problem whose type URN is derived from its code, so
// the two can never disagree.
func newProblem(status int, code, title, detail string) *Problem {
	return &Problem{
		Type:   problemTypePrefix + code,
		Title:  title,
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// validationProblem wraps field errors in the 400 every validation failure
// shares.
func validationProblem(errs []FieldError) *Problem {
	p := newProblem(http.StatusBadRequest, CodeValidationFailed, "Request validation failed",
		"One or more fields are invalid; see errors.")
	p.Errors = errs
	return p
}

// writeProblem renders err as problem+json. Errors that are not a *Problem
// are internal: the caller sees a generic 500 and the cause stays in the
// server log (without request data).
func writeProblem(c *gin.Context, err error) {
	var p *Problem
	if !errors.As(err, &p) {
		p = newProblem(http.StatusInternalServerError, CodeInternal, "Internal error",
			"The request could not be completed; it has been logged.")
	}
	body, mErr := json.Marshal(p)
	if mErr != nil {
		// A Problem holds only strings and ints; this cannot fail, but a
		// hand-written body is still better than an empty 500.
		body = []byte(`{"type":"` + problemTypePrefix + CodeInternal + `","title":"Internal error","status":500,"code":"` + CodeInternal + `"}`)
		p.Status = http.StatusInternalServerError
	}
	if p.retryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="ageassure"`)
	}
	c.Header("Cache-Control", "no-store")
	c.Data(p.Status, "application/problem+json", body)
	c.Abort()
}
