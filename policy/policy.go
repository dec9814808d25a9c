package policy

import (
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Policy is a loaded, compiled policy. It is immutable, so one *Policy can
// serve every request concurrently and be swapped atomically on reload.
type Policy struct {
	m             *model
	hash          string
	byCode        map[string]*pack
	jurisdictions []string
	rules         []*rule       // rules that take effect (in_force, enacted) only, in policy order
	obligations   []*obligation // obligations that take effect only, in policy order
	params        ref.Val       // CEL value of m.params
	knownAges     []int         // see KnownAges
}

// newPolicy precomputes what evaluation needs from a valid model.
func newPolicy(m *model) (*Policy, error) {
	h, err := hashModel(m)
	if err != nil {
		return nil, err
	}
	p := &Policy{
		m:         m,
		hash:      h,
		byCode:    make(map[string]*pack, len(m.packs)),
		params:    newParamMap(m.params),
		knownAges: knownAgesOf(m),
	}
	for _, r := range m.rules {
		if r.status.applies() {
			p.rules = append(p.rules, r)
		}
	}
	for _, o := range m.obligations {
		if o.status.applies() {
			p.obligations = append(p.obligations, o)
		}
	}
	for _, pk := range append([]*pack{m.defaultPack}, m.packs...) {
		p.prepare(pk)
		if pk != m.defaultPack {
			p.byCode[pk.code] = pk
			p.jurisdictions = append(p.jurisdictions, pk.code)
		}
	}
	return p, nil
}

// prepare fills a pack's precomputed evaluation data.
func (p *Policy) prepare(pk *pack) {
	pk.codeVal = types.String(pk.code)
	prefix := strings.ToLower(pk.code) + "."
	pk.reasonIDs = make([]string, len(p.rules))
	for i, r := range p.rules {
		pk.reasonIDs[i] = prefix + r.id
	}
	pk.thresholds = make([][]int, len(pk.periods))
	for i, per := range pk.periods {
		t := append(slices.Clone(p.m.thresholds), per.minimumAge, per.consentAge)
		slices.Sort(t)
		pk.thresholds[i] = slices.Compact(t)
	}
}

// ID returns the policy's declared id, for logs and the policy endpoint.
func (p *Policy) ID() string { return p.m.id }

// Hash identifies the policy's meaning: "sha256:<hex>" of the canonical JSON
// of the parsed model. Comments, formatting and the order of unordered
// things (jurisdictions, groups, params) do not change it; any change to a
// fact, rule or obligation does. Decisions and cache keys carry it so a
// decision can be tied to the exact policy that made it.
func (p *Policy) Hash() string { return p.hash }

// Jurisdictions returns the sorted codes that have their own pack (the
// default pack is not listed), for discovery endpoints and tests.
func (p *Policy) Jurisdictions() []string { return slices.Clone(p.jurisdictions) }

// HasPack reports whether the policy has a pack of its own for code (not
// counting the fallback to the country or the default), so callers can
// bound metric labels to what the policy names.
func (p *Policy) HasPack(code string) bool {
	_, ok := p.byCode[code]
	return ok
}

// AntiHoppingWindow is how long a device's lowest declared age is
// remembered, so a refused child cannot immediately retry with an older
// birth date. The caller stores it with this TTL.
func (p *Policy) AntiHoppingWindow() time.Duration { return p.m.window }

// Location returns the timezone of the pack that applies to jurisdiction
// now, following the same fallback chain as Evaluate (code, its country,
// default). Ages are counted in that calendar, so a birthday starts at
// local midnight, never earlier.
func (p *Policy) Location(jurisdiction string) *time.Location {
	code, _ := NormalizeJurisdiction(jurisdiction)
	pk, _, _ := p.selectPack(code, time.Now())
	return pk.loc
}

// Today returns the calendar date at now in the timezone of the pack that
// applies to jurisdiction at now: the "on" date for AgeOn, so the caller's
// age and Evaluate's effective dating use the same calendar.
func (p *Policy) Today(jurisdiction string, now time.Time) Date {
	code, _ := NormalizeJurisdiction(jurisdiction)
	_, _, asOf := p.selectPack(code, now)
	return asOf
}

// selectPack walks the fallback chain — the code, its country, the default
// pack — and returns the first pack with an in-force period covering the
// date at now in that pack's timezone, the index of that period and the
// date. If even the default pack has no such period, it returns the default
// pack with index -1.
func (p *Policy) selectPack(code string, now time.Time) (*pack, int, Date) {
	if code != "" {
		if pk := p.byCode[code]; pk != nil {
			if i, d := pk.periodAt(now); i >= 0 {
				return pk, i, d
			}
		}
		if len(code) > 2 {
			if pk := p.byCode[code[:2]]; pk != nil {
				if i, d := pk.periodAt(now); i >= 0 {
					return pk, i, d
				}
			}
		}
	}
	pk := p.m.defaultPack
	i, d := pk.periodAt(now)
	return pk, i, d
}

// periodAt returns the index of the in-force period covering the date at
// now in the pack's timezone (-1 if none), and that date. An enacted
// period counts from its effective_from: see legalStatus.
func (pk *pack) periodAt(now time.Time) (int, Date) {
	d := DateOf(now.In(pk.loc))
	for i, per := range pk.periods {
		if per.status.applies() && per.covers(d) {
			return i, d
		}
	}
	return -1, d
}
