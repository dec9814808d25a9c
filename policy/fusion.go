package policy

import (
	"math"
	"slices"
)

// Methods name where an age claim comes from; they are the evidence types
// plus the applicant's own declaration and assurance re-used from an
// earlier check.
const (
	MethodSelfDeclaration = "self_declaration"
	MethodReused          = "reused_assurance"
)

// Assurance levels (IEEE 2089.1), weakest first.
const (
	LevelAsserted = "asserted"
	LevelStandard = "standard"
	LevelEnhanced = "enhanced"
	LevelStrict   = "strict"
)

// LevelRank orders the assurance levels; an unknown level ranks 0.
func LevelRank(level string) int {
	switch level {
	case LevelAsserted:
		return 1
	case LevelStandard:
		return 2
	case LevelEnhanced:
		return 3
	case LevelStrict:
		return 4
	}
	return 0
}

// fusionConfig is the policy's `fusion` section: how much an estimate is
// distrusted, and what assurance level each method earns.
type fusionConfig struct {
	// buffer is added to an estimate's own uncertainty at every threshold;
	// thresholdBuffers overrides it per threshold.
	buffer           float64
	thresholdBuffers map[int]float64
	// levels maps a method (or "age_estimation_liveness") to its level.
	levels map[string]string
}

// levelKeys are the methods whose level the policy sets.
var levelKeys = []string{
	MethodSelfDeclaration, EvidencePlatformAgeRange, EvidenceAgeEstimation, EvidenceAgeEstimation + "_liveness",
	EvidenceIDDocument, EvidenceDigitalCredential,
}

// defaultFusion is what a policy without a fusion section gets: 2 years of
// buffer on estimates (NIST IR 8525 found mean absolute errors around 3
// years; vendors advise a challenge age above the age of interest).
func defaultFusion() fusionConfig {
	return fusionConfig{
		buffer:           2,
		thresholdBuffers: map[int]float64{},
		levels: map[string]string{
			MethodSelfDeclaration:               LevelAsserted,
			EvidencePlatformAgeRange:            LevelAsserted,
			EvidenceAgeEstimation:               LevelStandard,
			EvidenceAgeEstimation + "_liveness": LevelEnhanced,
			EvidenceIDDocument:                  LevelEnhanced,
			EvidenceDigitalCredential:           LevelEnhanced,
		},
	}
}

// bufferAt is the policy's buffer for an estimate at threshold t.
func (f *fusionConfig) bufferAt(t int) float64 {
	if b, ok := f.thresholdBuffers[t]; ok {
		return b
	}
	return f.buffer
}

// verdict is what a claim says about "age >= t".
type verdict int8

const (
	unknown verdict = 0
	pass    verdict = 1
	fail    verdict = -1
)

// Strength of each kind of claim: stronger evidence decides the band.
const (
	strengthDeclaration = 0
	strengthRange       = 1
	strengthEstimate    = 2
	strengthVerified    = 3
)

// claim is one source's statement about the applicant's age.
type claim struct {
	method   string
	strength int
	level    string
	exact    int  // whole-year age, when isExact
	isExact  bool // the claim names an age, not just thresholds
	// Interval claims: an estimate with its total spread, a range, or
	// age_over_NN booleans.
	estimate, spread float64 // spread excludes the threshold buffer
	isEstimate       bool
	lower, upper     int // range; upper 0 is open
	isRange          bool
	over             map[int]bool
	buffer           func(t int) float64
	// restrictOnly: genuine evidence whose single use could not be
	// confirmed (Evidence.RestrictOnly). It never decides and never passes
	// an age; it only shows a contradiction where it fails one.
	restrictOnly bool
}

// at says what the claim implies about "age >= t".
func (c *claim) at(t int) verdict {
	switch {
	case c.isExact:
		return boolVerdict(c.exact >= t)
	case c.isEstimate:
		// An estimate passes only if even its low end clears t, fails only
		// if even its high end is below t; between, it is inconclusive.
		b := c.spread + c.buffer(t)
		if c.estimate-b >= float64(t) {
			return pass
		}
		if c.estimate+b < float64(t) {
			return fail
		}
		return unknown
	case c.isRange:
		if c.lower >= t {
			return pass
		}
		if c.upper > 0 && c.upper < t {
			return fail
		}
		return unknown
	case c.over != nil:
		if v, ok := c.over[t]; ok {
			return boolVerdict(v)
		}
		// age_over_18 = true implies over 13; = false implies under 21.
		for n, v := range c.over {
			if v && n >= t {
				return pass
			}
			if !v && n <= t {
				return fail
			}
		}
	}
	return unknown
}

func boolVerdict(b bool) verdict {
	if b {
		return pass
	}
	return fail
}

// Prior is assurance remembered from an earlier check of the same account
// (the service keeps it by keyed HMAC): an age interval and how strongly it
// was established. It counts as a claim of that strength.
type Prior struct {
	AgeMin, AgeMax int
	Level          string
	Methods        []string
}

// Fusion is the combined view of every age claim of a check.
type Fusion struct {
	// Age is the whole-year age the rules see as `age`: exact when the
	// deciding claim names one, else the declared age.
	Age int
	// AgeMin and AgeMax bound the age: at least AgeMin, at most AgeMax, as
	// far as the deciding evidence shows (snapped to the ages the policy
	// knows when the evidence gives no exact age).
	AgeMin, AgeMax int
	Exact          bool
	// Assurance is the level of the deciding claim and every method used.
	Assurance Assurance
	// Consent: a verified parental consent for this signup.
	Consent bool
	// Contradiction: two claims disagree at an age the policy knows;
	// Conflict names them ("self_declaration vs age_estimation").
	Contradiction bool
	Conflict      string
	// Verified: the deciding claim is a verified document or credential (or
	// assurance re-used at that strength), which outranks any declaration.
	Verified bool
	// UsedPrior: the re-used earlier assurance was among the deciding claims.
	UsedPrior bool

	verdicts map[int]verdict
}

// Assurance says how strongly an age result is established.
type Assurance struct {
	Level   string
	Methods []string
	// Buffers are the years of doubt applied to an estimate at each
	// threshold (policy buffer plus the provider's uncertainty), when an
	// estimate decided.
	Buffers map[int]float64
}

// ageCeiling is AgeMax when nothing caps the age: the largest age a
// policy may name.
const ageCeiling = maxAge

// fuse combines the declaration, a prior and the accepted evidence.
// Stronger evidence decides: a verified document or credential over an
// estimate over an OS age range over the declaration. Contradictions are
// found across all of them, so a child with a parent's ID, or an adult
// face on a 10-year-old's declaration, is flagged.
func (p *Policy) fuse(declared int, prior *Prior, evidence []Evidence) Fusion {
	f := &p.m.fusion
	claims := []claim{{method: MethodSelfDeclaration, strength: strengthDeclaration, level: f.levels[MethodSelfDeclaration], exact: declared, isExact: true}}
	out := Fusion{}
	if prior != nil {
		c := claim{method: MethodReused, strength: priorStrength(prior.Level), level: prior.Level}
		if prior.AgeMin == prior.AgeMax {
			c.exact, c.isExact = prior.AgeMin, true
		} else {
			c.lower, c.upper, c.isRange = prior.AgeMin, prior.AgeMax, true
			if c.upper >= ageCeiling {
				c.upper = 0
			}
		}
		claims = append(claims, c)
	}
	for i := range evidence {
		e := &evidence[i]
		restrict := !e.Accepted() && e.RestrictOnly
		if !e.Accepted() && !restrict {
			continue
		}
		n := len(claims)
		switch e.Type {
		case EvidenceParentalConsent:
			if e.Consent && !restrict {
				out.Consent = true
				out.Assurance.Methods = appendMethod(out.Assurance.Methods, e.Type)
			}
		case EvidenceAgeEstimation:
			if e.Estimate == nil {
				continue
			}
			level := f.levels[EvidenceAgeEstimation]
			if e.Liveness {
				level = f.levels[EvidenceAgeEstimation+"_liveness"]
			}
			claims = append(claims, claim{method: e.Type, strength: strengthEstimate, level: level,
				estimate: *e.Estimate, spread: math.Abs(e.Uncertainty), isEstimate: true, buffer: f.bufferAt})
		case EvidenceIDDocument, EvidenceDigitalCredential:
			c := claim{method: e.Type, strength: strengthVerified, level: f.levels[e.Type]}
			switch {
			case e.Age != nil:
				c.exact, c.isExact = *e.Age, true
			case len(e.Over) > 0:
				c.over = e.Over
			default:
				continue
			}
			claims = append(claims, c)
		case EvidencePlatformAgeRange:
			claims = append(claims, claim{method: e.Type, strength: strengthRange, level: f.levels[e.Type],
				lower: e.Lower, upper: e.Upper, isRange: true})
		}
		if restrict && len(claims) > n {
			claims[n].restrictOnly = true
		}
	}

	strongest := 0
	for _, c := range claims {
		if !c.restrictOnly {
			strongest = max(strongest, c.strength)
		}
	}
	out.Verified = strongest >= strengthVerified
	var deciding []*claim
	for i := range claims {
		c := &claims[i]
		if c.restrictOnly {
			continue // it raises nothing: no method, no level, no decision
		}
		out.Assurance.Methods = appendMethod(out.Assurance.Methods, c.method)
		if c.strength == strongest {
			deciding = append(deciding, c)
			out.UsedPrior = out.UsedPrior || c.method == MethodReused
			if LevelRank(c.level) > LevelRank(out.Assurance.Level) {
				out.Assurance.Level = c.level
			}
		}
	}
	slices.Sort(out.Assurance.Methods)

	// Verdicts at every age the policy knows: the deciding claims', and a
	// contradiction wherever any two claims disagree.
	out.verdicts = make(map[int]verdict, len(p.knownAges))
	for _, t := range p.knownAges {
		v := unknown
		for _, c := range deciding {
			switch cv := c.at(t); {
			case cv == unknown:
			case v == unknown:
				v = cv
			case v != cv:
				v = fail // deciding claims disagree: take the safer side
			}
		}
		out.verdicts[t] = v
		if !out.Contradiction {
			if passer, failer := disagreement(claims, t); passer != nil {
				out.Contradiction = true
				out.Conflict = passer.method + " vs " + failer.method
			}
		}
	}
	closeVerdicts(p.knownAges, out.verdicts)

	// The interval the rules see.
	for _, c := range deciding {
		if c.isExact && !out.Exact {
			out.Exact, out.Age = true, c.exact
		} else if c.isExact && c.exact != out.Age {
			out.Exact = false // two exact claims disagree: fall back to thresholds
		}
	}
	if out.Exact {
		out.AgeMin, out.AgeMax = out.Age, out.Age
	} else {
		out.Age = declared
		out.AgeMin, out.AgeMax = 0, ageCeiling
		for _, t := range p.knownAges {
			switch out.verdicts[t] {
			case pass:
				out.AgeMin = max(out.AgeMin, t)
			case fail:
				out.AgeMax = min(out.AgeMax, t-1)
			}
		}
	}
	for _, c := range deciding {
		if c.isEstimate {
			out.Assurance.Buffers = map[int]float64{}
			for _, t := range p.knownAges {
				out.Assurance.Buffers[t] = math.Round((c.spread+c.buffer(t))*100) / 100
			}
		}
	}
	return out
}

// verdictAt is the fused verdict at t (exact ages answer any t).
func (f *Fusion) verdictAt(t int) verdict {
	if f.Exact {
		return boolVerdict(f.Age >= t)
	}
	return f.verdicts[t]
}

// band is the age band the fused interval falls in, or unknown when it
// straddles a band boundary.
func (f *Fusion) band() Band {
	lo, hi := BandOf(f.AgeMin), BandOf(f.AgeMax)
	if lo != hi {
		return BandUnknown
	}
	return lo
}

// disagreement finds two claims, one saying age >= t and one saying age < t,
// preferring the strongest of each side.
func disagreement(claims []claim, t int) (passer, failer *claim) {
	for i := range claims {
		c := &claims[i]
		switch c.at(t) {
		case pass:
			if c.restrictOnly {
				continue // it may only restrict
			}
			if passer == nil || c.strength > passer.strength {
				passer = c
			}
		case fail:
			if failer == nil || c.strength > failer.strength {
				failer = c
			}
		}
	}
	if passer == nil || failer == nil {
		return nil, nil
	}
	return passer, failer
}

// closeVerdicts makes the verdicts monotone: passing an age passes every
// lower one, failing an age fails every higher one.
func closeVerdicts(ages []int, v map[int]verdict) {
	for i := len(ages) - 1; i >= 0; i-- {
		if v[ages[i]] == pass {
			for j := 0; j < i; j++ {
				v[ages[j]] = pass
			}
			break
		}
	}
	for i, t := range ages {
		if v[t] == fail {
			for j := i + 1; j < len(ages); j++ {
				v[ages[j]] = fail
			}
			break
		}
	}
}

func priorStrength(level string) int {
	switch LevelRank(level) {
	case 4, 3:
		return strengthVerified
	case 2:
		return strengthEstimate
	}
	return strengthDeclaration
}

func appendMethod(ms []string, m string) []string {
	if slices.Contains(ms, m) {
		return ms
	}
	return append(ms, m)
}

// Fused is what a check's age claims established, reduced to the values
// the rules read: the interval, whether it names an exact age, the
// assurance, consent, any contradiction and whether a verified claim
// decided. It is what a decision log records instead of the evidence
// itself, and what a replay gives back (see Input.Fused), so that replaying
// a decision under the policy that made it reproduces it exactly.
type Fused struct {
	// AgeMin and AgeMax bound the age (AgeMax may be the open ceiling).
	AgeMin, AgeMax int
	// Exact: the deciding claim named the age AgeMin (= AgeMax); rules
	// then see it as `age`. Otherwise `age` is the declared age.
	Exact    bool
	Level    string
	Methods  []string
	Consent  bool
	Conflict string // the contradicting claims, "" when none
	Verified bool
}

// Derived is f reduced to what a log records (see Fused).
func (f *Fusion) Derived() Fused {
	return Fused{
		AgeMin: f.AgeMin, AgeMax: f.AgeMax, Exact: f.Exact,
		Level: f.Assurance.Level, Methods: f.Assurance.Methods,
		Consent: f.Consent, Conflict: f.Conflict, Verified: f.Verified,
	}
}

// refuse rebuilds the fusion a logged decision was made on from its derived
// view. The verdict at an age the policy knows follows from the interval
// alone: fuse sets AgeMin to the highest age passed and AgeMax below the
// lowest age failed, after closing the verdicts, so the two agree.
func (p *Policy) refuse(declared int, fd *Fused) Fusion {
	out := Fusion{
		Age: declared, AgeMin: fd.AgeMin, AgeMax: fd.AgeMax, Exact: fd.Exact,
		Assurance: Assurance{Level: fd.Level, Methods: fd.Methods},
		Consent:   fd.Consent, Contradiction: fd.Conflict != "", Conflict: fd.Conflict,
		Verified: fd.Verified,
	}
	if fd.Exact {
		out.Age = fd.AgeMin
	}
	out.verdicts = make(map[int]verdict, len(p.knownAges))
	for _, t := range p.knownAges {
		switch {
		case fd.AgeMin >= t:
			out.verdicts[t] = pass
		case fd.AgeMax < t:
			out.verdicts[t] = fail
		}
	}
	return out
}
