package verifier

import (
	"strings"

	"github.com/ageassure/ageassure/policy"
)

// Plausibility bounds on age claims. A value outside them is a provider
// bug or a forgery, not a person.
const (
	maxAge         = 130
	maxUncertainty = 50
)

// estimationClaims reads an age estimate into ev.
func estimationClaims(c claims, n ClaimNames, ev *policy.Evidence) *failure {
	est, ok, err := c.num(n.Estimate)
	switch {
	case err != nil:
		return fail(ReasonClaimsInvalid, "estimate is not a number")
	case !ok:
		return fail(ReasonClaimsMissing, "no estimate claim")
	case est < 0 || est > maxAge:
		return fail(ReasonClaimsInvalid, "estimate is outside 0..%d", maxAge)
	}
	unc, _, err := c.num(n.Uncertainty)
	if err != nil || unc < 0 || unc > maxUncertainty {
		return fail(ReasonClaimsInvalid, "uncertainty is not a number in 0..%d", maxUncertainty)
	}
	live, _, err := c.boolean(n.Liveness)
	if err != nil {
		return fail(ReasonClaimsInvalid, "liveness is not a boolean")
	}
	ev.Estimate, ev.Uncertainty, ev.Liveness = &est, unc, live
	return nil
}

// documentClaims reads an ID check into ev: a birth date becomes a
// whole-year age as of today (the jurisdiction's date) and is dropped;
// without one, age_over_NN booleans are taken as they are. With a birth
// date, the booleans are ignored: the age says more, and is computed for
// the jurisdiction's today rather than the provider's.
func documentClaims(c claims, n ClaimNames, today policy.Date, ev *policy.Evidence) *failure {
	bd, ok, err := c.str(n.BirthDate)
	if err != nil {
		return fail(ReasonClaimsInvalid, "birth date is not a string")
	}
	if ok {
		birth, err := policy.ParseDate(bd)
		if err != nil {
			return fail(ReasonClaimsInvalid, "birth date is not a YYYY-MM-DD date")
		}
		age := policy.AgeOn(birth, today)
		if age < 0 || age > maxAge {
			return fail(ReasonClaimsInvalid, "birth date gives an age outside 0..%d", maxAge)
		}
		ev.Age = &age
		return nil
	}
	over, f := overClaims(c, n.OverPrefix)
	if f != nil {
		return f
	}
	if len(over) == 0 {
		return fail(ReasonClaimsMissing, "neither a birth date nor age_over claims")
	}
	ev.Over = over
	return nil
}

// consentClaims reads a parental consent, which must say yes.
func consentClaims(c claims, n ClaimNames, ev *policy.Evidence) *failure {
	ok, present, err := c.boolean(n.Consent)
	switch {
	case err != nil:
		return fail(ReasonClaimsInvalid, "consent is not a boolean")
	case !present:
		return fail(ReasonClaimsMissing, "no consent claim")
	case !ok:
		return fail(ReasonClaimsInvalid, "consent is false")
	}
	ev.Consent = true
	return nil
}

// credentialClaims reads the age claims of a reconstructed SD-JWT VC:
// age_equal_or_over {"18": true, …} (SD-JWT VC / EUDI PID) and top-level
// age_over_NN booleans (ISO mDL names).
func credentialClaims(c claims, n ClaimNames, ev *policy.Evidence) *failure {
	over, f := overClaims(c, n.OverPrefix)
	if f != nil {
		return f
	}
	if raw, ok := c["age_equal_or_over"]; ok {
		m, ok := raw.(map[string]any)
		if !ok {
			return fail(ReasonClaimsInvalid, "age_equal_or_over is not an object")
		}
		for k, v := range m {
			nn, ok := threshold(k)
			if !ok {
				continue // not an age; ignore like any unknown claim
			}
			b, ok := v.(bool)
			if !ok {
				return fail(ReasonClaimsInvalid, "age_equal_or_over member is not a boolean")
			}
			if prev, dup := over[nn]; dup && prev != b {
				return fail(ReasonClaimsInvalid, "age_equal_or_over and age_over claims disagree")
			}
			if over == nil {
				over = make(map[int]bool)
			}
			over[nn] = b
		}
	}
	if len(over) == 0 {
		return fail(ReasonClaimsMissing, "no age_equal_or_over or age_over claims")
	}
	ev.Over = over
	return nil
}

// overClaims collects prefix+NN boolean claims (age_over_18: true).
func overClaims(c claims, prefix string) (map[int]bool, *failure) {
	var over map[int]bool
	for k, v := range c {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		nn, ok := threshold(rest)
		if !ok {
			continue
		}
		b, ok := v.(bool)
		if !ok {
			return nil, fail(ReasonClaimsInvalid, "an age_over claim is not a boolean")
		}
		if over == nil {
			over = make(map[int]bool)
		}
		over[nn] = b
	}
	return over, nil
}

// threshold parses an age threshold: 1 to 3 decimal digits, no leading
// zero, at most maxAge.
func threshold(s string) (int, bool) {
	if len(s) == 0 || len(s) > 3 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > maxAge {
		return 0, false
	}
	return n, true
}

// rangeClaims validates a platform age range (Apple Declared Age Range,
// Google Play Age Signals). It is unsigned: it is accepted as a declaration
// with provenance, and the policy decides what a declaration is worth.
func rangeClaims(item policy.EvidenceItem, ev *policy.Evidence) *failure {
	switch {
	case item.Lower < 0 || item.Lower > maxAge:
		return fail(ReasonRangeInvalid, "lower is outside 0..%d", maxAge)
	case item.Upper < 0 || item.Upper > maxAge:
		return fail(ReasonRangeInvalid, "upper is outside 0..%d (0 = open)", maxAge)
	case item.Upper != 0 && item.Lower > item.Upper:
		return fail(ReasonRangeInvalid, "lower is above upper")
	}
	switch item.Source {
	case policy.RangeSelfDeclared, policy.RangeGuardianDeclared, policy.RangeVerified:
	default:
		return fail(ReasonRangeInvalid, "unknown source")
	}
	ev.Lower, ev.Upper, ev.Source = item.Lower, item.Upper, item.Source
	return nil
}
