package policy

import (
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Trace is how Evaluate reached a result: the packs it tried, the period in
// force, and every rule and obligation of the policy with why it did or
// did not apply. `ageassure policy explain` prints it, so a policy author
// can see exactly which rule decided and why the others did not.
type Trace struct {
	// Jurisdiction is the requested code, normalized ("" when none or
	// invalid, which goes straight to the default pack).
	Jurisdiction string `json:"jurisdiction"`
	// Chain is the fallback chain in the order tried: the code, its
	// country, the default pack; the last step tried is the pack applied.
	Chain []PackStep `json:"chain"`
	// Pack is the pack applied ("default" for the default pack).
	Pack string `json:"pack"`
	// Period is the pack's period in force, nil when there is none.
	Period *PeriodInfo `json:"period,omitempty"`
	AsOf   Date        `json:"as_of"`
	Now    time.Time   `json:"now"`
	// Rules lists every rule of the policy, in policy order, including
	// those not in force.
	Rules []RuleTrace `json:"rules"`
	// Obligations lists every obligation of the policy, in policy order.
	Obligations []ObligationTrace `json:"obligations"`

	ruleIdx []int // index in Rules of each in-force rule (Policy.rules)
}

// PackStep is one step of the fallback chain.
type PackStep struct {
	Code    string `json:"code"`
	HasPack bool   `json:"has_pack"` // the policy has a pack for Code
	InForce bool   `json:"in_force"` // that pack has an in-force period on its date
	AsOf    Date   `json:"as_of"`    // the date in that pack's timezone
	Applied bool   `json:"applied"`  // this pack was applied
}

// PeriodInfo is a pack period as the trace and the policy statement show it.
type PeriodInfo struct {
	From        Date   `json:"effective_from"`
	Until       Date   `json:"effective_until"` // zero: open-ended
	MinimumAge  int    `json:"minimum_age"`
	ConsentAge  int    `json:"consent_age"`
	LegalStatus string `json:"legal_status"`
	// Applies: the status takes effect (in_force, or enacted from its
	// date); enjoined and pending periods are data only.
	Applies    bool   `json:"applies"`
	Citation   string `json:"citation"`
	Confidence string `json:"confidence,omitempty"`
	Reviewed   Date   `json:"reviewed,omitzero"` // zero when the policy does not say
}

// RuleTrace is one rule in a Trace.
type RuleTrace struct {
	ID          string   `json:"id"`
	ReasonID    string   `json:"reason_id"` // as it would appear in reasons for the pack applied
	Decision    Decision `json:"decision"`
	When        string   `json:"when"`
	LegalStatus string   `json:"legal_status"`
	From        Date     `json:"effective_from"`
	Until       Date     `json:"effective_until"`
	InForce     bool     `json:"in_force"` // legal_status takes effect: in_force, or enacted (from its effective_from)
	InDate      bool     `json:"in_date"`  // its dates cover AsOf
	InScope     bool     `json:"in_scope"` // its scope selects the check
	Evaluated   bool     `json:"evaluated"`
	Fired       bool     `json:"fired"` // evaluated to true (or failed: a failure counts as fired)
	Err         string   `json:"error,omitempty"`
}

// ObligationTrace is one obligation in a Trace.
type ObligationTrace struct {
	ID          string `json:"id"`
	Bands       []Band `json:"bands"`
	LegalStatus string `json:"legal_status"`
	InForce     bool   `json:"in_force"`
	InDate      bool   `json:"in_date"`
	InScope     bool   `json:"in_scope"`
	BandMatch   bool   `json:"band_match"`
	Attached    bool   `json:"attached"`
}

// Explain evaluates in exactly as Evaluate does and also returns the
// trace. It is slower than Evaluate (it records every step); use it for
// tooling, not on the request path.
func (p *Policy) Explain(in Input) (Result, Trace) {
	tr := Trace{Rules: make([]RuleTrace, len(p.m.rules))}
	for i, r := range p.m.rules {
		tr.Rules[i] = RuleTrace{ID: r.id, Decision: r.decision, When: r.when, LegalStatus: string(r.status),
			From: r.from, Until: r.until, InForce: r.status.applies()}
		if r.status.applies() {
			tr.ruleIdx = append(tr.ruleIdx, i)
		}
	}
	var res Result
	p.evaluate(&in, &tr, &res)

	now := in.Now
	if !tr.Now.IsZero() {
		now = tr.Now // evaluate's instant, time.Now() when in.Now was zero
	} else if now.IsZero() {
		now = time.Now()
	}
	code, _ := NormalizeJurisdiction(in.Jurisdiction)
	tr.Jurisdiction, tr.Now = code, now
	tr.Chain = p.chain(code, now)
	pk, pi, asOf := p.selectPack(code, now)
	tr.Pack, tr.AsOf = pk.code, asOf
	if pi >= 0 {
		info := pk.periods[pi].info()
		tr.Period = &info
	}
	country := countryOf(code)
	prefix := pk.code
	if prefix != defaultPackCode {
		prefix = strings.ToLower(prefix)
	}
	for i, r := range p.m.rules {
		rt := &tr.Rules[i]
		rt.ReasonID = prefix + "." + r.id
		if !rt.Evaluated {
			rt.InDate = r.covers(asOf)
			rt.InScope = r.scope.matches(code, country, pk)
		}
	}
	tr.Obligations = make([]ObligationTrace, len(p.m.obligations))
	for i, o := range p.m.obligations {
		ot := ObligationTrace{ID: o.id, Bands: o.bands, LegalStatus: string(o.status),
			InForce: o.status.applies(), InDate: o.covers(asOf),
			InScope: o.scope.matches(code, country, pk), BandMatch: o.hasBand(res.Band)}
		ot.Attached = pi >= 0 && ot.InForce && ot.InDate && ot.InScope && ot.BandMatch && res.Decision != Deny
		tr.Obligations[i] = ot
	}
	return res, tr
}

// chain is the fallback chain selectPack walks, step by step.
func (p *Policy) chain(code string, now time.Time) []PackStep {
	var steps []PackStep
	try := func(c string, pk *pack) bool {
		st := PackStep{Code: c, HasPack: pk != nil}
		if pk != nil {
			i, d := pk.periodAt(now)
			st.InForce, st.AsOf = i >= 0, d
		}
		st.Applied = st.InForce
		steps = append(steps, st)
		return st.Applied
	}
	if code != "" {
		if try(code, p.byCode[code]) {
			return steps
		}
		if len(code) > 2 && try(code[:2], p.byCode[code[:2]]) {
			return steps
		}
	}
	try(defaultPackCode, p.m.defaultPack)
	steps[len(steps)-1].Applied = true // the default applies even with no period (fail-safe)
	return steps
}

func (per *period) info() PeriodInfo {
	return PeriodInfo{From: per.from, Until: per.until, MinimumAge: per.minimumAge, ConsentAge: per.consentAge,
		LegalStatus: string(per.status), Applies: per.status.applies(), Citation: per.citation, Confidence: per.confidence, Reviewed: per.reviewed}
}

// start records the pack applied; evaluate calls it once rules are about
// to run.
func (tr *Trace) start(asOf Date, now time.Time) {
	tr.AsOf, tr.Now = asOf, now
}

// skipped records an in-force rule that was not evaluated.
func (tr *Trace) skipped(i int, r *rule, asOf Date, code, country string, pk *pack) {
	rt := &tr.Rules[tr.ruleIdx[i]]
	rt.InDate = r.covers(asOf)
	rt.InScope = r.scope.matches(code, country, pk)
}

// evaluated records a rule's CEL result.
func (tr *Trace) evaluated(i int, out ref.Val, err error) {
	rt := &tr.Rules[tr.ruleIdx[i]]
	rt.InDate, rt.InScope, rt.Evaluated = true, true, true
	if err != nil {
		rt.Err, rt.Fired = err.Error(), true
		return
	}
	b, ok := out.(types.Bool)
	if !ok {
		rt.Err, rt.Fired = fmt.Sprintf("result is %s, not bool", out.Type().TypeName()), true
		return
	}
	rt.Fired = bool(b)
}
