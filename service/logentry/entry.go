package logentry

// Version is the schema version this package writes and reads. A reader
// rejects any other, so a change of meaning can never be misread silently.
const Version = 1

// Entry is one decision as the transparency log records it. Field order is
// irrelevant to the encoding ([Entry.Marshal] sorts members); the JSON
// names are part of the public log format and never change within a
// [Version].
type Entry struct {
	// V is the schema version, always [Version].
	V int `json:"v"`
	// DecisionID is the decision's UUID (also the attestation's jti), so a
	// platform or regulator can find the entry for a decision it holds.
	DecisionID string `json:"decision_id"`
	// Time is when the decision was made, RFC 3339 in UTC with second
	// precision: finer times would help link an entry to a person's visit.
	Time string `json:"time"`
	// Tenant is the platform's tenant id (a configured slug).
	Tenant string `json:"tenant"`
	// Jurisdiction is the ISO 3166 code evaluated, e.g. "DE" or "US-UT".
	Jurisdiction string `json:"jurisdiction"`
	// Pack is the policy pack that applied: the jurisdiction's own
	// ("US-FL"), its country's ("US") when it has none, or "default".
	// Absent in entries written before it was recorded.
	Pack string `json:"pack,omitempty"`
	// Stage is "signup" or "reassessment".
	Stage string `json:"stage"`
	// Age is the declared whole-year age (0–130), the policy's
	// declared_age. Replay needs it: a band alone cannot be re-evaluated
	// against a different threshold.
	Age int `json:"age"`
	// AgeRange is the age interval the policy's rules saw (age_min to
	// age_max) whenever it is not the declared age alone: evidence, an OS
	// age range or re-used assurance established it. Absent, the interval
	// is exactly Age. Replay needs it, since Age is the declaration.
	AgeRange *AgeRange `json:"age_range,omitempty"`
	// Band is the age band reported to the platform. It always agrees with
	// AgeRange (or with Age when AgeRange is absent): the band of the
	// interval, or unknown when the interval straddles a band boundary.
	Band string `json:"band"`
	// Contradiction names the two kinds of claim that disagreed at an age
	// the policy knows ("self_declaration vs age_estimation"), when any did.
	Contradiction string `json:"contradiction,omitempty"`
	// Verified is true when a verified claim (an ID document, a digital
	// credential, or assurance re-used at that strength) decided.
	Verified bool `json:"verified,omitempty"`
	// DeviceHistory is the lowest age the same device declared within the
	// anti-hopping window, when there was one; replay needs it to
	// re-evaluate anti-hopping rules. Never the device reference itself.
	DeviceHistory *int `json:"device_history,omitempty"`
	// SubjectHistory is the lowest age the same account (subject_ref)
	// declared within the anti-hopping window, when there was one. Never
	// the subject reference itself.
	SubjectHistory *int `json:"subject_history,omitempty"`
	// HistoryUnavailable is true when a device or account reference was
	// given but its shared history could not be read (an outage of the
	// shared store), which the policy was told.
	HistoryUnavailable bool `json:"history_unavailable,omitempty"`
	// Signals are the platform's risk signals, bucketed: scores quantized to
	// 0.01 (see [QuantizeScore]), counts as integers.
	Signals map[string]float64 `json:"signals"`
	// Evidence lists the kinds of evidence considered and what came of
	// each: never their values.
	Evidence []EvidenceOutcome `json:"evidence"`
	// Decision is the policy's decision.
	Decision string `json:"decision"`
	// Rules are the ids of the rules that fired, as in the response.
	Rules []string `json:"rules"`
	// Assurance is the assurance level and methods reported.
	Assurance Assurance `json:"assurance"`
	// Policy identifies the policy that decided.
	Policy Policy `json:"policy"`
	// AttestationSHA256 is the hex SHA-256 of the compact JWS given to the
	// platform (see [AttestationDigest]), binding the entry to the token
	// without publishing it.
	AttestationSHA256 string `json:"attestation_sha256"`
	// Shadow is the decision a shadow policy would have made, when one is
	// configured (a later feature); absent otherwise.
	Shadow *ShadowOutcome `json:"shadow,omitempty"`
}

// AgeRange bounds an age: at least Min, at most Max whole years.
type AgeRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
	// Exact is true when a claim named the age itself (Min = Max), which
	// the rules then read as `age`; an interval that only closed on one
	// age between thresholds is not exact.
	Exact bool `json:"exact,omitempty"`
}

// EvidenceOutcome is one piece of evidence reduced to its type and outcome.
type EvidenceOutcome struct {
	Type    string `json:"type"`
	Outcome string `json:"outcome"`
}

// Assurance mirrors the response's assurance: an IEEE 2089.1 level and the
// methods behind it.
type Assurance struct {
	Level   string   `json:"level"`
	Methods []string `json:"methods"`
}

// Policy identifies the policy that decided by id and content hash.
type Policy struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
}

// ShadowOutcome is what a shadow policy decided for the same input.
type ShadowOutcome struct {
	PolicyHash string `json:"policy_hash"`
	Decision   string `json:"decision"`
}

// Values of the enumerated fields. They are plain strings, not the policy
// package's types, so consumers of the log need not import the engine.
const (
	DecisionAllow                          = "allow"
	DecisionParentalConsentRequired        = "parental_consent_required"
	DecisionAdditionalVerificationRequired = "additional_verification_required"
	DecisionDeny                           = "deny"

	BandUnder13 = "under_13"
	Band13To15  = "13_15"
	Band16To17  = "16_17"
	Band18Plus  = "18_plus"
	BandUnknown = "unknown"

	// PackDefault is the pack of jurisdictions without their own.
	PackDefault = "default"

	StageSignup       = "signup"
	StageReassessment = "reassessment"

	SignalUnderageLikelihood = "underage_likelihood"
	SignalUserReports        = "user_reports"

	EvidenceSelfDeclaration   = "self_declaration"
	EvidenceAgeEstimation     = "age_estimation"
	EvidenceIDDocument        = "id_document"
	EvidenceDigitalCredential = "digital_credential"
	EvidenceParentalConsent   = "parental_consent"
	EvidencePlatformAgeRange  = "platform_age_range"

	// MethodReusedAssurance is the assurance method of an earlier check's
	// assurance re-used for the same account. It is a method, never an
	// evidence item.
	MethodReusedAssurance = "reused_assurance"

	OutcomeAccepted     = "accepted"
	OutcomeRejected     = "rejected"
	OutcomeInconclusive = "inconclusive"
	OutcomeUnverifiable = "unverifiable"
	OutcomeAbsent       = "absent"

	AssuranceAsserted = "asserted"
	AssuranceStandard = "standard"
	AssuranceEnhanced = "enhanced"
	AssuranceStrict   = "strict"
)

// Decisions lists the decision values, most permissive first; reports use
// this order for their columns.
func Decisions() []string {
	return []string{DecisionAllow, DecisionParentalConsentRequired, DecisionAdditionalVerificationRequired, DecisionDeny}
}

// Bands lists the band values, youngest first.
func Bands() []string {
	return []string{BandUnder13, Band13To15, Band16To17, Band18Plus, BandUnknown}
}
