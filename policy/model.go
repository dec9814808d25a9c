package policy

import (
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
)

// legalStatus says whether a dated fact, rule or obligation is law. Only
// in_force and enacted entries take effect (enacted ones from their
// effective_from, which is what the effective dates are for); enjoined and
// pending ones are kept as data, so a change in status (an injunction
// lifted, a bill passed) is a one-word edit.
type legalStatus string

const (
	// statusInForce: the law applies (within the entry's dates).
	statusInForce legalStatus = "in_force"
	// statusEnacted: passed, but its effective date is still to come (or
	// it is not yet enforceable). It applies from its effective_from like
	// in_force — a law must not be missed because nobody edited the status
	// on the day — and lint warns once that day has come, so the status is
	// updated (and the entry re-reviewed).
	statusEnacted legalStatus = "enacted"
	// statusEnjoined: enacted, but a court has blocked it. Never applied.
	statusEnjoined legalStatus = "enjoined"
	// statusPending: a bill. Recorded (the watch list), never applied.
	statusPending legalStatus = "pending"
	// statusProposed is the deprecated spelling of statusPending: it is
	// read as pending (and lint says so), so older files still load.
	statusProposed legalStatus = "proposed"
)

func (s legalStatus) valid() bool {
	switch s {
	case statusInForce, statusEnacted, statusEnjoined, statusPending:
		return true
	}
	return false
}

// applies reports whether entries with this status take effect (on the
// days their dates cover).
func (s legalStatus) applies() bool { return s == statusInForce || s == statusEnacted }

// defaultPackCode names the fallback pack in results and reason ids.
const defaultPackCode = "default"

// span is an effective-dating interval [from, until); a zero bound is open.
type span struct {
	from, until Date
}

func (s span) covers(d Date) bool {
	return (s.from.IsZero() || !d.Before(s.from)) && (s.until.IsZero() || d.Before(s.until))
}

func (s span) overlaps(o span) bool {
	// [a,b) and [c,d) overlap iff a < d and c < b, with open ends infinite.
	aBeforeD := s.from.IsZero() || o.until.IsZero() || s.from.Before(o.until)
	cBeforeB := o.from.IsZero() || s.until.IsZero() || o.from.Before(s.until)
	return aBeforeD && cBeforeB
}

// model is a parsed, merged and validated policy. Nothing in it changes
// after loading.
type model struct {
	id          string
	description string
	params      map[string]float64
	window      time.Duration
	thresholds  []int // ascending, unique
	defaultPack *pack
	packs       []*pack // sorted by code
	rules       []*rule // policy order: files by path, then file order
	obligations []*obligation
	fusion      fusionConfig
	notes       []note // deprecated spellings the loader accepted; lint reports them
}

// note is something the loader accepted but lint should mention.
type note struct {
	pos Pos
	msg string
}

// pack holds the facts of one jurisdiction (or the default).
type pack struct {
	code     string // canonical ISO code, or defaultPackCode
	name     string
	groups   []string // sorted
	timezone string
	loc      *time.Location
	periods  []*period // sorted by effective_from
	pos      Pos

	// Precomputed for evaluation.
	codeVal    ref.Val  // CEL string of code, to avoid converting per request
	reasonIDs  []string // "<lower-case code>.<rule id>", indexed like Policy.rules
	thresholds [][]int  // per period: policy thresholds ∪ {minimum, consent}, ascending
}

// period is one effective-dated set of facts for a pack.
type period struct {
	span
	minimumAge int
	consentAge int
	status     legalStatus
	reviewed   Date // when the research was last checked against the law; zero if not said
	citation   string
	confidence string
	pos        Pos
}

// scope restricts a rule or obligation to some packs; empty means all.
type scope struct {
	jurisdictions []string // canonical codes, sorted
	groups        []string // sorted
	groupPos      []Pos    // where each group was named, until sorted at load
}

// rule is one CEL rule with its compiled program.
type rule struct {
	id       string
	decision Decision
	when     string
	message  string
	msg      template
	citation string
	status   legalStatus
	reviewed Date
	span
	scope scope
	prog  cel.Program

	// A citation containing "{citation}" is citePrefix + the period's
	// citation + citeSuffix.
	citeExpands            bool
	citePrefix, citeSuffix string

	pos     Pos
	whenPos Pos
}

// obligation is a duty attached to the age bands it lists.
type obligation struct {
	id       string
	text     string
	citation string
	bands    []Band
	status   legalStatus
	reviewed Date
	span
	scope scope
	pos   Pos
}
