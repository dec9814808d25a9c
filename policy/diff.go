package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// PolicyDiff is what changed between two policies, in terms a reviewer of a
// policy change reads: jurisdictions and their dated facts, rules,
// obligations, and the numbers (params, thresholds, window, fusion). It is
// computed on the canonical model, so formatting, comments, file layout and
// the order of unordered things never show up as changes.
type PolicyDiff struct {
	Old     PolicyRef `json:"old"`
	New     PolicyRef `json:"new"`
	Changes []Change  `json:"changes"` // grouped by section, in a stable order
}

// PolicyRef names a policy by id and hash.
type PolicyRef struct {
	ID   string `json:"id"`
	Hash string `json:"hash"`
}

// Change is one difference.
type Change struct {
	// Section is one of policy, params, thresholds, anti_hopping, fusion,
	// jurisdictions, rules, obligations.
	Section string `json:"section"`
	// Subject is what changed in the section: a jurisdiction code (or
	// "default"), a rule or obligation id, a param name, a fusion key.
	Subject string `json:"subject"`
	// Kind is added, removed, changed or moved (a rule or obligation whose
	// place in policy order changed: the order of reasons and obligations).
	Kind string `json:"kind"`
	// Field is the changed field, e.g. "consent_age" or
	// "period 2024-01-01 consent_age"; empty for added and removed.
	Field string `json:"field,omitempty"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
}

// Change kinds.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
	ChangeMoved   = "moved"
)

// Identical reports whether nothing changed (the hashes are equal).
func (d *PolicyDiff) Identical() bool { return d.Old.Hash == d.New.Hash }

// Diff compares two policies.
func Diff(older, newer *Policy) *PolicyDiff {
	d := &PolicyDiff{
		Old: PolicyRef{ID: older.ID(), Hash: older.Hash()},
		New: PolicyRef{ID: newer.ID(), Hash: newer.Hash()},
	}
	o, n := canonicalOf(older), canonicalOf(newer)
	w := &differ{d: d}

	w.section = "policy"
	w.field("", "id", o.ID, n.ID)
	w.field("", "description", o.Description, n.Description)

	w.section = "params"
	w.keyed(o.Params, n.Params, func(v float64) string { return fmtFloat(v) })

	w.section = "thresholds"
	w.field("", "thresholds", fmtInts(o.Thresholds), fmtInts(n.Thresholds))

	w.section = "anti_hopping"
	w.field("", "window", o.AntiHopping, n.AntiHopping)

	w.section = "fusion"
	w.field("buffers.age_estimation", "default", fmtFloat(o.Fusion.Buffer), fmtFloat(n.Fusion.Buffer))
	for _, age := range unionKeys(o.Fusion.ThresholdBuffers, n.Fusion.ThresholdBuffers) {
		ov, ook := o.Fusion.ThresholdBuffers[age]
		nv, nok := n.Fusion.ThresholdBuffers[age]
		w.field("buffers.age_estimation", age, optFloat(ov, ook), optFloat(nv, nok))
	}
	for _, method := range unionKeys(o.Fusion.Levels, n.Fusion.Levels) {
		w.field("levels", method, o.Fusion.Levels[method], n.Fusion.Levels[method])
	}

	w.section = "jurisdictions"
	w.packs(o.Default, n.Default)
	oldPacks, newPacks := map[string]canonPack{}, map[string]canonPack{}
	for _, p := range o.Jurisdictions {
		oldPacks[p.Code] = p
	}
	for _, p := range n.Jurisdictions {
		newPacks[p.Code] = p
	}
	for _, code := range unionKeys(oldPacks, newPacks) {
		op, inOld := oldPacks[code]
		np, inNew := newPacks[code]
		switch {
		case !inOld:
			w.add(Change{Subject: code, Kind: ChangeAdded, New: packSummary(np)})
		case !inNew:
			w.add(Change{Subject: code, Kind: ChangeRemoved, Old: packSummary(op)})
		default:
			w.packs(op, np)
		}
	}

	w.section = "rules"
	ruleFields := func(r canonRule) [][2]string {
		return append([][2]string{
			{"decision", r.Decision}, {"when", r.When}, {"message", r.Message}, {"citation", r.Citation},
			{"scope", fmtScope(r.Scope)},
		}, datingFields(r.canonDating)...)
	}
	w.ordered(ids(o.Rules, func(r canonRule) string { return r.ID }), ids(n.Rules, func(r canonRule) string { return r.ID }),
		byID(o.Rules, func(r canonRule) string { return r.ID }, ruleFields),
		byID(n.Rules, func(r canonRule) string { return r.ID }, ruleFields))

	w.section = "obligations"
	oblFields := func(ob canonObligation) [][2]string {
		bands := bandNames(ob.Bands)
		return append([][2]string{
			{"text", ob.Text}, {"citation", ob.Citation}, {"bands", "[" + strings.Join(bands, ", ") + "]"},
			{"scope", fmtScope(ob.Scope)},
		}, datingFields(ob.canonDating)...)
	}
	w.ordered(ids(o.Obligations, func(x canonObligation) string { return x.ID }), ids(n.Obligations, func(x canonObligation) string { return x.ID }),
		byID(o.Obligations, func(x canonObligation) string { return x.ID }, oblFields),
		byID(n.Obligations, func(x canonObligation) string { return x.ID }, oblFields))
	return d
}

// canonicalOf decodes the policy's canonical model: the hash's input, so a
// diff sees exactly what the hash sees.
func canonicalOf(p *Policy) canonPolicy {
	var c canonPolicy
	b, err := canonical(p.m)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		panic(fmt.Sprintf("policy: canonical model of a loaded policy: %v", err)) // cannot happen: it was hashed at load
	}
	return c
}

type differ struct {
	d       *PolicyDiff
	section string
}

func (w *differ) add(c Change) {
	c.Section = w.section
	w.d.Changes = append(w.d.Changes, c)
}

// field records a change of one value; "" means absent.
func (w *differ) field(subject, field, old, new string) {
	if old != new {
		w.add(Change{Subject: subject, Kind: ChangeChanged, Field: field, Old: old, New: new})
	}
}

// keyed compares two maps key by key.
func (w *differ) keyed(old, new map[string]float64, format func(float64) string) {
	for _, k := range unionKeys(old, new) {
		ov, inOld := old[k]
		nv, inNew := new[k]
		switch {
		case !inOld:
			w.add(Change{Subject: k, Kind: ChangeAdded, New: format(nv)})
		case !inNew:
			w.add(Change{Subject: k, Kind: ChangeRemoved, Old: format(ov)})
		case ov != nv:
			w.add(Change{Subject: k, Kind: ChangeChanged, Old: format(ov), New: format(nv)})
		}
	}
}

// packs compares two packs with the same code.
func (w *differ) packs(o, n canonPack) {
	code := o.Code
	w.field(code, "name", o.Name, n.Name)
	w.field(code, "groups", "["+strings.Join(o.Groups, ", ")+"]", "["+strings.Join(n.Groups, ", ")+"]")
	w.field(code, "timezone", o.Timezone, n.Timezone)
	op, np := periodsByKey(o.Periods), periodsByKey(n.Periods)
	for _, k := range unionKeys(op, np) {
		a, inOld := op[k]
		b, inNew := np[k]
		switch {
		case !inOld:
			w.add(Change{Subject: code, Kind: ChangeAdded, Field: "period " + k, New: periodSummary(b)})
		case !inNew:
			w.add(Change{Subject: code, Kind: ChangeRemoved, Field: "period " + k, Old: periodSummary(a)})
		default:
			for _, f := range [][3]string{
				{"effective_until", orOpen(a.Until), orOpen(b.Until)},
				{"minimum_age", strconv.Itoa(a.MinimumAge), strconv.Itoa(b.MinimumAge)},
				{"consent_age", strconv.Itoa(a.ConsentAge), strconv.Itoa(b.ConsentAge)},
				{"legal_status", a.LegalStatus, b.LegalStatus},
				{"citation", a.Citation, b.Citation},
				{"confidence", a.Confidence, b.Confidence},
				{"reviewed", a.Reviewed, b.Reviewed},
			} {
				w.field(code, "period "+k+" "+f[0], f[1], f[2])
			}
		}
	}
}

// periodsByKey keys periods by "effective_from" (plus the legal status when
// it does not take effect, and a counter for repeats), which is how people
// name them. An enacted period that becomes in_force keeps its key, so the
// diff shows the status change.
func periodsByKey(ps []canonPeriod) map[string]canonPeriod {
	out := map[string]canonPeriod{}
	for _, p := range ps {
		k := p.From
		if k == "" {
			k = "undated" // a bill whose date is not known
		}
		if !legalStatus(p.LegalStatus).applies() {
			k += " (" + p.LegalStatus + ")"
		}
		base := k
		for i := 2; ; i++ {
			if _, dup := out[k]; !dup {
				break
			}
			k = fmt.Sprintf("%s #%d", base, i)
		}
		out[k] = p
	}
	return out
}

// ordered compares rules or obligations: added, removed, changed field by
// field, and moved when their relative order changed.
func (w *differ) ordered(oldIDs, newIDs []string, old, new map[string][][2]string) {
	var common []string
	for _, id := range oldIDs {
		if _, ok := new[id]; ok {
			common = append(common, id)
		}
	}
	var newCommon []string
	for _, id := range newIDs {
		if _, ok := old[id]; ok {
			newCommon = append(newCommon, id)
		}
	}
	for _, id := range unionKeys(old, new) {
		a, inOld := old[id]
		b, inNew := new[id]
		switch {
		case !inOld:
			w.add(Change{Subject: id, Kind: ChangeAdded, New: fieldsSummary(b)})
		case !inNew:
			w.add(Change{Subject: id, Kind: ChangeRemoved, Old: fieldsSummary(a)})
		default:
			for i := range a {
				w.field(id, a[i][0], a[i][1], b[i][1])
			}
			if i, j := slices.Index(common, id), slices.Index(newCommon, id); i != j {
				w.add(Change{Subject: id, Kind: ChangeMoved, Field: "position", Old: strconv.Itoa(slices.Index(oldIDs, id) + 1), New: strconv.Itoa(slices.Index(newIDs, id) + 1)})
			}
		}
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func byID[T any](xs []T, id func(T) string, fields func(T) [][2]string) map[string][][2]string {
	out := make(map[string][][2]string, len(xs))
	for _, x := range xs {
		out[id(x)] = fields(x)
	}
	return out
}

func datingFields(d canonDating) [][2]string {
	return [][2]string{{"effective_from", orOpen(d.From)}, {"effective_until", orOpen(d.Until)}, {"legal_status", d.LegalStatus}, {"reviewed", d.Reviewed}}
}

func fieldsSummary(fs [][2]string) string {
	var parts []string
	for _, f := range fs {
		switch f[0] {
		case "decision", "legal_status", "bands":
			parts = append(parts, f[1])
		case "when":
			parts = append(parts, "when "+strconv.Quote(f[1]))
		case "effective_from", "effective_until":
			if f[1] != "open" {
				parts = append(parts, f[0]+" "+f[1])
			}
		case "scope":
			if f[1] != "all" {
				parts = append(parts, "scope "+f[1])
			}
		}
	}
	return strings.Join(parts, ", ")
}

func packSummary(p canonPack) string {
	var ps []string
	for _, per := range p.Periods {
		ps = append(ps, periodSummary(per))
	}
	name := p.Name
	if name == "" {
		name = p.Code
	}
	return name + ": " + strings.Join(ps, "; ")
}

func periodSummary(p canonPeriod) string {
	s := fmt.Sprintf("[%s, %s) minimum %d, consent %d", orOpen(p.From), orOpen(p.Until), p.MinimumAge, p.ConsentAge)
	if p.LegalStatus != string(statusInForce) {
		s += " (" + p.LegalStatus + ")"
	}
	return s
}

func fmtScope(s canonScope) string {
	var parts []string
	if len(s.Jurisdictions) > 0 {
		parts = append(parts, "jurisdictions ["+strings.Join(s.Jurisdictions, ", ")+"]")
	}
	if len(s.Groups) > 0 {
		parts = append(parts, "groups ["+strings.Join(s.Groups, ", ")+"]")
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

func orOpen(d string) string {
	if d == "" {
		return "open"
	}
	return d
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func optFloat(f float64, ok bool) string {
	if !ok {
		return ""
	}
	return fmtFloat(f)
}

func fmtInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// unionKeys returns the keys of both maps, sorted (numerically when they
// are all numbers).
func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y string) int {
		nx, ex := strconv.Atoi(x)
		ny, ey := strconv.Atoi(y)
		if ex == nil && ey == nil {
			return nx - ny
		}
		return strings.Compare(x, y)
	})
	return keys
}

// bandOrder is the reading order of bands, youngest first.
var bandOrder = []Band{BandUnder13, Band13To15, Band16To17, Band18Plus, BandUnknown}

// bandNames returns bands youngest first (the model keeps them sorted by
// name, for the hash).
func bandNames(bs []Band) []string {
	var out []string
	for _, b := range bandOrder {
		if slices.Contains(bs, b) {
			out = append(out, string(b))
		}
	}
	return out
}
