package verifier

import (
	"errors"
	"fmt"

	"github.com/ageassure/ageassure/policy"
)

// Reason codes of evidence that is not accepted. They are part of the API:
// they appear in responses and decision logs, and platforms branch on them,
// so they never change meaning. Every code but ReasonUnverifiable comes with
// policy.OutcomeRejected.
const (
	// ReasonUnknownProvider: the item names no configured provider, or (for
	// a digital_credential without a provider) no trusted issuer issued it.
	ReasonUnknownProvider = "unknown_provider"
	// ReasonTypeNotAllowed: the provider is not configured for the item's
	// evidence type, or the type is not one ageassure knows.
	ReasonTypeNotAllowed = "type_not_allowed"
	// ReasonMalformedToken: the token is not a well-formed compact JWS or
	// SD-JWT (encoding, JSON, size, header, typ).
	ReasonMalformedToken = "malformed_token"
	// ReasonAlgorithmNotAllowed: the JWS alg is not in the provider's
	// algorithms ("none" and HMAC never are), or an SD-JWT's _sd_alg is
	// not sha-256.
	ReasonAlgorithmNotAllowed = "algorithm_not_allowed"
	// ReasonSignatureInvalid: no key of the provider verifies the signature,
	// including a kid the provider does not publish.
	ReasonSignatureInvalid = "signature_invalid"
	// ReasonIssuerMismatch: iss is not the provider's issuer.
	ReasonIssuerMismatch = "issuer_mismatch"
	// ReasonAudienceMismatch: aud does not name the provider's audience.
	ReasonAudienceMismatch = "audience_mismatch"
	// ReasonExpired: exp has passed (beyond the leeway).
	ReasonExpired = "expired"
	// ReasonNotYetValid: nbf or iat is in the future (beyond the leeway).
	ReasonNotYetValid = "not_yet_valid"
	// ReasonTooOld: iat is older than the provider's max_token_age.
	ReasonTooOld = "too_old"
	// ReasonNonceMismatch: the token's nonce is not the request's, or is
	// missing where a nonce binding is required.
	ReasonNonceMismatch = "nonce_mismatch"
	// ReasonReplayed: the token was already used.
	ReasonReplayed = "replayed"
	// ReasonUnverifiable: the token could not be checked at all — the
	// provider's keys are unreachable, its breaker is open, or the replay
	// store cannot say whether the token is fresh. The evidence counts as
	// absent; it never helps an allow.
	ReasonUnverifiable = "evidence_unverifiable"
	// ReasonClaimsMissing: a claim the evidence type needs is absent (an
	// estimate, a birth date or age_over_NN, consent, exp).
	ReasonClaimsMissing = "claims_missing"
	// ReasonClaimsInvalid: a claim has the wrong type or an impossible value
	// (an estimate of 300 years, a birth date in the future, consent false,
	// a vct the provider is not trusted for).
	ReasonClaimsInvalid = "claims_invalid"
	// ReasonDisclosureInvalid: an SD-JWT disclosure is malformed, not
	// referenced by a digest, repeated, or would overwrite a claim.
	ReasonDisclosureInvalid = "disclosure_invalid"
	// ReasonHolderBindingInvalid: the SD-JWT key-binding JWT is missing or
	// wrong (typ, signature against cnf.jwk, aud, nonce, iat, sd_hash).
	ReasonHolderBindingInvalid = "holder_binding_invalid"
	// ReasonRangeInvalid: a platform_age_range is impossible (lower > upper,
	// outside 0..130, unknown source).
	ReasonRangeInvalid = "range_invalid"
)

// Reasons returns every reason code Verify may produce, so that API
// descriptions, metrics and tests can enumerate them.
func Reasons() []string {
	return []string{
		ReasonUnknownProvider, ReasonTypeNotAllowed, ReasonMalformedToken,
		ReasonAlgorithmNotAllowed, ReasonSignatureInvalid, ReasonIssuerMismatch,
		ReasonAudienceMismatch, ReasonExpired, ReasonNotYetValid, ReasonTooOld,
		ReasonNonceMismatch, ReasonReplayed, ReasonUnverifiable,
		ReasonClaimsMissing, ReasonClaimsInvalid, ReasonDisclosureInvalid,
		ReasonHolderBindingInvalid, ReasonRangeInvalid,
	}
}

// Sentinel errors of configuration problems, wrapped with %w.
var (
	// ErrInvalidProviders means a providers file or list the service must
	// not start with.
	ErrInvalidProviders = errors.New("invalid providers")
	// ErrInvalidOptions means Options that would make verification unsafe
	// (no replay guard, a short replay key).
	ErrInvalidOptions = errors.New("invalid verifier options")
	// ErrKeysUnavailable is wrapped by every failure to obtain a provider's
	// keys (fetch error, open breaker, timeout). It only reaches logs: to
	// callers it is ReasonUnverifiable.
	ErrKeysUnavailable = errors.New("provider keys unavailable")
)

// failure is why one evidence item was not accepted: a reason code for the
// response and a detail for debug logs. The detail never carries token
// content or claim values.
type failure struct {
	reason string
	detail string
	err    error
	// authentic: everything but single use checked out (the replay store
	// could not be asked), so the claims may still restrict; see
	// policy.Evidence.RestrictOnly.
	authentic bool
}

func (f *failure) Error() string {
	if f.err != nil {
		return f.reason + ": " + f.detail + ": " + f.err.Error()
	}
	return f.reason + ": " + f.detail
}

func (f *failure) Unwrap() error { return f.err }

// fail returns a failure with reason and a formatted detail.
func fail(reason, format string, args ...any) *failure {
	return &failure{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// failWrap is fail with an underlying error, for logs.
func failWrap(reason string, err error, format string, args ...any) *failure {
	return &failure{reason: reason, detail: fmt.Sprintf(format, args...), err: err}
}

// outcomeOf maps a reason to its outcome: only ReasonUnverifiable means
// "could not be checked"; everything else was checked and found wanting.
func outcomeOf(reason string) string {
	if reason == ReasonUnverifiable {
		return policy.OutcomeUnverifiable
	}
	return policy.OutcomeRejected
}
