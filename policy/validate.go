package policy

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// defaultWindow is the anti-hopping window when a policy does not set one:
// long enough to catch a child retrying with an older birth date straight
// after a refusal, short enough that a shared device is not stuck for long.
const defaultWindow = 24 * time.Hour

// finish merges what every file contributed, runs the checks that need the
// whole policy (duplicates, overlaps, group references), compiles the rules
// and returns the model. Problems are recorded in b.errs.
func (b *builder) finish() *model {
	m := &model{
		id:          b.id,
		description: b.description,
		params:      b.params,
		window:      defaultWindow,
		defaultPack: b.defaultPack,
		notes:       b.notes,
	}
	switch {
	case b.idPos == nil && b.unparsed:
		// The id is probably in the file that could not be parsed.
	case b.idPos == nil:
		b.errorAt(b.root, nil, "the policy id is required (top-level id, in exactly one file)")
	case strings.TrimSpace(b.id) == "":
		b.errorAt(*b.idPos, nil, "the policy id must not be empty")
	case !policyIDPattern.MatchString(b.id):
		// The id is written into every decision-log entry, whose schema
		// admits only such slugs (free text there could carry anything).
		b.errorAt(*b.idPos, nil, "the policy id must be a lower-case slug: %s", policyIDPattern)
	}
	if b.windowPos != nil {
		m.window = b.window
	}
	m.fusion = b.fusion
	m.thresholds = slices.Clone(b.thresholds)
	slices.Sort(m.thresholds)
	m.thresholds = slices.Compact(m.thresholds)

	switch {
	case b.defaultPack != nil:
		b.checkPeriods(b.defaultPack)
	case !b.unparsed:
		b.errorAt(b.root, nil, "a default pack is required (top-level default)")
	}

	groups := map[string]bool{}
	byCode := map[string]*pack{}
	for _, p := range b.packs {
		if first, dup := byCode[p.code]; dup {
			b.errorAt(p.pos, nil, "duplicate jurisdiction %s (first defined at %s)", p.code, first.pos)
			continue
		}
		byCode[p.code] = p
		slices.Sort(p.groups)
		p.groups = slices.Compact(p.groups)
		for _, g := range p.groups {
			groups[g] = true
		}
		b.checkPeriods(p)
		m.packs = append(m.packs, p)
	}
	slices.SortFunc(m.packs, func(a, b *pack) int { return cmp.Compare(a.code, b.code) })

	ruleIDs := map[string]Pos{}
	for _, r := range b.rules {
		if r.id != "" {
			if first, dup := ruleIDs[r.id]; dup {
				b.errorAt(r.pos, nil, "duplicate rule id %q (first defined at %s)", r.id, first)
				continue
			}
			ruleIDs[r.id] = r.pos
		}
		b.checkScope(&r.scope, groups)
		m.rules = append(m.rules, r)
	}
	oblIDs := map[string]Pos{}
	for _, o := range b.obligations {
		if o.id != "" {
			if first, dup := oblIDs[o.id]; dup {
				b.errorAt(o.pos, nil, "duplicate obligation id %q (first defined at %s)", o.id, first)
				continue
			}
			oblIDs[o.id] = o.pos
		}
		b.checkScope(&o.scope, groups)
		slices.Sort(o.bands)
		o.bands = slices.Compact(o.bands)
		m.obligations = append(m.obligations, o)
	}
	b.compileRules(m.rules)
	return m
}

// checkPeriods sorts a pack's periods and rejects overlapping periods that
// take effect (in_force or enacted): two facts in force on the same day
// would make the decision depend on file order.
func (b *builder) checkPeriods(p *pack) {
	slices.SortStableFunc(p.periods, comparePeriods)
	var inForce []*period
	for _, per := range p.periods {
		if !per.status.applies() {
			continue
		}
		for _, prev := range inForce {
			if per.span.overlaps(prev.span) {
				b.errorAt(per.pos, nil, "%s: %s period %s overlaps the %s period %s at %s",
					p.label(), statusWord(per.status), per.span, statusWord(prev.status), prev.span, prev.pos)
			}
		}
		inForce = append(inForce, per)
	}
}

// comparePeriods orders periods by every field, so the canonical model
// (and the hash) does not depend on the order they were written in.
func comparePeriods(x, y *period) int {
	untilX, untilY := x.until, y.until
	if untilX.IsZero() {
		untilX = Date{Year: 1 << 30}
	}
	if untilY.IsZero() {
		untilY = Date{Year: 1 << 30}
	}
	return cmp.Or(
		x.from.Compare(y.from),
		untilX.Compare(untilY),
		cmp.Compare(x.status, y.status),
		cmp.Compare(x.minimumAge, y.minimumAge),
		cmp.Compare(x.consentAge, y.consentAge),
		cmp.Compare(x.citation, y.citation),
		cmp.Compare(x.confidence, y.confidence),
		x.reviewed.Compare(y.reviewed),
	)
}

// checkScope reports scope groups no pack belongs to (almost certainly a
// typo), then sorts the scope lists, whose order has no meaning.
func (b *builder) checkScope(sc *scope, groups map[string]bool) {
	for i, g := range sc.groups {
		if !groups[g] {
			b.errorAt(sc.groupPos[i], nil, "scope group %q is not a group of any jurisdiction", g)
		}
	}
	sc.groupPos = nil
	slices.Sort(sc.groups)
	sc.groups = slices.Compact(sc.groups)
	slices.Sort(sc.jurisdictions)
	sc.jurisdictions = slices.Compact(sc.jurisdictions)
}

func (p *pack) label() string {
	if p.code == defaultPackCode {
		return "default"
	}
	return "jurisdiction " + p.code
}

// String formats a span as "from..until" with "open" for a missing bound.
func (s span) String() string {
	f, u := "open", "open"
	if !s.from.IsZero() {
		f = s.from.String()
	}
	if !s.until.IsZero() {
		u = s.until.String()
	}
	return fmt.Sprintf("[%s, %s)", f, u)
}

// policyIDPattern is the shape of a policy id: a lower-case slug, as the
// decision log's schema requires.
var policyIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// statusWord names a legal status in prose: "in-force", "enacted", ….
func statusWord(s legalStatus) string {
	if s == statusInForce {
		return "in-force"
	}
	return string(s)
}
