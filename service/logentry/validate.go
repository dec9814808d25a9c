package logentry

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// ErrSchema is wrapped by every [FieldError]: the entry decodes but a field
// is outside its closed set of values.
var ErrSchema = errors.New("entry fails schema")

// FieldError names the first field of an entry that fails the schema.
type FieldError struct {
	// Field is the JSON path of the field, e.g. "tenant", "evidence[1].type",
	// "signals.user_reports".
	Field string
	// Reason says what the field must be. It never quotes the field's value:
	// a value that fails the schema may be exactly the personal data the
	// schema keeps out, and error messages end up in logs.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("field %s fails schema: %s", e.Field, e.Reason)
}

// Unwrap lets errors.Is(err, ErrSchema) match.
func (e *FieldError) Unwrap() error { return ErrSchema }

// Closed patterns. Each admits only identifiers, codes, hashes and numbers:
// no spaces, no '@', no upper-case free text, bounded lengths, so a name,
// e-mail address, phone number or birth date cannot fit in any of them
// without also matching a known enum (which Validate checks separately).
// They are matched by the hand-written functions in match.go, each exactly
// the language of its expression below (FuzzMatchers checks them against
// these expressions, which the tests keep as the oracle):
//
//	decision_id       isUUID            ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$
//	time              isEntryTime       ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$
//	tenant, policy.id isSlug            ^[a-z0-9][a-z0-9._-]{0,63}$
//	jurisdiction      isJurisdiction    ^[A-Z]{2}(-[A-Z0-9]{1,3})?$
//	rules[i]          isRuleID          ^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$
//	policy.hash       isPolicyHash      ^sha256:[0-9a-f]{64}$
//	attestation       isSHA256Hex       ^[0-9a-f]{64}$
//
// hasIdentityShape finds fragments shaped like a date or a phone or
// document number inside an otherwise valid slug (a search, not anchored):
// slugs are configured by operators, but a slug is the one shape that could
// carry such data.
//
//	[0-9]{4}[-._][0-9]{1,2}[-._][0-9]{1,2}|[0-9]{1,2}[-._][0-9]{1,2}[-._][0-9]{4}|[0-9]{7,}

// Limits on list sizes: generous for real decisions, small enough that an
// entry cannot become a side channel of arbitrary size.
const (
	maxAge      = 130
	maxRules    = 64
	maxRuleLen  = 128
	maxEvidence = 16
	maxMethods  = 8
	maxReports  = 1_000_000
)

var (
	decisions = []string{DecisionAllow, DecisionParentalConsentRequired, DecisionAdditionalVerificationRequired, DecisionDeny}
	bands     = []string{BandUnder13, Band13To15, Band16To17, Band18Plus, BandUnknown}
	stages    = []string{StageSignup, StageReassessment}
	levels    = []string{AssuranceAsserted, AssuranceStandard, AssuranceEnhanced, AssuranceStrict}
	evTypes   = []string{EvidenceSelfDeclaration, EvidenceAgeEstimation, EvidenceIDDocument,
		EvidenceDigitalCredential, EvidenceParentalConsent, EvidencePlatformAgeRange}
	outcomes = []string{OutcomeAccepted, OutcomeRejected, OutcomeInconclusive, OutcomeUnverifiable, OutcomeAbsent}
	// methods are what assurance can rest on: the evidence types and
	// assurance re-used from an earlier check of the same account.
	methods = append(slices.Clip(evTypes), MethodReusedAssurance)
)

// Validate checks every field against the schema: version, UUID, time,
// patterns for tenant, jurisdiction, rules and hashes, enums for stage,
// band, decision, assurance, evidence types and outcomes, known signal
// names with bucketed values, ages in 0–130. It returns the first failure
// as a *[FieldError] (wrapping [ErrSchema]) in a fixed field order, so the
// same entry always reports the same field.
//
// This is what makes the log PII-free by construction rather than by
// review: nothing in an entry is free text.
func (e *Entry) Validate() error {
	bad := func(field, reason string) error { return &FieldError{Field: field, Reason: reason} }
	if e.V != Version {
		return bad("v", fmt.Sprintf("must be %d", Version))
	}
	if !isUUID(e.DecisionID) {
		return bad("decision_id", "must be a lower-case UUID")
	}
	if !isEntryTime(e.Time) {
		return bad("time", "must be RFC 3339 UTC with second precision (YYYY-MM-DDTHH:MM:SSZ)")
	}
	if !isRealTime(e.Time) {
		return bad("time", "must be a real date and time")
	}
	if !isSlug(e.Tenant) || hasIdentityShape(e.Tenant) {
		return bad("tenant", "must be a tenant slug ([a-z0-9][a-z0-9._-]{0,63}, no date or long number)")
	}
	if !isJurisdiction(e.Jurisdiction) {
		return bad("jurisdiction", "must be an ISO 3166 code (CC or CC-SUB)")
	}
	if e.Pack != "" && e.Pack != PackDefault && !isJurisdiction(e.Pack) {
		return bad("pack", "must be an ISO 3166 code (CC or CC-SUB) or default")
	}
	if !slices.Contains(stages, e.Stage) {
		return bad("stage", "must be signup or reassessment")
	}
	if e.Age < 0 || e.Age > maxAge {
		return bad("age", "must be a whole number of years, 0 to 130")
	}
	// The upper bound may be open (150: nothing capped it).
	if r := e.AgeRange; r != nil && (r.Min < 0 || r.Max < r.Min || r.Max > 150) {
		return bad("age_range", "must satisfy 0 <= min <= max <= 150")
	}
	if r := e.AgeRange; r != nil && r.Exact && r.Min != r.Max {
		return bad("age_range.exact", "an exact age must have min = max")
	}
	if !slices.Contains(bands, e.Band) {
		return bad("band", "must be one of under_13, 13_15, 16_17, 18_plus, unknown")
	}
	lo, hi := e.Age, e.Age
	if r := e.AgeRange; r != nil {
		lo, hi = r.Min, r.Max
	}
	if e.Band != bandOf(lo, hi) {
		return bad("band", "must be the band of age_range (or of age when age_range is absent)")
	}
	if c := e.Contradiction; c != "" && !isConflict(c) {
		return bad("contradiction", "must be \"<method> vs <method>\" with two known methods")
	}
	if e.DeviceHistory != nil && (*e.DeviceHistory < 0 || *e.DeviceHistory > maxAge) {
		return bad("device_history", "must be a whole number of years, 0 to 130")
	}
	if e.SubjectHistory != nil && (*e.SubjectHistory < 0 || *e.SubjectHistory > maxAge) {
		return bad("subject_history", "must be a whole number of years, 0 to 130")
	}
	var keyBuf [4]string // room for the known signals without allocating
	for _, k := range appendSortedKeys(keyBuf[:0], e.Signals) {
		if err := validateSignal(k, e.Signals[k]); err != nil {
			return err
		}
	}
	if len(e.Evidence) == 0 || len(e.Evidence) > maxEvidence {
		return bad("evidence", fmt.Sprintf("must list 1 to %d items", maxEvidence))
	}
	for i, ev := range e.Evidence {
		if !slices.Contains(evTypes, ev.Type) {
			return bad(fmt.Sprintf("evidence[%d].type", i), "must be a known evidence type")
		}
		if !slices.Contains(outcomes, ev.Outcome) {
			return bad(fmt.Sprintf("evidence[%d].outcome", i), "must be accepted, rejected, inconclusive, unverifiable or absent")
		}
	}
	if !slices.Contains(decisions, e.Decision) {
		return bad("decision", "must be allow, parental_consent_required, additional_verification_required or deny")
	}
	if len(e.Rules) > maxRules {
		return bad("rules", fmt.Sprintf("must list at most %d rule ids", maxRules))
	}
	for i, r := range e.Rules {
		if len(r) > maxRuleLen || !isRuleID(r) {
			return bad(fmt.Sprintf("rules[%d]", i), "must be a rule id (<pack>.<rule>, lower case)")
		}
	}
	if !slices.Contains(levels, e.Assurance.Level) {
		return bad("assurance.level", "must be asserted, standard, enhanced or strict")
	}
	if len(e.Assurance.Methods) > maxMethods {
		return bad("assurance.methods", fmt.Sprintf("must list at most %d methods", maxMethods))
	}
	for i, m := range e.Assurance.Methods {
		if !slices.Contains(methods, m) {
			return bad(fmt.Sprintf("assurance.methods[%d]", i), "must be a known evidence type or reused_assurance")
		}
		if slices.Contains(e.Assurance.Methods[:i], m) {
			return bad(fmt.Sprintf("assurance.methods[%d]", i), "must not repeat a method")
		}
	}
	if !isSlug(e.Policy.ID) || hasIdentityShape(e.Policy.ID) {
		return bad("policy.id", "must be a policy slug ([a-z0-9][a-z0-9._-]{0,63}, no date or long number)")
	}
	if !isPolicyHash(e.Policy.Hash) {
		return bad("policy.hash", "must be sha256: and 64 lower-case hex digits")
	}
	if !isSHA256Hex(e.AttestationSHA256) {
		return bad("attestation_sha256", "must be 64 lower-case hex digits")
	}
	if s := e.Shadow; s != nil {
		if !isPolicyHash(s.PolicyHash) {
			return bad("shadow.policy_hash", "must be sha256: and 64 lower-case hex digits")
		}
		if !slices.Contains(decisions, s.Decision) {
			return bad("shadow.decision", "must be a decision")
		}
	}
	return nil
}

// bandOf is the band of the interval [lo, hi]: the band both ends fall
// in, or unknown when it straddles a boundary (the policy's rule).
func bandOf(lo, hi int) string {
	if b := bandOfAge(lo); b == bandOfAge(hi) {
		return b
	}
	return BandUnknown
}

func bandOfAge(age int) string {
	switch {
	case age < 13:
		return BandUnder13
	case age < 16:
		return Band13To15
	case age < 18:
		return Band16To17
	}
	return Band18Plus
}

// isConflict reports whether c is "<method> vs <method>" naming two known
// methods: fixed labels, never free text.
func isConflict(c string) bool {
	a, b, ok := strings.Cut(c, " vs ")
	return ok && slices.Contains(methods, a) && slices.Contains(methods, b)
}

// validateSignal checks one bucketed signal.
func validateSignal(name string, v float64) error {
	switch name {
	case SignalUnderageLikelihood:
		if math.IsNaN(v) || v < 0 || v > 1 || QuantizeScore(v) != v {
			return &FieldError{Field: "signals." + name, Reason: "must be a score from 0 to 1 in steps of 0.01"}
		}
	case SignalUserReports:
		if math.IsNaN(v) || v < 0 || v > maxReports || v != math.Trunc(v) {
			return &FieldError{Field: "signals." + name, Reason: "must be a whole count from 0 to 1000000"}
		}
	default:
		// The name itself is not quoted: an unknown key is free text.
		return &FieldError{Field: "signals", Reason: "must hold only underage_likelihood and user_reports"}
	}
	return nil
}

// isRealTime reports whether s, already of the form isEntryTime accepts,
// names a real instant that formats back to exactly s. The formatting goes
// to a stack buffer: the same check as comparing with Format's string,
// without allocating that string on every logged decision.
func isRealTime(s string) bool {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return false
	}
	var buf [len("2006-01-02T15:04:05Z07:00")]byte
	return string(t.UTC().AppendFormat(buf[:0], time.RFC3339)) == s
}

// appendSortedKeys appends m's keys to keys and sorts them, so Validate
// reports the same field first for the same entry. With a stack array
// behind keys, a map of the known signals costs no allocation.
func appendSortedKeys(keys []string, m map[string]float64) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
