package policy

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Statement is the policy as an auditor or a regulator reads it: per
// jurisdiction, the ages in force and when (with each period's legal
// status, review date and citation), the rules and obligations that apply
// with their citations, how evidence is weighed, what is kept as data but
// not in force, and the bills on the watch list. `ageassure policy doc` renders it as Markdown or
// HTML; it is derived from the loaded policy, so it cannot drift from what
// is enforced, and it names the policy hash every decision carries.
type Statement struct {
	PolicyID    string `json:"policy_id"`
	Hash        string `json:"hash"`
	Description string `json:"description"`
	// AsOf is the day "current" refers to.
	AsOf              Date               `json:"as_of"`
	Params            map[string]float64 `json:"params"`
	Thresholds        []int              `json:"thresholds"`
	AntiHoppingWindow time.Duration      `json:"anti_hopping_window"`
	// Methods are the accepted evidence methods with the assurance level
	// each earns.
	Methods []StatementMethod `json:"methods"`
	// EstimationBuffer is the years of doubt added to an age estimate's own
	// uncertainty; EstimationBuffers overrides it at some ages.
	EstimationBuffer  float64         `json:"estimation_buffer"`
	EstimationBuffers []AgeBuffer     `json:"estimation_buffers"`
	Jurisdictions     []StatementPack `json:"jurisdictions"` // by code, the default pack last
	// Obligations are every obligation of the policy, in policy order,
	// whatever its legal status, with the jurisdictions it applies to.
	Obligations []StatementObligation `json:"obligations"`
	// NotInForce lists the enjoined periods, rules and obligations: kept
	// as data, never applied.
	NotInForce []StatementItem `json:"not_in_force"`
	// WatchList lists the pending ones (bills): recorded, never applied.
	WatchList []StatementItem `json:"watch_list"`
}

// StatementMethod is an accepted evidence method.
type StatementMethod struct {
	Method      string `json:"method"`
	Level       string `json:"level"` // IEEE 2089.1 assurance level; "" for consent, which proves no age
	Description string `json:"description"`
}

// AgeBuffer is an estimation buffer at one age.
type AgeBuffer struct {
	Age    int     `json:"age"`
	Buffer float64 `json:"buffer"`
}

// StatementPack is one jurisdiction (or the default pack).
type StatementPack struct {
	Code     string   `json:"code"` // "default" for the default pack
	Name     string   `json:"name"`
	Groups   []string `json:"groups"`
	Timezone string   `json:"timezone"`
	// FallsBackTo is where a check for this code goes on a day the pack
	// has no period in force: its country's pack (for a subdivision whose
	// country has one) or "default"; empty for the default pack.
	FallsBackTo string `json:"falls_back_to,omitempty"`
	// Current is the period in force on AsOf; nil when none is (checks
	// then fall back to the country's pack or the default).
	Current *PeriodInfo `json:"current,omitempty"`
	// Periods are the pack's periods, oldest first, except pending ones
	// (which are on the watch list): in force, enacted (applied from their
	// date) and enjoined (never applied), each with its legal status.
	Periods     []PeriodInfo          `json:"periods"`
	Rules       []StatementRule       `json:"rules"`
	Obligations []StatementObligation `json:"obligations"`
}

// StatementRule is a rule as it applies in one jurisdiction: the message
// and citation as a user there would see them today.
type StatementRule struct {
	ID          string   `json:"id"`       // the reason id, e.g. "de.minimum-age"
	Decision    Decision `json:"decision"` // what it asks for
	Message     string   `json:"message"`
	Citation    string   `json:"citation"`
	LegalStatus string   `json:"legal_status"`
	From        Date     `json:"effective_from"`
	Until       Date     `json:"effective_until"`
	// Only names the subdivisions it is limited to (e.g. US-UT), empty
	// when it applies to every check of the pack.
	Only []string `json:"only,omitempty"`
}

// StatementObligation is an obligation, as it applies in one jurisdiction
// (StatementPack) or in the policy as a whole (Statement.Obligations).
type StatementObligation struct {
	ID          string   `json:"id"`
	Text        string   `json:"text"`
	Citation    string   `json:"citation"`
	Bands       []string `json:"bands"`
	LegalStatus string   `json:"legal_status"`
	Applies     bool     `json:"applies"` // the status takes effect (in_force, enacted)
	From        Date     `json:"effective_from"`
	Until       Date     `json:"effective_until"`
	Reviewed    Date     `json:"reviewed,omitzero"`
	Only        []string `json:"only,omitempty"`
	// Scope says where it applies: codes and groups, or "every jurisdiction".
	Scope string `json:"scope"`
}

// StatementItem is something the policy records but does not apply.
type StatementItem struct {
	Kind        string `json:"kind"`           // period, rule or obligation
	Subject     string `json:"subject"`        // the jurisdiction, rule or obligation id
	Name        string `json:"name,omitempty"` // the jurisdiction's name, for periods
	LegalStatus string `json:"legal_status"`
	From        Date   `json:"effective_from"`
	Until       Date   `json:"effective_until"`
	Reviewed    Date   `json:"reviewed,omitzero"`
	Summary     string `json:"summary"`
	Citation    string `json:"citation"`
}

// methodDescriptions say what each method is, for readers of the statement.
var methodDescriptions = map[string]string{
	MethodSelfDeclaration:               "The applicant's own declaration of a birth date or age.",
	EvidencePlatformAgeRange:            "The operating system's age signal (Apple Declared Age Range, Google Play Age Signals): a declaration with provenance, unsigned.",
	EvidenceAgeEstimation:               "A provider-signed age estimate with its uncertainty; it passes an age only beyond its uncertainty plus the buffer.",
	EvidenceAgeEstimation + "_liveness": "An age estimate taken with a liveness check.",
	EvidenceIDDocument:                  "A provider-signed identity document check (a birth date reduced to an age, or age_over_NN claims).",
	EvidenceDigitalCredential:           "A digital age credential (SD-JWT VC) disclosing age_equal_or_over claims, bound to the holder and this request.",
	EvidenceParentalConsent:             "A provider-signed statement that a guardian consented to this signup; it proves consent, not an age.",
}

// Statement builds the policy statement as of a day.
func (p *Policy) Statement(asOf Date) *Statement {
	m := p.m
	s := &Statement{
		PolicyID: m.id, Hash: p.hash, Description: m.description, AsOf: asOf,
		Params: m.params, Thresholds: m.thresholds, AntiHoppingWindow: m.window,
		EstimationBuffer: m.fusion.buffer,
	}
	for _, k := range levelKeys {
		s.Methods = append(s.Methods, StatementMethod{Method: k, Level: m.fusion.levels[k], Description: methodDescriptions[k]})
	}
	s.Methods = append(s.Methods, StatementMethod{Method: EvidenceParentalConsent, Description: methodDescriptions[EvidenceParentalConsent]})
	for age, b := range m.fusion.thresholdBuffers {
		s.EstimationBuffers = append(s.EstimationBuffers, AgeBuffer{Age: age, Buffer: b})
	}
	slices.SortFunc(s.EstimationBuffers, func(a, b AgeBuffer) int { return a.Age - b.Age })

	for _, pk := range append(slices.Clone(m.packs), m.defaultPack) {
		s.Jurisdictions = append(s.Jurisdictions, p.statementPack(pk, asOf))
		for _, per := range pk.periods {
			if !per.status.applies() {
				s.addItem(StatementItem{Kind: "period", Subject: pk.code, Name: pk.name, LegalStatus: string(per.status),
					From: per.from, Until: per.until, Reviewed: per.reviewed, Citation: per.citation,
					Summary: "minimum age " + strconv.Itoa(per.minimumAge) + ", digital age of consent " + strconv.Itoa(per.consentAge)})
			}
		}
	}
	for _, r := range m.rules {
		if !r.status.applies() {
			s.addItem(StatementItem{Kind: "rule", Subject: r.id, LegalStatus: string(r.status),
				From: r.from, Until: r.until, Reviewed: r.reviewed, Citation: r.citation, Summary: string(r.decision) + " when " + r.when})
		}
	}
	for _, o := range m.obligations {
		s.Obligations = append(s.Obligations, statementObligation(o, nil))
		if !o.status.applies() {
			s.addItem(StatementItem{Kind: "obligation", Subject: o.id, LegalStatus: string(o.status),
				From: o.from, Until: o.until, Reviewed: o.reviewed, Citation: o.citation, Summary: o.text + " (" + scopeText(&o.scope) + ")"})
		}
	}
	return s
}

// addItem files an entry that does not take effect: a bill on the watch
// list, anything else (enjoined) under NotInForce.
func (s *Statement) addItem(it StatementItem) {
	if it.LegalStatus == string(statusPending) {
		s.WatchList = append(s.WatchList, it)
		return
	}
	s.NotInForce = append(s.NotInForce, it)
}

func statementObligation(o *obligation, only []string) StatementObligation {
	return StatementObligation{ID: o.id, Text: o.text, Citation: o.citation, Bands: bandNames(o.bands),
		LegalStatus: string(o.status), Applies: o.status.applies(), From: o.from, Until: o.until, Reviewed: o.reviewed,
		Only: only, Scope: scopeText(&o.scope)}
}

func (p *Policy) statementPack(pk *pack, asOf Date) StatementPack {
	sp := StatementPack{Code: pk.code, Name: pk.name, Groups: pk.groups, Timezone: pk.timezone}
	switch {
	case pk.code == defaultPackCode:
	case len(pk.code) > 2 && p.byCode[pk.code[:2]] != nil:
		sp.FallsBackTo = pk.code[:2]
	default:
		sp.FallsBackTo = defaultPackCode
	}
	var current *period
	for _, per := range pk.periods {
		if per.status == statusPending {
			continue
		}
		sp.Periods = append(sp.Periods, per.info())
		if per.status.applies() && per.covers(asOf) {
			current = per
			info := per.info()
			sp.Current = &info
		}
	}
	code := pk.code
	if code == defaultPackCode {
		code = ""
	}
	prefix := strings.ToLower(pk.code) + "."
	for _, r := range p.rules {
		applies, only := p.appliesTo(&r.scope, pk, asOf)
		if !applies {
			continue
		}
		sr := StatementRule{ID: prefix + r.id, Decision: r.decision, LegalStatus: string(r.status), From: r.from, Until: r.until, Only: only}
		if current != nil {
			sr.Message = r.msg.expand(msgArgs{current.minimumAge, current.consentAge, displayCode(code), "the contradicting claims"})
			sr.Citation = r.citationFor(current)
		} else {
			sr.Message = r.message
			sr.Citation = strings.Replace(r.citation, "{citation}", "the citation of the period in force", 1)
		}
		sp.Rules = append(sp.Rules, sr)
	}
	for _, o := range p.obligations {
		applies, only := p.appliesTo(&o.scope, pk, asOf)
		if !applies {
			continue
		}
		sp.Obligations = append(sp.Obligations, statementObligation(o, only))
	}
	return sp
}

// appliesTo reports whether a scope selects checks handled by pk on asOf:
// all of them, or (only) those of the listed codes the fallback chain hands
// to pk (subdivisions of its country without a pack of their own in force
// that day; for the default pack, codes whose own and country's packs are
// not in force).
func (p *Policy) appliesTo(sc *scope, pk *pack, asOf Date) (bool, []string) {
	if sc.matches(pk.code, countryOf(pk.code), pk) {
		return true, nil
	}
	handles := func(code string) bool { // a pack of code applies on asOf
		own := p.byCode[code]
		return own != nil && own.appliesOn(asOf)
	}
	var only []string
	for _, j := range sc.jurisdictions {
		switch {
		case pk.code == defaultPackCode && !handles(j) && !handles(countryOf(j)):
			only = append(only, j)
		case len(j) > 2 && j[:2] == pk.code && !handles(j):
			only = append(only, j)
		}
	}
	return len(only) > 0, only
}

// appliesOn reports whether the pack has a period in force (or enacted)
// covering d.
func (pk *pack) appliesOn(d Date) bool {
	for _, per := range pk.periods {
		if per.status.applies() && per.covers(d) {
			return true
		}
	}
	return false
}

func scopeText(sc *scope) string {
	var parts []string
	if len(sc.jurisdictions) > 0 {
		parts = append(parts, strings.Join(sc.jurisdictions, ", "))
	}
	if len(sc.groups) > 0 {
		parts = append(parts, "groups "+strings.Join(sc.groups, ", "))
	}
	if len(parts) == 0 {
		return "every jurisdiction"
	}
	return strings.Join(parts, "; ")
}
