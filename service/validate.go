package service

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ageassure/ageassure/policy"
)

// validateCheck checks every field, collecting all problems so a caller can
// fix a request in one round trip, and derives the whole-year age.
func validateCheck(req *CheckRequest, pol *policy.Policy, now time.Time) (*check, error) {
	c, errs := checkFields(req, pol, now)
	if len(errs) > 0 {
		return nil, validationProblem(errs)
	}
	return c, nil
}

// checkFields does the work of validateCheck: the check, or every field
// error.
func checkFields(req *CheckRequest, pol *policy.Policy, now time.Time) (*check, []FieldError) {
	var errs []FieldError
	add := func(ptr, code, detail string) {
		errs = append(errs, FieldError{Pointer: ptr, Code: code, Detail: detail})
	}
	c := &check{stage: StageSignup}

	switch jur, err := policy.NormalizeJurisdiction(req.Jurisdiction); {
	case req.Jurisdiction == "":
		add("/jurisdiction", FieldRequired, "jurisdiction is required (ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision, e.g. \"DE\" or \"US-UT\")")
	case errors.Is(err, policy.ErrUnknownJurisdiction):
		add("/jurisdiction", FieldUnknownJurisdiction, "Not an assigned ISO 3166 code")
	case err != nil:
		add("/jurisdiction", FieldInvalidJurisdiction, "Expected an ISO 3166-1 alpha-2 code, optionally with a subdivision, e.g. \"DE\" or \"US-UT\"")
	default:
		c.jurisdiction = jur
	}

	switch d := req.Declared; {
	case d == nil:
		add("/declared", FieldRequired, "declared is required: give exactly one of birth_date or age")
	case d.BirthDate != nil && d.Age != nil:
		add("/declared", FieldDeclaredBoth, "Give exactly one of birth_date or age, not both")
	case d.BirthDate == nil && d.Age == nil:
		add("/declared", FieldDeclaredNeither, "Give exactly one of birth_date or age")
	case d.Age != nil:
		if *d.Age < 0 || *d.Age > MaxAge {
			add("/declared/age", FieldAgeOutOfRange, fmt.Sprintf("age must be between 0 and %d", MaxAge))
		} else {
			c.age = *d.Age
		}
	default:
		birth, err := policy.ParseDate(*d.BirthDate)
		if err != nil {
			add("/declared/birth_date", FieldInvalidBirthDate, "Expected a real calendar date as YYYY-MM-DD")
			break
		}
		// The applicant's age is counted in the jurisdiction's calendar; an
		// unknown jurisdiction was reported above and falls back to the
		// policy's default calendar here, only to finish validation.
		today := pol.Today(c.jurisdiction, now)
		age := policy.AgeOn(birth, today)
		switch {
		case birth.After(today):
			add("/declared/birth_date", FieldFutureBirthDate, "birth_date is in the future")
		case age > MaxAge:
			add("/declared/birth_date", FieldAgeOutOfRange, fmt.Sprintf("birth_date gives an age over %d", MaxAge))
		default:
			c.birth, c.age = birth, age
			c.birthDate = &c.birth
		}
	}

	if len(req.Signals) > MaxSignals {
		add("/signals", FieldTooMany, fmt.Sprintf("At most %d signals", MaxSignals))
	} else if len(req.Signals) > 0 {
		c.signals = make(map[string]float64, len(req.Signals))
		for i, s := range req.Signals {
			validateSignal(c, i, s, add)
		}
	}

	if len(req.Evidence) > MaxEvidence {
		add("/evidence", FieldTooMany, fmt.Sprintf("At most %d evidence items, one per type", MaxEvidence))
	} else {
		for i, ev := range req.Evidence {
			validateEvidence(c, i, ev, add)
		}
	}

	if ctx := req.Context; ctx != nil {
		if ctx.Stage != nil {
			switch *ctx.Stage {
			case StageSignup, StageReassessment:
				c.stage = *ctx.Stage
			default:
				add("/context/stage", FieldInvalidStage, `stage must be "signup" or "reassessment"`)
			}
		}
		c.deviceRef = opaqueRef(ctx.DeviceRef, "/context/device_ref", add)
		c.subjectRef = opaqueRef(ctx.SubjectRef, "/context/subject_ref", add)
		c.nonce = opaqueRef(ctx.Nonce, "/context/nonce", add)
	}

	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// validateSignal checks one risk signal: a known type, no duplicate, and
// exactly the value member that type carries.
func validateSignal(c *check, i int, s Signal, add func(ptr, code, detail string)) {
	base := "/signals/" + strconv.Itoa(i)
	switch s.Type {
	case "":
		add(base+"/type", FieldRequired, "type is required")
		return
	case SignalUnderageLikelihood:
		if s.Count != nil {
			add(base+"/count", FieldUnexpectedSignalData, "underage_likelihood carries a score, not a count")
		}
		switch {
		case s.Score == nil:
			add(base+"/score", FieldRequired, "score is required for underage_likelihood")
		case *s.Score < 0 || *s.Score > 1:
			add(base+"/score", FieldInvalidSignalValue, "score must be between 0 and 1")
		default:
			// Scores are used at 0.01 resolution, before evaluation: the
			// decision and its cache key see the same bucketed value, so
			// bucketing can never make a cached decision differ.
			setSignal(c, base, s.Type, math.Round(*s.Score*100)/100, add)
		}
	case SignalUserReports:
		if s.Score != nil {
			add(base+"/score", FieldUnexpectedSignalData, "user_reports carries a count, not a score")
		}
		switch {
		case s.Count == nil:
			add(base+"/count", FieldRequired, "count is required for user_reports")
		case *s.Count < 0 || *s.Count > maxReportCount:
			add(base+"/count", FieldInvalidSignalValue, fmt.Sprintf("count must be between 0 and %d", maxReportCount))
		default:
			setSignal(c, base, s.Type, float64(*s.Count), add)
		}
	default:
		add(base+"/type", FieldUnknownSignalType, `Unknown signal type; known types are "underage_likelihood" and "user_reports"`)
	}
}

func setSignal(c *check, base, typ string, v float64, add func(ptr, code, detail string)) {
	if _, dup := c.signals[typ]; dup {
		add(base+"/type", FieldDuplicateSignal, "Each signal type may appear once")
		return
	}
	c.signals[typ] = v
}

// opaqueRef validates an optional opaque reference. An empty string is an
// error rather than "absent": it is almost always a platform bug that would
// silently switch off anti-hopping or re-use.
func opaqueRef(v *string, ptr string, add func(ptr, code, detail string)) string {
	switch {
	case v == nil:
		return ""
	case *v == "":
		add(ptr, FieldEmpty, "Must not be empty; omit the member instead")
	case len(*v) > MaxRefBytes:
		add(ptr, FieldTooLong, fmt.Sprintf("At most %d bytes", MaxRefBytes))
	default:
		return *v
	}
	return ""
}

// validateEvidence checks one evidence item's shape; whether it is true is
// the verifier's business. Signed types need a token, and a provider except
// a digital credential, whose issuer selects the provider when it names
// none; the OS age range needs its bounds and who declared it, and nothing
// else.
func validateEvidence(c *check, i int, ev Evidence, add func(ptr, code, detail string)) {
	base := "/evidence/" + strconv.Itoa(i)
	item := policy.EvidenceItem{Type: ev.Type}
	for _, prev := range c.evidence {
		if prev.Type == ev.Type {
			add(base+"/type", FieldDuplicateEvidence, "Each evidence type may appear once")
			return
		}
	}
	switch ev.Type {
	case "":
		add(base+"/type", FieldRequired, "type is required")
		return
	case policy.EvidenceAgeEstimation, policy.EvidenceIDDocument, policy.EvidenceDigitalCredential, policy.EvidenceParentalConsent:
		for _, f := range []struct {
			set  bool
			name string
		}{{ev.Lower != nil, "lower"}, {ev.Upper != nil, "upper"}, {ev.Source != nil, "source"}} {
			if f.set {
				add(base+"/"+f.name, FieldUnexpectedEvidence, f.name+" belongs to platform_age_range only")
			}
		}
		switch {
		case ev.Provider == nil && ev.Type == policy.EvidenceDigitalCredential:
			// The credential's issuer selects the provider.
		case ev.Provider == nil:
			add(base+"/provider", FieldRequired, "provider is required for "+ev.Type)
		case *ev.Provider == "":
			add(base+"/provider", FieldEmpty, "Must not be empty")
		case len(*ev.Provider) > maxProviderBytes:
			add(base+"/provider", FieldTooLong, fmt.Sprintf("At most %d bytes", maxProviderBytes))
		default:
			item.Provider = *ev.Provider
		}
		switch {
		case ev.Token == nil:
			add(base+"/token", FieldRequired, "token is required for "+ev.Type)
		case *ev.Token == "":
			add(base+"/token", FieldEmpty, "Must not be empty")
		case len(*ev.Token) > MaxTokenBytes:
			add(base+"/token", FieldTooLong, fmt.Sprintf("At most %d bytes", MaxTokenBytes))
		default:
			item.Token = *ev.Token
		}
	case policy.EvidencePlatformAgeRange:
		if ev.Provider != nil || ev.Token != nil {
			add(base, FieldUnexpectedEvidence, "platform_age_range is unsigned: send lower, upper and source only")
		}
		switch {
		case ev.Lower == nil:
			add(base+"/lower", FieldRequired, "lower is required")
		case *ev.Lower < 0 || *ev.Lower > MaxAge:
			add(base+"/lower", FieldInvalidRange, fmt.Sprintf("lower must be between 0 and %d", MaxAge))
		default:
			item.Lower = *ev.Lower
		}
		// upper 0 is an open range, as omitting it is: the OS signals have no
		// range ending at age 0, and clients that cannot omit a member send
		// its zero value.
		if ev.Upper != nil && *ev.Upper != 0 {
			if *ev.Upper < 0 || *ev.Upper > MaxAge || (ev.Lower != nil && *ev.Upper < *ev.Lower) {
				add(base+"/upper", FieldInvalidRange, "upper must be at least lower and at most "+strconv.Itoa(MaxAge)+"; omit it (or send 0) for an open range (18+)")
			} else {
				item.Upper = *ev.Upper
			}
		}
		switch {
		case ev.Source == nil:
			add(base+"/source", FieldRequired, "source is required: self_declared, guardian_declared or verified")
		case *ev.Source != policy.RangeSelfDeclared && *ev.Source != policy.RangeGuardianDeclared && *ev.Source != policy.RangeVerified:
			add(base+"/source", FieldInvalidRange, "source must be self_declared, guardian_declared or verified")
		default:
			item.Source = *ev.Source
		}
	default:
		add(base+"/type", FieldUnknownEvidenceType, "Unknown evidence type; known types are age_estimation, id_document, digital_credential, parental_consent and platform_age_range")
		return
	}
	c.evidence = append(c.evidence, item)
}
