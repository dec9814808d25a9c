package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// builder accumulates the contents of every policy file, with positions,
// and every problem found; finish merges and validates them.
type builder struct {
	errs ErrorList
	root Pos // where to report problems about the policy as a whole

	id, description string
	idPos, descPos  *Pos
	params          map[string]float64
	paramPos        map[string]Pos
	window          time.Duration
	windowPos       *Pos
	thresholds      []int
	defaultPack     *pack
	packs           []*pack
	rules           []*rule
	obligations     []*obligation
	fusion          fusionConfig
	fusionPos       *Pos
	file            string // the file being parsed
	unparsed        bool   // some file could not be parsed at all
	notes           []note // accepted but deprecated spellings, for lint
}

func newBuilder() *builder {
	return &builder{params: map[string]float64{}, paramPos: map[string]Pos{}, fusion: defaultFusion()}
}

func (b *builder) pos(n *yaml.Node) Pos { return Pos{File: b.file, Line: n.Line, Col: n.Column} }

func (b *builder) errorAt(p Pos, cause error, format string, args ...any) {
	b.errs = append(b.errs, &LoadError{Pos: p, Msg: fmt.Sprintf(format, args...), Err: cause})
}

func (b *builder) errorf(n *yaml.Node, cause error, format string, args ...any) {
	b.errorAt(b.pos(n), cause, format, args...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseFile decodes one YAML document into the builder.
func (b *builder) parseFile(src source) {
	b.file = src.name
	dec := yaml.NewDecoder(bytes.NewReader(src.data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return // an empty file contributes nothing
		}
		p := Pos{File: src.name, Line: 1, Col: 1}
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Col = 1
			msg = "yaml: " + m[2]
		}
		b.errorAt(p, err, "%s", msg)
		b.unparsed = true
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		b.errorf(&extra, nil, "a policy file must hold one YAML document")
	} else if !errors.Is(err, io.EOF) {
		b.errorAt(Pos{File: src.name, Line: 1, Col: 1}, err, "%v", err)
	}
	if len(doc.Content) == 0 {
		return
	}
	b.mapping(doc.Content[0], "the policy file", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "id":
			b.single(&b.id, &b.idPos, k, v, "id")
		case "description":
			b.single(&b.description, &b.descPos, k, v, "description")
		case "params":
			b.mapping(v, "params", func(name string, k, v *yaml.Node) bool {
				f, ok := b.float(v, "params."+name)
				if !ok {
					return true
				}
				if first, dup := b.paramPos[name]; dup {
					b.errorf(k, nil, "duplicate param %q (first defined at %s)", name, first)
					return true
				}
				b.params[name] = f
				b.paramPos[name] = b.pos(k)
				return true
			})
		case "anti_hopping":
			b.mapping(v, "anti_hopping", func(key string, k, v *yaml.Node) bool {
				if key != "window" {
					return false
				}
				if b.windowPos != nil {
					b.errorf(k, nil, "anti_hopping.window is already set at %s", *b.windowPos)
					return true
				}
				s, ok := b.str(v, "anti_hopping.window")
				if !ok {
					return true
				}
				d, err := time.ParseDuration(s)
				switch {
				case err != nil:
					b.errorf(v, err, "anti_hopping.window: invalid Go duration %q", s)
				case d < 0:
					b.errorf(v, nil, "anti_hopping.window must not be negative")
				default:
					p := b.pos(k)
					b.window, b.windowPos = d, &p
				}
				return true
			})
		case "fusion":
			if b.fusionPos != nil {
				b.errorf(k, nil, "fusion is already defined at %s", *b.fusionPos)
				return true
			}
			p := b.pos(k)
			b.fusionPos = &p
			b.fusionSection(v)
		case "thresholds":
			b.seq(v, "thresholds", func(n *yaml.Node) {
				if age, ok := b.age(n, "thresholds"); ok {
					b.thresholds = append(b.thresholds, age)
				}
			})
		case "default":
			if b.defaultPack != nil {
				b.errorf(k, nil, "default is already defined at %s", b.defaultPack.pos)
				return true
			}
			b.defaultPack = b.pack(v, true)
		case "jurisdictions":
			b.seq(v, "jurisdictions", func(n *yaml.Node) {
				if p := b.pack(n, false); p != nil {
					b.packs = append(b.packs, p)
				}
			})
		case "rules":
			b.seq(v, "rules", func(n *yaml.Node) {
				if r := b.rule(n); r != nil {
					b.rules = append(b.rules, r)
				}
			})
		case "obligations":
			b.seq(v, "obligations", func(n *yaml.Node) {
				if o := b.obligation(n); o != nil {
					b.obligations = append(b.obligations, o)
				}
			})
		default:
			return false
		}
		return true
	})
}

// single sets a top-level string that may appear in only one file.
func (b *builder) single(dst *string, dstPos **Pos, k, v *yaml.Node, what string) {
	s, ok := b.str(v, what)
	if !ok {
		return
	}
	if *dstPos != nil {
		b.errorf(k, nil, "duplicate top-level %s (first set at %s)", what, **dstPos)
		return
	}
	p := b.pos(k)
	*dst, *dstPos = s, &p
}

// mapping calls fn for every key of a mapping node, in order. fn returns
// false for keys it does not know, which are reported: policy files are
// strict so that a typo ("efective_from") cannot silently drop a fact.
func (b *builder) mapping(n *yaml.Node, what string, fn func(key string, k, v *yaml.Node) bool) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		b.errorf(n, nil, "%s must be a mapping", what)
		return false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			b.errorf(k, nil, "%s: keys must be plain strings", what)
			continue
		}
		if seen[k.Value] {
			b.errorf(k, nil, "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		if v.Kind == yaml.AliasNode {
			b.errorf(v, nil, "%s.%s: YAML aliases are not supported", what, k.Value)
			continue
		}
		if !fn(k.Value, k, v) {
			b.errorf(k, nil, "unknown field %q in %s", k.Value, what)
		}
	}
	return true
}

// seq calls fn for every item of a sequence node; null means empty.
func (b *builder) seq(n *yaml.Node, what string, fn func(n *yaml.Node)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		b.errorf(n, nil, "%s must be a list", what)
		return
	}
	for _, item := range n.Content {
		if item.Kind == yaml.AliasNode {
			b.errorf(item, nil, "%s: YAML aliases are not supported", what)
			continue
		}
		fn(item)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// str returns a scalar's text. Null is the empty string; the caller's
// "is required" check reports it where that matters.
func (b *builder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		b.errorf(n, nil, "%s must be a string", what)
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

func (b *builder) strList(n *yaml.Node, what string) []string {
	var out []string
	b.seq(n, what, func(item *yaml.Node) {
		if s, ok := b.str(item, what+" item"); ok {
			out = append(out, s)
		}
	})
	return out
}

func (b *builder) float(n *yaml.Node, what string) (float64, bool) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") {
		b.errorf(n, nil, "%s must be a number", what)
		return 0, false
	}
	var f float64
	if err := n.Decode(&f); err != nil {
		b.errorf(n, err, "%s: %v", what, err)
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		b.errorf(n, nil, "%s must be a finite number", what)
		return 0, false
	}
	return f, true
}

// maxAge bounds ages in policies; it catches typos like 1600.
const maxAge = 150

func (b *builder) age(n *yaml.Node, what string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		b.errorf(n, nil, "%s must be a whole number of years", what)
		return 0, false
	}
	var i int
	if err := n.Decode(&i); err != nil {
		b.errorf(n, err, "%s: %v", what, err)
		return 0, false
	}
	if i < 0 || i > maxAge {
		b.errorf(n, nil, "%s must be between 0 and %d", what, maxAge)
		return 0, false
	}
	return i, true
}

func (b *builder) date(n *yaml.Node, what string) (Date, bool) {
	s, ok := b.str(n, what)
	if !ok {
		return Date{}, false
	}
	d, err := ParseDate(s)
	if err != nil {
		b.errorf(n, err, "%s: %v", what, err)
		return Date{}, false
	}
	return d, true
}

func (b *builder) status(n *yaml.Node, what string) (legalStatus, bool) {
	s, ok := b.str(n, what)
	if !ok {
		return "", false
	}
	st := legalStatus(s)
	if st == statusProposed {
		b.notes = append(b.notes, note{pos: b.pos(n), msg: what + ": legal_status proposed is the old name of pending (a bill: recorded, never applied); write pending"})
		return statusPending, true
	}
	if !st.valid() {
		b.errorf(n, nil, "%s: invalid legal_status %q (want in_force, enacted, enjoined or pending)", what, s)
		return "", false
	}
	return st, true
}

// dating parses the effective_from / effective_until / legal_status /
// reviewed fields shared by periods, rules and obligations. It reports
// whether key was one.
func (b *builder) dating(key string, v *yaml.Node, what string, sp *span, st *legalStatus, reviewed *Date) bool {
	switch key {
	case "effective_from":
		if d, ok := b.date(v, what+".effective_from"); ok {
			sp.from = d
		}
	case "effective_until":
		if d, ok := b.date(v, what+".effective_until"); ok {
			sp.until = d
		}
	case "legal_status":
		if s, ok := b.status(v, what); ok {
			*st = s
		}
	case "reviewed":
		if d, ok := b.date(v, what+".reviewed"); ok {
			*reviewed = d
		}
	default:
		return false
	}
	return true
}

// checkSpan checks an entry's dates: from before until, and an enacted
// entry must say the day it takes effect (without one it would apply at
// once, which is what in_force says).
func (b *builder) checkSpan(n *yaml.Node, what string, sp span, st legalStatus) {
	if !sp.from.IsZero() && !sp.until.IsZero() && !sp.from.Before(sp.until) {
		b.errorf(n, nil, "%s: effective_from %s must be before effective_until %s", what, sp.from, sp.until)
	}
	if st == statusEnacted && sp.from.IsZero() {
		b.errorf(n, nil, "%s: legal_status enacted needs effective_from, the day it takes effect", what)
	}
}

var (
	identRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	oblRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	groupRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
)

// pack parses a jurisdiction, or the default pack when isDefault.
func (b *builder) pack(n *yaml.Node, isDefault bool) *pack {
	what := "jurisdiction"
	if isDefault {
		what = "default"
	}
	if isNull(n) {
		b.errorf(n, nil, "%s must be a mapping", what)
		return nil
	}
	p := &pack{pos: b.pos(n)}
	if isDefault {
		p.code = defaultPackCode
	}
	var tzPos *yaml.Node
	codeSet := false
	if !b.mapping(n, what, func(key string, k, v *yaml.Node) bool {
		switch {
		case key == "code" && !isDefault:
			codeSet = true
			s, ok := b.str(v, "code")
			if !ok {
				return true
			}
			code, err := NormalizeJurisdiction(s)
			if err != nil {
				b.errorf(v, err, "invalid jurisdiction code: %v", err)
				return true
			}
			p.code = code
			what = "jurisdiction " + code
		case key == "name":
			p.name, _ = b.str(v, "name")
		case key == "groups" && !isDefault:
			for _, g := range b.strList(v, "groups") {
				if !groupRE.MatchString(g) {
					b.errorf(v, nil, "invalid group name %q (lower-case letters, digits, _ and -)", g)
					continue
				}
				p.groups = append(p.groups, g)
			}
		case key == "timezone":
			s, ok := b.str(v, "timezone")
			if !ok {
				return true
			}
			tzPos = v
			loc, err := loadLocation(s)
			if err != nil {
				b.errorf(v, err, "%s: cannot load timezone %q: %v", what, s, err)
				return true
			}
			p.timezone, p.loc = s, loc
		case key == "periods":
			b.seq(v, "periods", func(item *yaml.Node) {
				if per := b.period(item, what); per != nil {
					p.periods = append(p.periods, per)
				}
			})
		default:
			return false
		}
		return true
	}) {
		return nil
	}
	if !isDefault && p.code == "" {
		if !codeSet {
			b.errorf(n, nil, "jurisdiction: code is required")
		}
		return nil
	}
	if tzPos == nil {
		b.errorf(n, nil, "%s: timezone is required", what)
	}
	if len(p.periods) == 0 {
		b.errorf(n, nil, "%s: at least one period is required", what)
	}
	return p
}

// loadLocation loads an IANA timezone, refusing the ambiguous "" and
// "Local" which would make decisions depend on the host.
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errors.New("an IANA timezone name is required")
	}
	return time.LoadLocation(name)
}

func (b *builder) period(n *yaml.Node, what string) *period {
	if isNull(n) {
		b.errorf(n, nil, "%s period must be a mapping", what)
		return nil
	}
	per := &period{minimumAge: 13, consentAge: 13, status: statusInForce, pos: b.pos(n)}
	what += " period"
	hasFrom := false
	ok := b.mapping(n, what, func(key string, k, v *yaml.Node) bool {
		switch key {
		case "minimum_age":
			if a, ok := b.age(v, "minimum_age"); ok {
				per.minimumAge = a
			}
		case "consent_age":
			if a, ok := b.age(v, "consent_age"); ok {
				per.consentAge = a
			}
		case "citation":
			per.citation, _ = b.str(v, "citation")
		case "confidence":
			s, ok := b.str(v, "confidence")
			if !ok {
				return true
			}
			switch s {
			case "high", "medium", "low":
				per.confidence = s
			default:
				b.errorf(v, nil, "invalid confidence %q (want high, medium or low)", s)
			}
		default:
			if key == "effective_from" {
				hasFrom = true
			}
			return b.dating(key, v, what, &per.span, &per.status, &per.reviewed)
		}
		return true
	})
	if !ok {
		return nil
	}
	// A bill's date is often not known yet: a pending period may leave
	// effective_from out (it is never applied, so nothing depends on it).
	if !hasFrom && per.status != statusPending {
		b.errorf(n, nil, "%s: effective_from is required (only a pending period may leave it out)", what)
	}
	if strings.TrimSpace(per.citation) == "" {
		b.errorf(n, nil, "%s: citation is required", what)
	}
	b.checkSpan(n, what, per.span, per.status)
	return per
}

func (b *builder) scope(n *yaml.Node, what string) scope {
	var sc scope
	b.mapping(n, what+".scope", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "jurisdictions":
			b.seq(v, "scope.jurisdictions", func(item *yaml.Node) {
				s, ok := b.str(item, "scope.jurisdictions item")
				if !ok {
					return
				}
				code, err := NormalizeJurisdiction(s)
				if err != nil {
					b.errorf(item, err, "invalid jurisdiction code in scope: %v", err)
					return
				}
				sc.jurisdictions = append(sc.jurisdictions, code)
			})
		case "groups":
			b.seq(v, "scope.groups", func(item *yaml.Node) {
				s, ok := b.str(item, "scope.groups item")
				if !ok {
					return
				}
				if !groupRE.MatchString(s) {
					b.errorf(item, nil, "invalid group name %q in scope", s)
					return
				}
				sc.groups = append(sc.groups, s)
				sc.groupPos = append(sc.groupPos, b.pos(item))
			})
		default:
			return false
		}
		return true
	})
	return sc
}

func (b *builder) rule(n *yaml.Node) *rule {
	if isNull(n) {
		b.errorf(n, nil, "rule must be a mapping")
		return nil
	}
	r := &rule{status: statusInForce, pos: b.pos(n)}
	what := "rule"
	var decisionSet, messageSet bool
	ok := b.mapping(n, what, func(key string, k, v *yaml.Node) bool {
		switch key {
		case "id":
			s, ok := b.str(v, "rule id")
			if !ok {
				return true
			}
			if !identRE.MatchString(s) {
				b.errorf(v, nil, "invalid rule id %q (lower-case letters, digits, _ and -)", s)
				return true
			}
			r.id = s
		case "decision":
			s, ok := b.str(v, "decision")
			if !ok {
				return true
			}
			decisionSet = true
			if d := Decision(s); d.Valid() {
				r.decision = d
			} else {
				b.errorf(v, nil, "invalid decision %q (want allow, parental_consent_required, additional_verification_required or deny)", s)
			}
		case "when":
			r.when, _ = b.str(v, "when")
			r.whenPos = b.pos(v)
		case "message":
			messageSet = true
			s, ok := b.str(v, "message")
			if !ok {
				return true
			}
			t, err := parseTemplate(s)
			if err != nil {
				b.errorf(v, err, "message: %v", err)
				return true
			}
			r.message, r.msg = s, t
		case "citation":
			s, ok := b.str(v, "citation")
			if !ok {
				return true
			}
			if err := checkCitation(s); err != nil {
				b.errorf(v, err, "%v", err)
				return true
			}
			r.citation = s
			if pre, post, found := strings.Cut(s, "{citation}"); found {
				r.citeExpands, r.citePrefix, r.citeSuffix = true, pre, post
			}
		case "scope":
			r.scope = b.scope(v, what)
		default:
			return b.dating(key, v, what, &r.span, &r.status, &r.reviewed)
		}
		return true
	})
	if !ok {
		return nil
	}
	if r.id == "" {
		b.errorf(n, nil, "rule: id is required")
	}
	if r.id != "" {
		what = "rule " + r.id
	}
	if !decisionSet {
		b.errorf(n, nil, "%s: decision is required", what)
	}
	if r.whenPos.Line == 0 {
		b.errorf(n, nil, "%s: when is required", what)
	}
	if !messageSet {
		b.errorf(n, nil, "%s: message is required", what)
	}
	if strings.TrimSpace(r.citation) == "" {
		b.errorf(n, nil, "%s: citation is required", what)
	}
	b.checkSpan(n, what, r.span, r.status)
	return r
}

func (b *builder) obligation(n *yaml.Node) *obligation {
	if isNull(n) {
		b.errorf(n, nil, "obligation must be a mapping")
		return nil
	}
	o := &obligation{status: statusInForce, pos: b.pos(n)}
	what := "obligation"
	ok := b.mapping(n, what, func(key string, k, v *yaml.Node) bool {
		switch key {
		case "id":
			s, ok := b.str(v, "obligation id")
			if !ok {
				return true
			}
			if !oblRE.MatchString(s) {
				b.errorf(v, nil, "invalid obligation id %q (lower-case letters, digits, ., _ and -)", s)
				return true
			}
			o.id = s
		case "text":
			o.text, _ = b.str(v, "text")
		case "citation":
			o.citation, _ = b.str(v, "citation")
		case "bands":
			b.seq(v, "bands", func(item *yaml.Node) {
				s, ok := b.str(item, "band")
				if !ok {
					return
				}
				if band := Band(s); band.Valid() {
					o.bands = append(o.bands, band)
				} else {
					b.errorf(item, nil, "invalid band %q (want under_13, 13_15, 16_17, 18_plus or unknown)", s)
				}
			})
		case "scope":
			o.scope = b.scope(v, what)
		default:
			return b.dating(key, v, what, &o.span, &o.status, &o.reviewed)
		}
		return true
	})
	if !ok {
		return nil
	}
	if o.id == "" {
		b.errorf(n, nil, "obligation: id is required")
	} else {
		what = "obligation " + o.id
	}
	if strings.TrimSpace(o.text) == "" {
		b.errorf(n, nil, "%s: text is required", what)
	}
	if strings.TrimSpace(o.citation) == "" {
		b.errorf(n, nil, "%s: citation is required", what)
	}
	if len(o.bands) == 0 {
		b.errorf(n, nil, "%s: bands is required", what)
	}
	b.checkSpan(n, what, o.span, o.status)
	return o
}

// fusionSection reads `fusion`: buffers on estimates and the assurance
// level of each method. Anything not given keeps its default.
func (b *builder) fusionSection(n *yaml.Node) {
	b.mapping(n, "fusion", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "buffers":
			b.mapping(v, "fusion.buffers", func(method string, k, v *yaml.Node) bool {
				if method != EvidenceAgeEstimation {
					b.errorf(k, nil, "fusion.buffers: only %s has a buffer (an estimate is the only claim with error bars)", EvidenceAgeEstimation)
					return true
				}
				b.mapping(v, "fusion.buffers."+method, func(at string, k, v *yaml.Node) bool {
					f, ok := b.float(v, "fusion.buffers."+method+"."+at)
					if !ok {
						return true
					}
					if f < 0 || f > 20 {
						b.errorf(v, nil, "fusion.buffers.%s.%s: %v years is outside 0..20", method, at, f)
						return true
					}
					if at == "default" {
						b.fusion.buffer = f
						return true
					}
					t, err := strconv.Atoi(at)
					if err != nil || t < 0 || t > maxAge {
						b.errorf(k, nil, "fusion.buffers.%s: key %q is neither default nor an age", method, at)
						return true
					}
					b.fusion.thresholdBuffers[t] = f
					return true
				})
				return true
			})
		case "levels":
			b.mapping(v, "fusion.levels", func(method string, k, v *yaml.Node) bool {
				if !slices.Contains(levelKeys, method) {
					b.errorf(k, nil, "fusion.levels: unknown method %q (known: %s)", method, strings.Join(levelKeys, ", "))
					return true
				}
				level, ok := b.str(v, "fusion.levels."+method)
				if !ok {
					return true
				}
				if LevelRank(level) == 0 {
					b.errorf(v, nil, "fusion.levels.%s: %q is not an IEEE 2089.1 level (asserted, standard, enhanced, strict)", method, level)
					return true
				}
				b.fusion.levels[method] = level
				return true
			})
		default:
			return false
		}
		return true
	})
}
