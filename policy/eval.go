package policy

import (
	"fmt"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// Input is what Evaluate decides on. It holds an age, never a birth date:
// the caller computes the age with Today and AgeOn and keeps the birth date
// out of everything downstream.
type Input struct {
	Jurisdiction  string             // canonical code, e.g. "US-UT"; "" or invalid uses the default pack
	Stage         string             // "signup" or "reassessment"
	Age           int                // whole-year age on Today(Jurisdiction, Now)
	Signals       map[string]float64 // present risk signals by type (see KnownSignals); may be nil
	DeviceHistory bool               // the device declared an age within the anti-hopping window
	DeviceMinAge  int                // the lowest age it declared then; only meaningful with DeviceHistory
	// SubjectHistory and SubjectMinAge are DeviceHistory and DeviceMinAge
	// for the account (subject_ref): the lowest age it declared within the
	// anti-hopping window, on any device.
	SubjectHistory bool
	SubjectMinAge  int
	// HistoryUnavailable: a device or account reference was given but its
	// declared-age history could not be read (the shared store is down),
	// so the absence of history is not certain. Rules see it as
	// history_unavailable; the built-in policy steps up what it would
	// otherwise allow on a declaration alone.
	HistoryUnavailable bool
	Now                time.Time // evaluation instant; zero means time.Now()
	// Evidence is the verified evidence (only accepted items are used).
	Evidence []Evidence
	// Prior is assurance re-used from an earlier check of the account.
	Prior *Prior
	// Fused, when set, is what the claims established, given instead of
	// fused from Age, Prior and Evidence (which are then ignored): a logged
	// decision records this derived view, not the evidence, and a replay
	// must let the rules see exactly what they saw.
	Fused *Fused
}

// Reason is one rule that fired, so a decision can be explained and audited
// rule by rule.
type Reason struct {
	Rule     string   // "<lower-case pack code>.<rule id>", e.g. "de.digital-consent-age"
	Decision Decision // what this rule alone decided
	Message  string   // short, user-presentable; never contains the age
	Citation string   // the legal or policy source
}

// Threshold says whether the age is at or over an age of interest, for the
// attestation's age_equal_or_over claim.
type Threshold struct {
	Age   int
	Met   bool
	Known bool // false when the evidence cannot tell (an inconclusive estimate)
}

// Result is a decision with everything needed to explain, attest and log it.
type Result struct {
	Decision    Decision
	Band        Band
	Reasons     []Reason    // every rule that fired, in policy order
	Obligations []string    // obligation ids for the band; none when the decision is deny
	Thresholds  []Threshold // ascending, unique: policy thresholds plus the pack's minimum and consent ages
	// Pack is the pack applied: the first of the requested code's own
	// pack ("US-FL", "CA-QC"), its country's ("US"), and "default" that
	// has a period in force (or enacted) on the day. A subdivision without
	// a pack of its own, or whose pack is not in force that day (enjoined,
	// or before its first period), is decided by its country's pack, and
	// Pack says so: callers should report and log it beside the requested
	// jurisdiction.
	Pack       string
	MinimumAge int
	ConsentAge int
	AsOf       Date    // the date in the pack's timezone used for effective dating
	EvalErrors []error // runtime problems (should not happen after type checking), for the caller to log
	// Fusion is what the declaration, prior assurance and evidence
	// established together: the age interval, assurance, consent and any
	// contradiction.
	Fusion Fusion
}

// Reason ids of the fail-safe outcomes, which no policy rule can produce
// (rule reason ids are always prefixed with a pack code).
const (
	ReasonNoRuleMatched = "policy.no-rule-matched"
	ReasonNoPack        = "policy.no-pack-in-force"
	ReasonInternalError = "policy.internal-error"
)

// Evaluate applies the policy to one check. It never fails and never
// panics: whatever goes wrong (no rule matched, a rule errors at run time,
// no pack in force) degrades to AdditionalVerificationRequired, because a
// missing answer must never become an allow.
//
// The pack is chosen by falling back from the code to its country to the
// default pack; then every in-force rule that is in date and in scope runs,
// in policy order, and the most restrictive fired decision wins.
func (p *Policy) Evaluate(in Input) (res Result) {
	p.evaluate(&in, nil, &res)
	return res
}

// evaluate is Evaluate, recording into tr when it is not nil (see
// Explain). The trace costs one nil check per rule when off, so Evaluate
// and Explain share one code path and cannot disagree.
func (p *Policy) evaluate(in *Input, tr *Trace, res *Result) {
	defer func() {
		if r := recover(); r != nil {
			*res = Result{
				Decision: AdditionalVerificationRequired,
				Band:     BandOf(in.Age),
				Reasons: []Reason{{
					Rule:     ReasonInternalError,
					Decision: AdditionalVerificationRequired,
					Message:  "The age policy could not be evaluated; additional verification is required.",
					Citation: "ageassure fail-safe",
				}},
				Pack:       res.Pack,
				EvalErrors: append(res.EvalErrors, fmt.Errorf("policy: panic during evaluation: %v", r)),
			}
		}
	}()

	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	code, err := NormalizeJurisdiction(in.Jurisdiction)
	if err != nil && in.Jurisdiction != "" {
		res.EvalErrors = append(res.EvalErrors, fmt.Errorf("policy: using the default pack: %w", err))
	}
	pk, pi, asOf := p.selectPack(code, now)
	if in.Fused != nil {
		res.Fusion = p.refuse(in.Age, in.Fused)
	} else {
		res.Fusion = p.fuse(in.Age, in.Prior, in.Evidence)
	}
	fu := &res.Fusion
	res.Band = fu.band()
	res.Pack = pk.code
	res.AsOf = asOf
	if pi < 0 {
		res.Decision = AdditionalVerificationRequired
		res.Reasons = []Reason{{
			Rule:     ReasonNoPack,
			Decision: AdditionalVerificationRequired,
			Message:  "No age policy is in force for this jurisdiction and date; additional verification is required.",
			Citation: "ageassure fail-safe",
		}}
		return
	}
	per := pk.periods[pi]
	res.MinimumAge, res.ConsentAge = per.minimumAge, per.consentAge
	country := countryOf(code)

	act := &activation{
		age:          fu.Age,
		ageMin:       fu.AgeMin,
		ageMax:       fu.AgeMax,
		declaredAge:  in.Age,
		fusion:       fu,
		band:         res.Band,
		stage:        in.Stage,
		jurisdiction: code,
		country:      country,
		pack:         pk,
		minimumAge:   per.minimumAge,
		consentAge:   per.consentAge,
		params:       p.params,
		deviceMinAge: in.DeviceMinAge,
		subjectMin:   in.SubjectMinAge,
		historyOut:   types.Bool(in.HistoryUnavailable),
		now:          now,
	}
	if in.DeviceHistory {
		act.deviceHistory = types.True
	} else {
		act.deviceHistory = types.False
		act.deviceMinAge = 0
	}
	if in.SubjectHistory {
		act.subjectHistory = types.True
	} else {
		act.subjectHistory = types.False
		act.subjectMin = 0
	}
	act.signals.set(in.Signals)

	best := Decision("")
	if tr != nil {
		tr.start(asOf, now)
	}
	for i, r := range p.rules {
		if !r.covers(asOf) || !r.scope.matches(code, country, pk) {
			if tr != nil {
				tr.skipped(i, r, asOf, code, country, pk)
			}
			continue
		}
		d := r.decision
		msg := ""
		out, _, err := r.prog.Eval(act)
		if tr != nil {
			tr.evaluated(i, out, err)
		}
		if err == nil {
			if b, ok := out.(types.Bool); !ok {
				err = fmt.Errorf("result is %s, not bool", out.Type().TypeName())
			} else if !b {
				continue
			}
		}
		if err != nil {
			d = AdditionalVerificationRequired
			msg = "This policy rule could not be evaluated; additional verification is required."
			res.EvalErrors = append(res.EvalErrors, fmt.Errorf("policy: rule %s: %w", pk.reasonIDs[i], err))
		} else {
			msg = r.msg.expand(msgArgs{per.minimumAge, per.consentAge, displayCode(code), fu.Conflict})
		}
		if res.Reasons == nil {
			res.Reasons = make([]Reason, 0, 4)
		}
		res.Reasons = append(res.Reasons, Reason{
			Rule:     pk.reasonIDs[i],
			Decision: d,
			Message:  msg,
			Citation: r.citationFor(per),
		})
		if d.Precedence() > best.Precedence() {
			best = d
		}
	}
	if best == "" {
		best = AdditionalVerificationRequired
		res.Reasons = []Reason{{
			Rule:     ReasonNoRuleMatched,
			Decision: AdditionalVerificationRequired,
			Message:  "No policy rule matched; additional verification is required.",
			Citation: "ageassure fail-safe",
		}}
	}
	res.Decision = best

	ts := pk.thresholds[pi]
	res.Thresholds = make([]Threshold, len(ts))
	for i, t := range ts {
		v := fu.verdictAt(t)
		res.Thresholds[i] = Threshold{Age: t, Met: v == pass, Known: v != unknown}
	}
	if best != Deny {
		for _, o := range p.obligations {
			if o.covers(asOf) && o.hasBand(res.Band) && o.scope.matches(code, country, pk) {
				res.Obligations = append(res.Obligations, o.id)
			}
		}
	}
}

// displayCode is how a message names the jurisdiction.
func displayCode(code string) string {
	if code == "" {
		return "this jurisdiction"
	}
	return code
}

// citationFor expands "{citation}" to the citation of the period in force.
func (r *rule) citationFor(per *period) string {
	if !r.citeExpands {
		return r.citation
	}
	return r.citePrefix + per.citation + r.citeSuffix
}

func (o *obligation) hasBand(b Band) bool {
	for _, x := range o.bands {
		if x == b {
			return true
		}
	}
	return false
}

// matches reports whether a scope selects a check for the requested code,
// its country and the pack applied: a listed code matches the requested
// code, its country or the pack; a listed group matches the pack's groups.
func (s *scope) matches(code, country string, pk *pack) bool {
	if len(s.jurisdictions) == 0 && len(s.groups) == 0 {
		return true
	}
	for _, j := range s.jurisdictions {
		if j == code || j == country || j == pk.code {
			return true
		}
	}
	for _, g := range s.groups {
		for _, pg := range pk.groups {
			if g == pg {
				return true
			}
		}
	}
	return false
}

// activation supplies the CEL variables by name with a switch, so a rule
// evaluation needs no map and converts only the variables it reads.
type activation struct {
	age           int
	ageMin        int
	ageMax        int
	declaredAge   int
	fusion        *Fusion
	band          Band
	stage         string
	jurisdiction  string
	country       string
	pack          *pack
	minimumAge    int
	consentAge    int
	signals       signalMap
	params        ref.Val
	deviceHistory ref.Val
	deviceMinAge  int
	// subjectHistory and subjectMin are the account's, as deviceHistory
	// and deviceMinAge are the device's.
	subjectHistory ref.Val
	subjectMin     int
	historyOut     types.Bool
	now            time.Time
}

var _ interpreter.Activation = (*activation)(nil)

// Prebuilt CEL strings for values that repeat on every request.
var (
	bandVals = [...]ref.Val{types.String(BandUnder13), types.String(Band13To15), types.String(Band16To17), types.String(Band18Plus)}
	signup   = types.String("signup")
	reassess = types.String("reassessment")
)

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case varAge:
		return types.Int(a.age), true
	case varBand:
		switch a.band {
		case BandUnder13:
			return bandVals[0], true
		case Band13To15:
			return bandVals[1], true
		case Band16To17:
			return bandVals[2], true
		case Band18Plus:
			return bandVals[3], true
		}
		return types.String(a.band), true
	case varStage:
		switch a.stage {
		case "signup":
			return signup, true
		case "reassessment":
			return reassess, true
		}
		return types.String(a.stage), true
	case varJurisdiction:
		if a.jurisdiction == a.pack.code {
			return a.pack.codeVal, true
		}
		return types.String(a.jurisdiction), true
	case varCountry:
		if a.country == a.pack.code {
			return a.pack.codeVal, true
		}
		return types.String(a.country), true
	case varMinimumAge:
		return types.Int(a.minimumAge), true
	case varConsentAge:
		return types.Int(a.consentAge), true
	case varSignals:
		return &a.signals, true
	case varParams:
		return a.params, true
	case varDeviceHistory:
		return a.deviceHistory, true
	case varDeviceMinAge:
		return types.Int(a.deviceMinAge), true
	case varSubjectHistory:
		return a.subjectHistory, true
	case varSubjectMinAge:
		return types.Int(a.subjectMin), true
	case varHistoryUnavailable:
		return a.historyOut, true
	case varNow:
		return types.Timestamp{Time: a.now}, true
	case varAgeMin:
		return types.Int(a.ageMin), true
	case varAgeMax:
		return types.Int(a.ageMax), true
	case varDeclaredAge:
		return types.Int(a.declaredAge), true
	case varConsent:
		return types.Bool(a.fusion.Consent), true
	case varContradiction:
		return types.Bool(a.fusion.Contradiction), true
	case varAssurance:
		return types.String(a.fusion.Assurance.Level), true
	case varVerified:
		return types.Bool(a.fusion.Verified), true
	case varMethods:
		return types.NewStringList(types.DefaultTypeAdapter, a.fusion.Assurance.Methods), true
	}
	return nil, false
}

// Parent implements interpreter.Activation; there is no parent scope.
func (a *activation) Parent() interpreter.Activation { return nil }
