package fullstack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// defaultSeed fixes the property test's traffic; AGEASSURE_FULLSTACK_SEED
// replays another (a failure prints the seed it ran with).
const defaultSeed = 20261205

// propertyChecks is how many random checks each replica answers.
const propertyChecks = 200

// TestFullStackProperty sends the same seeded random traffic — every
// jurisdiction kind, ages around every threshold, truthful and false
// declarations, birth dates, risk signals, stages, recurring devices and
// accounts, and valid, spoiled and mixed evidence of every type — to a
// replica with in-process caches and to one on Redis, one check at a time
// in the same order. Both must answer every check identically (status,
// decision, band, rule ids, evidence outcomes, assurance), and a replay of
// each log through the serving policy must change nothing (afterRun).
func TestFullStackProperty(t *testing.T) {
	seed := uint64(defaultSeed)
	if v := os.Getenv("AGEASSURE_FULLSTACK_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("AGEASSURE_FULLSTACK_SEED=%q: %v", v, err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("property test seed %d: rerun with AGEASSURE_FULLSTACK_SEED=%d", seed, seed)
		}
	})
	s := newStack(t, true)
	onRedis := s.start(t, "redis", true)
	inProc := s.start(t, "inproc", false)
	g := newGenerator(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), s)

	decisions := map[string]int{}
	evidenceSeen := map[string]int{}
	mismatches := 0
	for i := range propertyChecks {
		req := g.next(t)
		var (
			wg     sync.WaitGroup
			r1, r2 *reply
			e1, e2 error
		)
		wg.Go(func() { r1, e1 = s.do(inProc, tenantMain, req) })
		wg.Go(func() { r2, e2 = s.do(onRedis, tenantMain, req) })
		wg.Wait()
		if e1 != nil || e2 != nil {
			t.Fatalf("seed %d, check %d: %v / %v", seed, i, e1, e2)
		}
		if diff := differ(r1, r2); diff != "" || r1.status != http.StatusOK {
			mismatches++
			t.Errorf("seed %d, check %d: %s\n  request: %s\n  %s\n  %s", seed, i, orStatus(diff, r1), describe(req), r1, r2)
			if mismatches >= 5 {
				t.Fatalf("seed %d: stopping after %d mismatches", seed, mismatches)
			}
			continue
		}
		decisions[r1.Decision]++
		for _, e := range r1.Evidence {
			evidenceSeen[e.Type+":"+e.Outcome]++
		}
	}
	t.Logf("seed %d: %d checks answered alike; decisions %v; evidence %v", seed, propertyChecks, decisions, evidenceSeen)
	// The traffic must have exercised what it claims to, or a pass means
	// little.
	for _, d := range []string{allow, deny, consent, verify} {
		if decisions[d] == 0 {
			t.Errorf("seed %d: no check was decided %s", seed, d)
		}
	}
	for _, typ := range []string{"age_estimation", "id_document", "digital_credential", "parental_consent", "platform_age_range"} {
		if evidenceSeen[typ+":accepted"] == 0 {
			t.Errorf("seed %d: no %s evidence was accepted", seed, typ)
		}
	}
	if evidenceSeen["age_estimation:rejected"]+evidenceSeen["id_document:rejected"]+evidenceSeen["digital_credential:rejected"]+evidenceSeen["parental_consent:rejected"] == 0 {
		t.Errorf("seed %d: no signed evidence was rejected", seed)
	}

	s.afterRun(t)
}

func orStatus(diff string, r *reply) string {
	if diff != "" {
		return diff
	}
	return "not answered 200"
}

// differ names the first difference between two answers, "" if none.
func differ(a, b *reply) string {
	switch {
	case a.status != b.status:
		return "status differs"
	case a.status != http.StatusOK:
		if a.Code != b.Code {
			return "problem code differs"
		}
		return ""
	case a.Decision != b.Decision:
		return "decision differs"
	case a.AgeBand != b.AgeBand:
		return "band differs"
	case !slices.Equal(a.rules(), b.rules()):
		return "rule ids differ"
	case a.Assurance.Level != b.Assurance.Level || !slices.Equal(a.Assurance.Methods, b.Assurance.Methods):
		return "assurance differs"
	case len(a.Evidence) != len(b.Evidence):
		return "evidence results differ"
	case !slices.Equal(a.Obligations, b.Obligations):
		return "obligations differ"
	case a.Policy.Hash != b.Policy.Hash:
		return "policy differs"
	}
	for i := range a.Evidence {
		if a.Evidence[i] != b.Evidence[i] {
			return "evidence results differ"
		}
	}
	return ""
}

// describe renders a request for a failure message, tokens shortened.
func describe(req *checkRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s declared=", req.Jurisdiction)
	if req.Declared.Age != nil {
		fmt.Fprintf(&b, "%d", *req.Declared.Age)
	} else {
		b.WriteString(req.Declared.BirthDate)
	}
	for _, sg := range req.Signals {
		if sg.Score != nil {
			fmt.Fprintf(&b, " %s=%v", sg.Type, *sg.Score)
		} else {
			fmt.Fprintf(&b, " %s=%v", sg.Type, *sg.Count)
		}
	}
	for _, e := range req.Evidence {
		fmt.Fprintf(&b, " %s", e.Type)
		if e.Lower != nil {
			fmt.Fprintf(&b, "[%d-%v]", *e.Lower, ptrOr(e.Upper))
		}
	}
	if c := req.Context; c != nil {
		fmt.Fprintf(&b, " stage=%s device=%s subject=%s", c.Stage, c.DeviceRef, c.SubjectRef)
	}
	return b.String()
}

func ptrOr(p *int) string {
	if p == nil {
		return "open"
	}
	return strconv.Itoa(*p)
}

// generator makes random valid checks.
type generator struct {
	rng      *rand.Rand
	s        *stack
	devices  []string
	subjects []string
}

func newGenerator(rng *rand.Rand, s *stack) *generator {
	g := &generator{rng: rng, s: s}
	// Few devices and accounts, so they recur: hopping, re-use, history.
	for range 8 {
		g.devices = append(g.devices, fresh("dev"))
		g.subjects = append(g.subjects, fresh("sub"))
	}
	return g
}

var jurisdictions = []string{"US", "US-UT", "US-TX", "DE", "FR", "NL", "IE", "DK", "AT", "ES", "GB", "AU", "BR", "JP", "IN"}

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// trueAge draws a person: often near an age that matters.
func (g *generator) trueAge() int {
	if g.chance(0.6) {
		return 9 + g.rng.IntN(11) // 9..19
	}
	return 20 + g.rng.IntN(51)
}

func (g *generator) next(t *testing.T) *checkRequest {
	t.Helper()
	age := g.trueAge()
	decl := age
	if g.chance(0.25) { // a lie, in either direction
		decl = 8 + g.rng.IntN(33)
	}
	req := &checkRequest{Jurisdiction: jurisdictions[g.rng.IntN(len(jurisdictions))]}
	if g.chance(0.5) {
		req.Declared = declared{BirthDate: birthDateFor(decl)}
	} else {
		req.Declared = ageOf(decl)
	}
	if g.chance(0.25) {
		score := math.Round(g.rng.Float64()*100) / 100
		req.Signals = append(req.Signals, signal{Type: "underage_likelihood", Score: &score})
	}
	if g.chance(0.15) {
		n := int64(g.rng.IntN(6))
		req.Signals = append(req.Signals, signal{Type: "user_reports", Count: &n})
	}
	ctx := &checkContext{Nonce: fresh("nonce")}
	if g.chance(0.2) {
		ctx.Stage = "reassessment"
	}
	if g.chance(0.35) {
		ctx.DeviceRef = g.devices[g.rng.IntN(len(g.devices))]
	}
	if g.chance(0.3) {
		ctx.SubjectRef = g.subjects[g.rng.IntN(len(g.subjects))]
	}
	req.Context = ctx
	if g.chance(0.5) {
		types := []string{"age_estimation", "id_document", "digital_credential", "parental_consent", "platform_age_range"}
		g.rng.Shuffle(len(types), func(i, j int) { types[i], types[j] = types[j], types[i] })
		for _, typ := range types[:1+g.rng.IntN(2)] {
			req.Evidence = append(req.Evidence, g.evidence(t, typ, age, ctx.Nonce))
		}
	}
	return req
}

// evidence makes one item of typ for someone of age; one signed item in
// eight is bound to another nonce, so it is rejected.
func (g *generator) evidence(t *testing.T, typ string, age int, nonce string) evidence {
	t.Helper()
	is := g.s.iss
	if typ != "platform_age_range" && g.chance(0.125) {
		nonce = fresh("nonce") // spoiled: bound to another request
		g.s.canaries.add("nonce", nonce)
	}
	over := func(ts ...int) map[int]bool {
		m := map[int]bool{}
		for _, n := range ts {
			if g.chance(0.7) {
				m[n] = age >= n
			}
		}
		if len(m) == 0 {
			m[18] = age >= 18
		}
		return m
	}
	switch typ {
	case "age_estimation":
		est := math.Max(1, math.Round((float64(age)+0.5+g.rng.NormFloat64()*1.5)*10)/10)
		unc := math.Round((0.5+g.rng.Float64()*2.5)*10) / 10
		return evidence{Type: typ, Provider: "faceage", Token: is.estimateToken(t, nonce, est, unc, g.chance(0.5))}
	case "id_document":
		if g.chance(0.5) {
			return evidence{Type: typ, Provider: "docscan", Token: is.docBirthDateToken(t, nonce, birthDateFor(age))}
		}
		return evidence{Type: typ, Provider: "docscan", Token: is.docOverToken(t, nonce, over(13, 16, 18))}
	case "digital_credential":
		return evidence{Type: typ, Provider: "pid-issuer", Token: is.credential(t, nonce, over(13, 15, 16, 18))}
	case "parental_consent":
		return evidence{Type: typ, Provider: "guardian", Token: is.consentToken(t, nonce)}
	}
	sources := []string{"self_declared", "guardian_declared", "verified"}
	e := evidence{Type: typ, Source: sources[g.rng.IntN(len(sources))]}
	switch {
	case age < 13:
		e.Lower, e.Upper = intp(0), intp(12)
	case age < 16:
		e.Lower, e.Upper = intp(13), intp(15)
	case age < 18:
		e.Lower, e.Upper = intp(16), intp(17)
	default:
		e.Lower = intp(18)
	}
	return e
}
