package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Case is one test case of a policy: an input, the day it is evaluated on
// and what the policy must answer. Cases live in *_test.yaml files beside
// the policy files, so a change of policy and the change of expectations it
// causes are reviewed together, and a reload can refuse a policy that
// breaks them. The file format is a YAML list of cases:
//
//	# de_test.yaml
//	- name: DE 14 needs consent            # unique among the cases loaded
//	  as_of: 2026-11-26                    # evaluated at noon of this day in the pack's time zone…
//	  time: 2026-11-26T23:30:00+01:00      # …unless an instant is given
//	  input:
//	    jurisdiction: DE                   # "" or omitted: the default pack
//	    age: 14                            # or birth_date: 2012-05-01 (age on as_of in the pack's calendar)
//	    stage: signup                      # or reassessment (default signup)
//	    signals: {underage_likelihood: 0.9, user_reports: 3}
//	    device_min_age: 10                 # the device declared 10 recently (implies device history)
//	    subject_min_age: 10                # the account declared 10 recently (implies account history)
//	    history_unavailable: true          # the device's or account's history could not be read
//	    evidence:                          # accepted evidence, as verifiers report it
//	      - {type: age_estimation, estimate: 19.2, uncertainty: 2.1, liveness: false}
//	      - {type: id_document, age: 12}   # or over: {18: true}
//	      - {type: digital_credential, over: {18: true}}
//	      - {type: parental_consent}
//	      - {type: platform_age_range, lower: 13, upper: 15, source: self_declared}
//	      - {type: id_document, age: 30, outcome: rejected}   # not accepted: counts as absent
//	    prior: {age_min: 18, age_max: 150, level: enhanced, methods: [id_document]}
//	  expect:
//	    decision: parental_consent_required   # required
//	    band: 13_15                            # optional
//	    rules: [de.digital-consent-age]        # optional: the exact reason ids, in order…
//	    rules_include: [de.of-age]             # …or ids that must be among them
//	    obligations: [eu.dsa-no-profiling-ads] # optional: the exact obligation ids ([] for none)
//	    pack: DE                               # optional: the pack applied
//
// Decoding is strict: unknown fields, duplicate keys, wrong types and
// invalid values are errors with file:line:col positions.
type Case struct {
	Name string
	File string // as given to LoadCases, or the fs path for LoadCasesFS
	Line int
	// Input is what the case evaluates.
	Input CaseInput
	// AsOf is the day of the evaluation, in the applying pack's own
	// calendar: Now is noon of it in that pack's time zone, unless Time is
	// set.
	AsOf Date
	// Time, when not zero, is the exact evaluation instant (to test the
	// start of a day in a pack's timezone, say).
	Time   time.Time
	Expect CaseExpect
}

// CaseInput is a case's input. It mirrors Input, except that it may give
// a birth date instead of an age, like the API does.
type CaseInput struct {
	Jurisdiction string
	Age          *int  // exactly one of Age and BirthDate
	BirthDate    *Date // the age is AgeOn(BirthDate, the pack's date at Now)
	Stage        string
	Signals      map[string]float64
	DeviceMinAge *int // set: the device declared this age within the window
	// SubjectMinAge, when set: the account (subject_ref) declared this age
	// within the window.
	SubjectMinAge *int
	// HistoryUnavailable: the device's or account's history could not be
	// read (history_unavailable).
	HistoryUnavailable bool
	Evidence           []Evidence
	Prior              *Prior
}

// CaseExpect is what a case requires. Empty fields are not checked, so a
// case states only what it is about; a nil slice is "not checked", an empty
// one "none".
type CaseExpect struct {
	Decision     Decision
	Band         Band
	Rules        []string // the exact reason ids, in order
	RulesInclude []string // reason ids that must be among the reasons
	Obligations  []string // the exact obligation ids, in order
	Pack         string
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Case     Case
	Pass     bool
	Got      Result
	Problems []string // what differed, one line each; empty when Pass
}

// LoadCases reads the test cases of the policy at name: every *_test.yaml
// and *_test.yml file below a folder, in path order; a case file itself;
// or, for a single policy file x.yaml, the file x_test.yaml beside it if
// there is one. A policy without case files has no cases (and no error).
// Problems are reported all at once, as an ErrorList with positions.
func LoadCases(name string) ([]Case, error) {
	info, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if info.IsDir() {
		return loadCasesFS(os.DirFS(name), ".", func(p string) string { return filepath.Join(name, filepath.FromSlash(p)) })
	}
	file := name
	if !isCaseFile(name) {
		ext := filepath.Ext(name)
		file = strings.TrimSuffix(name, ext) + "_test" + ext
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return parseCaseSources([]source{{name: file, data: data}})
}

// LoadCasesFS is LoadCases for a file or folder root inside fsys.
func LoadCasesFS(fsys fs.FS, root string) ([]Case, error) {
	return loadCasesFS(fsys, root, func(p string) string { return p })
}

// BuiltinCases returns the test cases of the shipped policy (the
// policy/packs/*_test.yaml files, embedded): every jurisdiction at the ages
// that matter, birthdays, 29 February, and the dated changes of law.
func BuiltinCases() ([]Case, error) {
	return LoadCasesFS(packs, "packs")
}

func loadCasesFS(fsys fs.FS, root string, display func(string) string) ([]Case, error) {
	isDir, err := isDirFS(fsys, root)
	if err != nil {
		return nil, err
	}
	var paths []string
	switch {
	case isDir:
		if paths, err = walkFiles(fsys, root, isCaseFile); err != nil {
			return nil, err
		}
	case isCaseFile(root):
		paths = []string{root}
	default:
		// A single policy file x.yaml keeps its cases in x_test.yaml.
		ext := path.Ext(root)
		p := strings.TrimSuffix(root, ext) + "_test" + ext
		if _, err := fs.Stat(fsys, p); err != nil {
			return nil, nil
		}
		paths = []string{p}
	}
	srcs, err := readSources(fsys, paths, display)
	if err != nil {
		return nil, err
	}
	return parseCaseSources(srcs)
}

// parseCaseSources decodes case files; it never panics.
func parseCaseSources(srcs []source) (cases []Case, err error) {
	defer func() {
		if r := recover(); r != nil {
			cases, err = nil, fmt.Errorf("policy: internal error while loading cases: %v", r)
		}
	}()
	// The builder's strict node helpers report with positions; only its
	// error list is used here.
	b := newBuilder()
	names := map[string]Pos{}
	for _, src := range srcs {
		for _, c := range b.caseFile(src) {
			p := Pos{File: c.File, Line: c.Line}
			if first, dup := names[c.Name]; dup {
				b.errorAt(p, nil, "duplicate case name %q (first at %s)", c.Name, first)
				continue
			}
			names[c.Name] = p
			cases = append(cases, c)
		}
	}
	if len(b.errs) > 0 {
		b.errs.sort()
		return nil, b.errs
	}
	return cases, nil
}

// caseFile decodes one case file: a YAML list of cases.
func (b *builder) caseFile(src source) []Case {
	b.file = src.name
	dec := yaml.NewDecoder(bytes.NewReader(src.data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		p := Pos{File: src.name, Line: 1, Col: 1}
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			msg = "yaml: " + m[2]
		}
		b.errorAt(p, err, "%s", msg)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		b.errorf(&extra, nil, "a case file must hold one YAML document")
	} else if !errors.Is(err, io.EOF) {
		b.errorAt(Pos{File: src.name, Line: 1, Col: 1}, err, "%v", err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	var out []Case
	b.seq(doc.Content[0], "the case file", func(n *yaml.Node) {
		if c, ok := b.testCase(n); ok {
			out = append(out, c)
		}
	})
	return out
}

func (b *builder) testCase(n *yaml.Node) (Case, bool) {
	c := Case{File: b.file, Line: n.Line}
	if isNull(n) || n.Kind != yaml.MappingNode {
		b.errorf(n, nil, "a case must be a mapping")
		return c, false
	}
	before := len(b.errs)
	var hasAsOf, hasInput, hasExpect bool
	b.mapping(n, "case", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "name":
			c.Name, _ = b.str(v, "name")
		case "as_of":
			hasAsOf = true
			c.AsOf, _ = b.date(v, "as_of")
		case "time":
			s, ok := b.str(v, "time")
			if !ok {
				return true
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				b.errorf(v, err, "time: want an RFC 3339 instant such as 2026-11-26T23:30:00+01:00: %v", err)
				return true
			}
			c.Time = t
		case "input":
			hasInput = true
			b.caseInput(v, &c.Input)
		case "expect":
			hasExpect = true
			b.caseExpect(v, &c.Expect)
		default:
			return false
		}
		return true
	})
	what := "case"
	if strings.TrimSpace(c.Name) == "" {
		b.errorf(n, nil, "case: name is required")
	} else {
		what = fmt.Sprintf("case %q", c.Name)
	}
	if !hasAsOf {
		b.errorf(n, nil, "%s: as_of is required", what)
	}
	if !hasInput {
		b.errorf(n, nil, "%s: input is required", what)
	}
	if !hasExpect {
		b.errorf(n, nil, "%s: expect is required", what)
	}
	return c, len(b.errs) == before
}

func (b *builder) caseInput(n *yaml.Node, in *CaseInput) {
	if isNull(n) {
		b.errorf(n, nil, "input must be a mapping")
		return
	}
	b.mapping(n, "input", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "jurisdiction":
			s, ok := b.str(v, "jurisdiction")
			if !ok || s == "" {
				return true
			}
			code, err := NormalizeJurisdiction(s)
			if err != nil {
				b.errorf(v, err, "jurisdiction: %v", err)
				return true
			}
			in.Jurisdiction = code
		case "age":
			if a, ok := b.age(v, "age"); ok {
				in.Age = &a
			}
		case "birth_date":
			if d, ok := b.date(v, "birth_date"); ok {
				in.BirthDate = &d
			}
		case "stage":
			s, ok := b.str(v, "stage")
			if !ok {
				return true
			}
			if s != "signup" && s != "reassessment" {
				b.errorf(v, nil, "stage: %q is neither signup nor reassessment", s)
				return true
			}
			in.Stage = s
		case "signals":
			in.Signals = map[string]float64{}
			b.mapping(v, "signals", func(name string, k, v *yaml.Node) bool {
				if !slices.Contains(signalNames[:], name) {
					b.errorf(k, nil, "signals: unknown signal %q (known: %s)", name, strings.Join(signalNames[:], ", "))
					return true
				}
				if f, ok := b.float(v, "signals."+name); ok {
					if f < 0 || (name == SignalUnderageLikelihood && f > 1) {
						b.errorf(v, nil, "signals.%s: %v is out of range", name, f)
						return true
					}
					in.Signals[name] = f
				}
				return true
			})
		case "device_min_age":
			if a, ok := b.age(v, "device_min_age"); ok {
				in.DeviceMinAge = &a
			}
		case "subject_min_age":
			if a, ok := b.age(v, "subject_min_age"); ok {
				in.SubjectMinAge = &a
			}
		case "history_unavailable":
			in.HistoryUnavailable = b.boolean(v, "history_unavailable")
		case "evidence":
			seen := map[string]bool{}
			b.seq(v, "evidence", func(item *yaml.Node) {
				if e, ok := b.caseEvidence(item); ok {
					if seen[e.Type] {
						b.errorf(item, nil, "evidence: at most one item of type %s", e.Type)
						return
					}
					seen[e.Type] = true
					in.Evidence = append(in.Evidence, e)
				}
			})
		case "prior":
			in.Prior = b.casePrior(v)
		default:
			return false
		}
		return true
	})
	switch {
	case in.Age == nil && in.BirthDate == nil:
		b.errorf(n, nil, "input: one of age and birth_date is required")
	case in.Age != nil && in.BirthDate != nil:
		b.errorf(n, nil, "input: give age or birth_date, not both")
	}
	if in.Stage == "" {
		in.Stage = "signup"
	}
}

// evidenceFields lists the fields each evidence type takes besides type and
// outcome.
var evidenceFields = map[string][]string{
	EvidenceAgeEstimation:     {"estimate", "uncertainty", "liveness"},
	EvidenceIDDocument:        {"age", "over"},
	EvidenceDigitalCredential: {"age", "over"},
	EvidenceParentalConsent:   nil,
	EvidencePlatformAgeRange:  {"lower", "upper", "source"},
}

func (b *builder) caseEvidence(n *yaml.Node) (Evidence, bool) {
	e := Evidence{Outcome: OutcomeAccepted}
	if isNull(n) || n.Kind != yaml.MappingNode {
		b.errorf(n, nil, "an evidence item must be a mapping")
		return e, false
	}
	before := len(b.errs)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == "type" {
			e.Type, _ = b.str(n.Content[i+1], "evidence type")
		}
	}
	fields, known := evidenceFields[e.Type]
	if !known {
		b.errorf(n, nil, "evidence: type must be one of age_estimation, id_document, digital_credential, parental_consent, platform_age_range (got %q)", e.Type)
		return e, false
	}
	b.mapping(n, "evidence "+e.Type, func(key string, k, v *yaml.Node) bool {
		if key == "type" {
			return true
		}
		if key == "outcome" {
			s, _ := b.str(v, "outcome")
			switch s {
			case OutcomeAccepted, OutcomeRejected, OutcomeUnverifiable:
				e.Outcome = s
			default:
				b.errorf(v, nil, "outcome: %q is not accepted, rejected or unverifiable", s)
			}
			return true
		}
		if !slices.Contains(fields, key) {
			return false
		}
		switch key {
		case "estimate":
			if f, ok := b.float(v, "estimate"); ok {
				if f < 0 || f > maxAge {
					b.errorf(v, nil, "estimate: %v is out of range", f)
				}
				e.Estimate = &f
			}
		case "uncertainty":
			if f, ok := b.float(v, "uncertainty"); ok {
				e.Uncertainty = math.Abs(f)
			}
		case "liveness":
			e.Liveness = b.boolean(v, "liveness")
		case "age":
			if a, ok := b.age(v, "age"); ok {
				e.Age = &a
			}
		case "over":
			e.Over = map[int]bool{}
			b.mapping(v, "over", func(at string, k, v *yaml.Node) bool {
				t, err := strconv.Atoi(at)
				if err != nil || t < 0 || t > maxAge {
					b.errorf(k, nil, "over: key %q is not an age", at)
					return true
				}
				e.Over[t] = b.boolean(v, "over."+at)
				return true
			})
		case "lower":
			e.Lower, _ = b.age(v, "lower")
		case "upper":
			e.Upper, _ = b.age(v, "upper")
		case "source":
			s, _ := b.str(v, "source")
			switch s {
			case RangeSelfDeclared, RangeGuardianDeclared, RangeVerified:
				e.Source = s
			default:
				b.errorf(v, nil, "source: %q is not self_declared, guardian_declared or verified", s)
			}
		}
		return true
	})
	switch e.Type {
	case EvidenceAgeEstimation:
		if e.Estimate == nil {
			b.errorf(n, nil, "evidence age_estimation: estimate is required")
		}
	case EvidenceIDDocument, EvidenceDigitalCredential:
		if (e.Age == nil) == (len(e.Over) == 0) {
			b.errorf(n, nil, "evidence %s: exactly one of age and over is required", e.Type)
		}
	case EvidenceParentalConsent:
		e.Consent = true
	case EvidencePlatformAgeRange:
		if e.Upper != 0 && e.Upper < e.Lower {
			b.errorf(n, nil, "evidence platform_age_range: upper %d is below lower %d", e.Upper, e.Lower)
		}
		if e.Source == "" {
			e.Source = RangeSelfDeclared
		}
	}
	return e, len(b.errs) == before
}

func (b *builder) casePrior(n *yaml.Node) *Prior {
	pr := &Prior{}
	var hasMin, hasMax bool
	if isNull(n) {
		b.errorf(n, nil, "prior must be a mapping")
		return nil
	}
	if !b.mapping(n, "prior", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "age_min":
			hasMin = true
			pr.AgeMin, _ = b.age(v, "prior.age_min")
		case "age_max":
			hasMax = true
			pr.AgeMax, _ = b.age(v, "prior.age_max")
		case "level":
			pr.Level, _ = b.str(v, "prior.level")
			if LevelRank(pr.Level) == 0 {
				b.errorf(v, nil, "prior.level: %q is not asserted, standard, enhanced or strict", pr.Level)
			}
		case "methods":
			pr.Methods = b.strList(v, "prior.methods")
		default:
			return false
		}
		return true
	}) {
		return nil
	}
	if !hasMin || !hasMax || pr.Level == "" {
		b.errorf(n, nil, "prior: age_min, age_max and level are required")
	} else if pr.AgeMax < pr.AgeMin {
		b.errorf(n, nil, "prior: age_max %d is below age_min %d", pr.AgeMax, pr.AgeMin)
	}
	return pr
}

func (b *builder) caseExpect(n *yaml.Node, ex *CaseExpect) {
	if isNull(n) {
		b.errorf(n, nil, "expect must be a mapping")
		return
	}
	ids := func(v *yaml.Node, what string) []string {
		return append([]string{}, b.strList(v, what)...)
	}
	var rulesNode *yaml.Node
	b.mapping(n, "expect", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "decision":
			s, ok := b.str(v, "decision")
			if !ok {
				return true
			}
			if d := Decision(s); d.Valid() {
				ex.Decision = d
			} else {
				b.errorf(v, nil, "invalid decision %q (want allow, parental_consent_required, additional_verification_required or deny)", s)
			}
		case "band":
			s, ok := b.str(v, "band")
			if !ok {
				return true
			}
			if band := Band(s); band.Valid() {
				ex.Band = band
			} else {
				b.errorf(v, nil, "invalid band %q (want under_13, 13_15, 16_17, 18_plus or unknown)", s)
			}
		case "rules":
			rulesNode = k
			ex.Rules = ids(v, "rules")
		case "rules_include":
			rulesNode = k
			ex.RulesInclude = ids(v, "rules_include")
		case "obligations":
			ex.Obligations = ids(v, "obligations")
		case "pack":
			ex.Pack, _ = b.str(v, "pack")
			if ex.Pack != defaultPackCode {
				if code, err := NormalizeJurisdiction(ex.Pack); err != nil {
					b.errorf(v, err, "pack: %v", err)
				} else {
					ex.Pack = code
				}
			}
		default:
			return false
		}
		return true
	})
	if ex.Decision == "" {
		b.errorf(n, nil, "expect: decision is required")
	}
	if ex.Rules != nil && ex.RulesInclude != nil {
		b.errorf(rulesNode, nil, "expect: give rules (the exact list) or rules_include, not both")
	}
}

func (b *builder) boolean(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		b.errorf(n, nil, "%s must be true or false", what)
		return false
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
}

// Now is the instant a case is evaluated at under p: Time if set, else
// noon of AsOf in the time zone of the pack that applies (see NoonOn), so
// as_of is that day in the pack's own calendar at every offset, UTC−12 to
// UTC+14.
func (c *Case) Now(p *Policy) time.Time {
	if !c.Time.IsZero() {
		return c.Time
	}
	return p.NoonOn(c.Input.Jurisdiction, c.AsOf)
}

// NoonOn is the instant a date means for a check in jurisdiction (a test
// case's as_of, policy explain's --as-of): noon of d in the time zone of
// the pack that applies on d, so that pack evaluates d itself — its periods,
// rules and ages on d. Noon UTC would not do: it is already the next day at
// UTC+12 to +14 (New Zealand, Fiji, Tonga, Samoa, Kiribati).
//
// The pack is found as Evaluate finds it (the code, its country, the
// default pack), taking the first whose noon on d selects it with date d.
// If none does (a fallback pack whose timezone is far from the code's),
// it is noon of d in the first pack of the chain.
func (p *Policy) NoonOn(jurisdiction string, d Date) time.Time {
	code, _ := NormalizeJurisdiction(jurisdiction)
	var chain []*pack
	if code != "" {
		chain = append(chain, p.byCode[code])
		if len(code) > 2 {
			chain = append(chain, p.byCode[code[:2]])
		}
	}
	chain = append(chain, p.m.defaultPack)
	var first time.Time
	for _, pk := range chain {
		if pk == nil {
			continue
		}
		noon := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, pk.loc)
		if first.IsZero() {
			first = noon
		}
		if got, _, day := p.selectPack(code, noon); got == pk && day == d {
			return noon
		}
	}
	return first
}

// input builds the Input a case evaluates, computing the age from a birth
// date on the pack's calendar date, as the service does.
func (p *Policy) caseInput(c *Case) (Input, error) {
	now := c.Now(p)
	in := Input{
		Jurisdiction: c.Input.Jurisdiction,
		Stage:        c.Input.Stage,
		Signals:      c.Input.Signals,
		Now:          now,
		Evidence:     c.Input.Evidence,
		Prior:        c.Input.Prior,
	}
	switch {
	case c.Input.Age != nil:
		in.Age = *c.Input.Age
	case c.Input.BirthDate != nil:
		in.Age = AgeOn(*c.Input.BirthDate, p.Today(in.Jurisdiction, now))
		if in.Age < 0 {
			return in, fmt.Errorf("birth_date %s is after the evaluation date", c.Input.BirthDate)
		}
	}
	if c.Input.DeviceMinAge != nil {
		in.DeviceHistory, in.DeviceMinAge = true, *c.Input.DeviceMinAge
	}
	if c.Input.SubjectMinAge != nil {
		in.SubjectHistory, in.SubjectMinAge = true, *c.Input.SubjectMinAge
	}
	in.HistoryUnavailable = c.Input.HistoryUnavailable
	return in, nil
}

// RunCases evaluates every case and compares the result with what it
// expects. It is deterministic: each case is evaluated at its own instant
// (see Case.Now), never the wall clock.
func (p *Policy) RunCases(cases []Case) []CaseResult {
	out := make([]CaseResult, len(cases))
	for i := range cases {
		out[i] = p.runCase(&cases[i])
	}
	return out
}

func (p *Policy) runCase(c *Case) CaseResult {
	cr := CaseResult{Case: *c}
	in, err := p.caseInput(c)
	if err != nil {
		cr.Problems = append(cr.Problems, err.Error())
		return cr
	}
	r := p.Evaluate(in)
	cr.Got = r
	ex := &c.Expect
	bad := func(format string, args ...any) { cr.Problems = append(cr.Problems, fmt.Sprintf(format, args...)) }
	if r.Decision != ex.Decision {
		bad("decision: got %s, want %s", r.Decision, ex.Decision)
	}
	if ex.Band != "" && r.Band != ex.Band {
		bad("band: got %s, want %s", r.Band, ex.Band)
	}
	got := make([]string, len(r.Reasons))
	for i, reason := range r.Reasons {
		got[i] = reason.Rule
	}
	if ex.Rules != nil && !slices.Equal(got, ex.Rules) {
		bad("rules: got %s, want %s", list(got), list(ex.Rules))
	}
	for _, id := range ex.RulesInclude {
		if !slices.Contains(got, id) {
			bad("rules: %s did not fire (got %s)", id, list(got))
		}
	}
	if ex.Obligations != nil && !slices.Equal(r.Obligations, ex.Obligations) {
		bad("obligations: got %s, want %s", list(r.Obligations), list(ex.Obligations))
	}
	if ex.Pack != "" && r.Pack != ex.Pack {
		bad("pack: got %s, want %s", r.Pack, ex.Pack)
	}
	for _, e := range r.EvalErrors {
		bad("evaluation error: %v", e)
	}
	cr.Pass = len(cr.Problems) == 0
	return cr
}

// list formats ids as [a, b], the way case files write them.
func list(ids []string) string { return "[" + strings.Join(ids, ", ") + "]" }
