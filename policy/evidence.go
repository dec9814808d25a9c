package policy

import "time"

// Evidence types a request may carry.
const (
	EvidenceAgeEstimation     = "age_estimation"
	EvidenceIDDocument        = "id_document"
	EvidenceDigitalCredential = "digital_credential"
	EvidenceParentalConsent   = "parental_consent"
	EvidencePlatformAgeRange  = "platform_age_range"
)

// Evidence outcomes. Anything but OutcomeAccepted counts as absent for the
// decision: unverifiable evidence is never a reason to allow.
const (
	OutcomeAccepted     = "accepted"
	OutcomeRejected     = "rejected"     // verified, and says something false (e.g. a bad nonce)
	OutcomeUnverifiable = "unverifiable" // could not be checked (keys unreachable, replay state unknown)
)

// Sources of a platform age range (Apple Declared Age Range, Google Play
// Age Signals).
const (
	RangeSelfDeclared     = "self_declared"
	RangeGuardianDeclared = "guardian_declared"
	RangeVerified         = "verified"
)

// EvidenceItem is one piece of evidence as the platform sent it. Tokens
// are identity data: they live only in the request and are never stored,
// logged or put into an Evidence.
type EvidenceItem struct {
	Type     string
	Provider string // provider id, for provider-signed types
	Token    string // compact JWS, or an SD-JWT presentation for digital_credential
	// platform_age_range only: the range and who declared it. Upper 0
	// means open-ended (e.g. 18+).
	Lower, Upper int
	Source       string
}

// Binding is what a token must be bound to for this request.
type Binding struct {
	Nonce    string // the request's context.nonce ("" when none was sent)
	Audience string // our issuer: the aud a key-binding JWT must name
	Tenant   string // the calling tenant
}

// Evidence is the verified result of one EvidenceItem, reduced to derived
// values: whole-year ages, thresholds, an estimate and its uncertainty —
// never a birth date or a token. Verifiers produce it; fusion consumes it.
type Evidence struct {
	Type     string
	Provider string
	Outcome  string // OutcomeAccepted, OutcomeRejected or OutcomeUnverifiable
	Reason   string // a stable reason code when not accepted (e.g. "signature_invalid", "evidence_unverifiable", "replayed")

	// Age claims, when Outcome is accepted; at most some are set.
	Age         *int         // exact whole-year age (a document's birth date, reduced as of the jurisdiction's today)
	Estimate    *float64     // an age estimate in years
	Uncertainty float64      // the provider's stated uncertainty of Estimate (±years)
	Liveness    bool         // the estimate was taken with a liveness check
	Over        map[int]bool // age_over_NN / age_equal_or_over claims
	Lower       int          // platform_age_range lower bound
	Upper       int          // platform_age_range upper bound (0 = open)
	Source      string       // platform_age_range source
	Consent     bool         // parental_consent: a guardian consented for this signup

	// Expires is when the token stops being valid, for replay protection.
	Expires time.Time

	// Spent is the replay-store key under which the verifier recorded this
	// token's single use, set on accepted evidence when that use can be
	// given back: "ev:" and a keyed HMAC of what the token's signatures
	// cover — never the token, never identity data, and linkable to a token
	// only with the replay key. A check that verified the evidence but then
	// issued no decision (the decision log down, overload, a cancelled
	// request) hands it back to the verifier (Release), so that the retry
	// it invites is not refused as replayed. Fusion ignores it; it is never
	// logged, cached or returned.
	Spent string

	// RestrictOnly marks unverifiable evidence whose signature, issuer,
	// audience, validity, nonce and claims all checked out, and only single
	// use could not be confirmed (the replay store was unavailable). Its
	// claims may restrict — a contradiction that escalates what the
	// declaration alone would allow — but never permit or raise assurance:
	// an outage of the replay store must not turn a child's genuine
	// evidence into an allow, nor let a replayed adult's token count.
	RestrictOnly bool
}

// Accepted reports whether the evidence may be used for the decision.
func (e *Evidence) Accepted() bool { return e.Outcome == OutcomeAccepted }
