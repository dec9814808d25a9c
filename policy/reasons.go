package policy

import (
	"slices"
	"time"
)

// ReasonFor rebuilds the Reason Evaluate reports under reasonID when it
// evaluates jurisdiction at now, without evaluating any rule. A cached
// decision keeps rule ids, not text; this turns them back into the message
// and citation of the policy in force. It reports false for an id the
// policy would not produce there (including the fail-safe ids, which are
// never cached).
//
// conflict is the contradiction's description (Fusion.Conflict) for rules
// whose message names it, "" otherwise.
func (p *Policy) ReasonFor(reasonID, jurisdiction, conflict string, now time.Time) (Reason, bool) {
	code, _ := NormalizeJurisdiction(jurisdiction)
	pk, pi, _ := p.selectPack(code, now)
	if pi < 0 {
		return Reason{}, false
	}
	i := slices.Index(pk.reasonIDs, reasonID)
	if i < 0 {
		return Reason{}, false
	}
	r, per := p.rules[i], pk.periods[pi]
	return Reason{
		Rule:     reasonID,
		Decision: r.decision,
		Message:  r.msg.expand(msgArgs{per.minimumAge, per.consentAge, displayCode(code), conflict}),
		Citation: r.citationFor(per),
	}, true
}

// KnownAges returns every age the policy compares against anywhere — the
// top-level thresholds and every period's minimum and consent age —
// ascending. Between two of them a person's position relative to the
// policy does not change, which is what lets earlier assurance be re-used
// until the next one is crossed.
func (p *Policy) KnownAges() []int {
	return slices.Clone(p.knownAges)
}

// knownAgesOf collects the ages of KnownAges from the model.
func knownAgesOf(m *model) []int {
	ages := slices.Clone(m.thresholds)
	add := func(pk *pack) {
		for _, per := range pk.periods {
			ages = append(ages, per.minimumAge, per.consentAge)
		}
	}
	add(m.defaultPack)
	for _, pk := range m.packs {
		add(pk)
	}
	slices.Sort(ages)
	return slices.Compact(ages)
}
