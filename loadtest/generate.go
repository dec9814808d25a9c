package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Person is who a generated request speaks for, as declared.
type Person struct {
	Jurisdiction string
	Age          int    // the declared age
	BirthDate    string // "YYYY-MM-DD" when declared as a birth date, else "" (an age)
}

// DeviceMode says where a request's device_ref comes from.
type DeviceMode uint8

// Device modes.
const (
	DeviceFresh DeviceMode = iota // a device never sent before
	DeviceReuse                   // a recent device, the same person again
	DeviceHop                     // a recent device that declared under 13, now older
)

// SubjectMode says whether and how a request carries a subject_ref.
type SubjectMode uint8

// Subject modes.
const (
	SubjectNone   SubjectMode = iota // no subject_ref
	SubjectNew                       // a subject never sent before
	SubjectRepeat                    // a recent subject, the same person again
)

// Request is one generated age check and what was drawn for it; only Body
// is sent.
type Request struct {
	Index              uint64
	Body               []byte
	Person             Person
	TrueAge            int // differs from Person.Age on hopping attempts
	Device             DeviceMode
	Subject            SubjectMode
	UnderageLikelihood bool
	UserReports        bool
	Evidence           bool
}

// EvidenceGenerator makes the "evidence" member of a request, for a
// service that accepts evidence. None is built in: the service's evidence
// support is still being built, so the default mix has evidence_share 0
// and a positive share without a generator is refused. Once the format
// exists, an implementation returns the member's JSON value (e.g. a
// credential or estimation token for p), drawing any randomness from rng
// so runs stay deterministic.
type EvidenceGenerator interface {
	Evidence(rng *rand.Rand, p Person, trueAge int) ([]byte, error)
}

// hopGap is how many requests must separate a device's under-13
// declaration from its hopping attempt, so that concurrent workers almost
// surely send the first before the second.
const hopGap = 256

// maxHopCandidates bounds the queue of devices that declared under 13.
const maxHopCandidates = 4096

// seen is a device or subject reference already sent, and who used it.
type seen struct {
	id     uint64
	person Person
}

type hopCandidate struct {
	seen
	index uint64
}

// ring keeps the latest max entries, overwriting the oldest.
type ring struct {
	items []seen
	max   int
	next  int // the slot to overwrite once full
}

func (r *ring) push(s seen) {
	if len(r.items) < r.max {
		r.items = append(r.items, s)
		return
	}
	r.items[r.next] = s
	r.next = (r.next + 1) % r.max
}

// pick returns a uniformly drawn entry; the ring must not be empty.
func (r *ring) pick(rng *rand.Rand) seen { return r.items[rng.IntN(len(r.items))] }

// Generator draws age checks from a Mix. The i-th request depends only on
// the mix, the seed and the date of today: two generators built alike
// produce the same bytes. A Generator is not safe for concurrent use.
type Generator struct {
	mix      Mix
	seed     string
	rng      *rand.Rand
	today    time.Time // UTC midnight
	evidence EvidenceGenerator

	codes []string  // jurisdictions, sorted
	cum   []float64 // cumulative weights of codes

	next     uint64
	devices  ring           // the latest fresh devices
	subjects ring           // the latest new subjects
	hops     []hopCandidate // devices that declared under 13, oldest first
}

// NewGenerator returns a generator for mix (validated here) seeded with
// seed, computing birth dates relative to the UTC date of now. ev may be
// nil unless mix.EvidenceShare > 0.
func NewGenerator(mix Mix, seed uint64, now time.Time, ev EvidenceGenerator) (*Generator, error) {
	if err := mix.Validate(); err != nil {
		return nil, fmt.Errorf("mix: %w", err)
	}
	if mix.EvidenceShare > 0 && ev == nil {
		return nil, fmt.Errorf("mix: evidence_share %v needs an evidence generator, and none exists yet (the service's evidence support is being built); set it to 0", mix.EvidenceShare)
	}
	g := &Generator{
		mix:      mix,
		seed:     strconv.FormatUint(seed, 10),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		today:    time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC),
		evidence: ev,
		codes:    mix.Jurisdictions.sorted(),
		devices:  ring{max: mix.Devices.Recent},
		subjects: ring{max: mix.Subjects.Recent},
	}
	total := 0.0
	for _, c := range g.codes {
		total += mix.Jurisdictions[c]
		g.cum = append(g.cum, total)
	}
	return g, nil
}

// Next draws the next request.
func (g *Generator) Next() (Request, error) {
	rng, m := g.rng, &g.mix
	r := Request{Index: g.next}
	g.next++

	r.Device = DeviceFresh
	if rng.Float64() < m.Devices.Reuse {
		r.Device = DeviceReuse
		if rng.Float64() < m.Devices.Hopping {
			r.Device = DeviceHop
		}
	}
	r.Subject = SubjectNone
	if rng.Float64() < m.Subjects.Share {
		r.Subject = SubjectNew
		if rng.Float64() < m.Subjects.Repeat {
			r.Subject = SubjectRepeat
		}
	}

	// Who speaks: a hop re-declares; otherwise a repeated subject, then a
	// reused device, is the same person as before; else someone new.
	var deviceID, subjectID uint64
	havePerson := false
	if r.Device == DeviceHop {
		if c, ok := g.popHop(r.Index); ok {
			deviceID, r.TrueAge = c.id, c.person.Age
			r.Person = g.person(c.person.Jurisdiction, 13+rng.IntN(13))
			havePerson = true
		} else {
			r.Device = DeviceReuse
		}
	}
	if r.Device == DeviceReuse {
		if len(g.devices.items) == 0 {
			r.Device = DeviceFresh
		} else {
			d := g.devices.pick(rng)
			deviceID, r.Person, r.TrueAge = d.id, d.person, d.person.Age
			havePerson = true
		}
	}
	if r.Device == DeviceFresh {
		deviceID = r.Index
	}
	if r.Subject == SubjectRepeat {
		if len(g.subjects.items) == 0 {
			r.Subject = SubjectNew
		} else {
			s := g.subjects.pick(rng)
			subjectID = s.id
			if r.Device != DeviceHop {
				r.Person, r.TrueAge = s.person, s.person.Age
				havePerson = true
			}
		}
	}
	if r.Subject == SubjectNew {
		subjectID = r.Index
	}
	if !havePerson {
		r.Person = g.person(g.jurisdiction(), g.age())
		r.TrueAge = r.Person.Age
	}

	if r.Device == DeviceFresh {
		g.devices.push(seen{deviceID, r.Person})
		if r.Person.Age < 13 {
			g.pushHop(hopCandidate{seen{deviceID, r.Person}, r.Index})
		}
	}
	if r.Subject == SubjectNew {
		g.subjects.push(seen{subjectID, r.Person})
	}

	r.UnderageLikelihood = rng.Float64() < m.Signals.UnderageLikelihood
	var score float64
	if r.UnderageLikelihood {
		score = likelihood(rng, r.TrueAge)
	}
	r.UserReports = rng.Float64() < m.Signals.UserReports
	var reports int
	if r.UserReports {
		reports = reportCount(rng, r.TrueAge)
	}
	var evidence []byte
	if m.EvidenceShare > 0 && rng.Float64() < m.EvidenceShare {
		var err error
		if evidence, err = g.evidence.Evidence(rng, r.Person, r.TrueAge); err != nil {
			return r, fmt.Errorf("request %d: evidence: %w", r.Index, err)
		}
		r.Evidence = evidence != nil
	}

	r.Body = g.body(&r, deviceID, subjectID, score, reports, evidence)
	return r, nil
}

// body renders the request. Every string in it is generated from a fixed
// alphabet, so nothing needs escaping.
func (g *Generator) body(r *Request, deviceID, subjectID uint64, score float64, reports int, evidence []byte) []byte {
	b := make([]byte, 0, 320) // enough for the longest body without evidence
	b = append(b, `{"jurisdiction":"`...)
	b = append(b, r.Person.Jurisdiction...)
	if r.Person.BirthDate != "" {
		b = append(b, `","declared":{"birth_date":"`...)
		b = append(b, r.Person.BirthDate...)
		b = append(b, `"}`...)
	} else {
		b = append(b, `","declared":{"age":`...)
		b = strconv.AppendInt(b, int64(r.Person.Age), 10)
		b = append(b, '}')
	}
	if r.UnderageLikelihood || r.UserReports {
		b = append(b, `,"signals":[`...)
		if r.UnderageLikelihood {
			b = append(b, `{"type":"underage_likelihood","score":`...)
			b = strconv.AppendFloat(b, score, 'f', 2, 64)
			b = append(b, '}')
			if r.UserReports {
				b = append(b, ',')
			}
		}
		if r.UserReports {
			b = append(b, `{"type":"user_reports","count":`...)
			b = strconv.AppendInt(b, int64(reports), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"context":{"device_ref":"d-`...)
	b = g.ref(b, deviceID)
	if r.Subject != SubjectNone {
		b = append(b, `","subject_ref":"s-`...)
		b = g.ref(b, subjectID)
	}
	b = append(b, `","nonce":"n-`...)
	b = g.ref(b, r.Index)
	b = append(b, `"}`...)
	if evidence != nil {
		b = append(b, `,"evidence":`...)
		b = append(b, evidence...)
	}
	return append(b, '}')
}

// ref appends "<seed>-<id>".
func (g *Generator) ref(b []byte, id uint64) []byte {
	b = append(b, g.seed...)
	b = append(b, '-')
	return strconv.AppendUint(b, id, 10)
}

// jurisdiction draws a code by weight.
func (g *Generator) jurisdiction() string {
	x := g.rng.Float64() * g.cum[len(g.cum)-1]
	for i, c := range g.cum {
		if x < c {
			return g.codes[i]
		}
	}
	return g.codes[len(g.codes)-1]
}

// age draws a true age from the age bands.
func (g *Generator) age() int {
	a := &g.mix.Ages
	switch u := g.rng.Float64(); {
	case u < a.Under13:
		return a.ChildMin + g.rng.IntN(13-a.ChildMin)
	case u < a.Under13+a.From13To15:
		return 13 + g.rng.IntN(3)
	case u < a.Under13+a.From13To15+a.From16To17:
		return 16 + g.rng.IntN(2)
	default:
		return a.AdultMin + g.rng.IntN(a.AdultMax-a.AdultMin+1)
	}
}

// person makes a declaration of age in jurisdiction, as a birth date or
// as an age.
func (g *Generator) person(jurisdiction string, age int) Person {
	p := Person{Jurisdiction: jurisdiction, Age: age}
	if g.rng.Float64() < g.mix.Ages.BirthDate {
		p.BirthDate = birthDate(g.today, age, 2+g.rng.IntN(359))
	}
	return p
}

// birthDate returns the birth date of someone aged age on today whose last
// birthday was daysAgo (2..360) days before. The service ages a birth date
// as of today in the jurisdiction's time zone, at most a day either side of
// the UTC date; keeping birthdays at least 2 days away (and 29 February
// out) means every zone agrees on the age.
func birthDate(today time.Time, age, daysAgo int) string {
	last := today.AddDate(0, 0, -daysAgo)
	if last.Month() == time.February && last.Day() == 29 {
		last = last.AddDate(0, 0, -1)
	}
	return time.Date(last.Year()-age, last.Month(), last.Day(), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// likelihood draws an underage_likelihood score skewed by true age:
// u^k has mean 1/(k+1), so k = 1/mean − 1 puts children high, adults low.
func likelihood(rng *rand.Rand, trueAge int) float64 {
	mean := 0.12
	switch {
	case trueAge < 13:
		mean = 0.75
	case trueAge < 16:
		mean = 0.55
	case trueAge < 18:
		mean = 0.35
	}
	s := math.Pow(rng.Float64(), 1/mean-1)
	return math.Round(s*100) / 100
}

// reportCount draws a user_reports count, exponential with a mean that
// falls with true age.
func reportCount(rng *rand.Rand, trueAge int) int {
	mean := 0.5
	switch {
	case trueAge < 13:
		mean = 3
	case trueAge < 16:
		mean = 2
	case trueAge < 18:
		mean = 1.2
	}
	return min(int(rng.ExpFloat64()*mean), 1000)
}

// pushHop queues a device that declared under 13, dropping the oldest
// when the queue is full.
func (g *Generator) pushHop(c hopCandidate) {
	if len(g.hops) >= maxHopCandidates {
		g.hops = g.hops[1:]
	}
	g.hops = append(g.hops, c)
}

// popHop takes the oldest device that declared under 13 at least hopGap
// requests before index.
func (g *Generator) popHop(index uint64) (hopCandidate, bool) {
	if len(g.hops) == 0 || g.hops[0].index+hopGap > index {
		return hopCandidate{}, false
	}
	c := g.hops[0]
	g.hops = g.hops[1:]
	return c, true
}
