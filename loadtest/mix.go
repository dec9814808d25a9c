package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Mix is the traffic model: what share of generated age checks has which
// jurisdiction, age, declaration, signals, device and subject. Shares are
// probabilities in [0, 1]. The defaults come from DefaultMix; a YAML file
// (--mix) overrides the keys it names.
type Mix struct {
	// Jurisdictions maps a code (as sent in "jurisdiction") to a relative
	// weight. A file that names jurisdictions replaces the whole table.
	Jurisdictions Weights `yaml:"jurisdictions"`
	// Ages is the age distribution of the people signing up.
	Ages AgeMix `yaml:"ages"`
	// Signals is how often the platform sends risk signals.
	Signals SignalMix `yaml:"signals"`
	// Devices is how often a device is seen again.
	Devices DeviceMix `yaml:"devices"`
	// Subjects is how often an account reference is sent and repeated.
	Subjects SubjectMix `yaml:"subjects"`
	// EvidenceShare is the share of requests that carry "evidence". It
	// needs an EvidenceGenerator; none is built in yet, so it must be 0.
	EvidenceShare float64 `yaml:"evidence_share"`
}

// AgeMix is the distribution of true ages of newly drawn people: the
// named bands, and adults (uniform in AdultMin..AdultMax) for the rest.
type AgeMix struct {
	Under13    float64 `yaml:"under_13"`   // uniform in ChildMin..12
	From13To15 float64 `yaml:"13_15"`      // uniform in 13..15
	From16To17 float64 `yaml:"16_17"`      // uniform in 16..17
	ChildMin   int     `yaml:"child_min"`  // youngest age drawn
	AdultMin   int     `yaml:"adult_min"`  // at least 18
	AdultMax   int     `yaml:"adult_max"`  // at most 130
	BirthDate  float64 `yaml:"birth_date"` // share declaring a birth date (the rest an age)
}

// SignalMix is the share of requests carrying each risk signal (drawn
// independently). Values are skewed by true age: children score higher and
// are reported more.
type SignalMix struct {
	UnderageLikelihood float64 `yaml:"underage_likelihood"`
	UserReports        float64 `yaml:"user_reports"`
}

// DeviceMix says how often a request comes from a device already seen.
type DeviceMix struct {
	// Reuse is the share of requests from a recent device; the rest come
	// from a fresh one.
	Reuse float64 `yaml:"reuse"`
	// Hopping is the share of those reuses that are age-hopping attempts:
	// a device that declared an age under 13 declares 13..25 instead.
	Hopping float64 `yaml:"hopping"`
	// Recent is how many of the latest fresh devices a reuse picks from.
	Recent int `yaml:"recent"`
}

// SubjectMix says how often a request carries a subject (account)
// reference, and how often that reference was sent before.
type SubjectMix struct {
	Share  float64 `yaml:"share"`  // of all requests
	Repeat float64 `yaml:"repeat"` // of those with a subject
	Recent int     `yaml:"recent"` // how many recent subjects a repeat picks from
}

// Weights maps a key to a relative weight. Decoding YAML into it replaces
// any previous content instead of merging.
type Weights map[string]float64

// UnmarshalYAML replaces w with the mapping in n.
func (w *Weights) UnmarshalYAML(n *yaml.Node) error {
	m := map[string]float64{}
	if err := n.Decode(&m); err != nil {
		return err
	}
	*w = m
	return nil
}

// sorted returns the keys in a fixed (sorted) order, so draws do not
// depend on map iteration.
func (w Weights) sorted() []string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// DefaultMix returns the built-in traffic model. Jurisdiction weights are
// internet users in millions (rounded, mid-2020s); US-UT is split off US.
func DefaultMix() Mix {
	return Mix{
		Jurisdictions: Weights{
			"IN": 750, "US": 308, "BR": 187, "ID": 185, "NG": 103, "JP": 102,
			"MX": 100, "DE": 78, "GB": 66, "FR": 60, "IT": 51, "ES": 45,
			"PL": 33, "AU": 25, "NL": 17, "AT": 8, "DK": 6, "IE": 5, "US-UT": 3,
		},
		Ages: AgeMix{
			Under13: 0.08, From13To15: 0.14, From16To17: 0.08,
			ChildMin: 8, AdultMin: 18, AdultMax: 70,
			BirthDate: 0.70,
		},
		Signals:  SignalMix{UnderageLikelihood: 0.20, UserReports: 0.10},
		Devices:  DeviceMix{Reuse: 0.20, Hopping: 0.25, Recent: 1000},
		Subjects: SubjectMix{Share: 0.40, Repeat: 0.50, Recent: 10000},
	}
}

// LoadMix returns DefaultMix overridden by the YAML file at path. Unknown
// keys are errors.
func LoadMix(path string) (Mix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return DefaultMix(), fmt.Errorf("mix: %w", err)
	}
	m, err := parseMix(b)
	if err != nil {
		return m, fmt.Errorf("mix %s: %w", path, err)
	}
	return m, nil
}

// parseMix returns DefaultMix overridden by the YAML document b, validated.
func parseMix(b []byte) (Mix, error) {
	m := DefaultMix()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// An empty file (io.EOF) keeps every default.
	if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		return m, err
	}
	if err := m.Validate(); err != nil {
		return m, err
	}
	return m, nil
}

// jurisdictionRE is the shape of a jurisdiction code the service accepts.
var jurisdictionRE = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`)

// Validate checks that every share is a probability, the age bands leave
// room for adults, and jurisdictions are well formed with positive weights.
// It upper-cases jurisdiction codes.
func (m *Mix) Validate() error {
	var errs []error
	share := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			errs = append(errs, fmt.Errorf("%s: %v is not a share in [0, 1]", name, v))
		}
	}
	if len(m.Jurisdictions) == 0 {
		errs = append(errs, errors.New("jurisdictions: at least one is required"))
	}
	upper := make(Weights, len(m.Jurisdictions))
	for code, w := range m.Jurisdictions {
		c := strings.ToUpper(code)
		if !jurisdictionRE.MatchString(c) {
			errs = append(errs, fmt.Errorf("jurisdictions: %q is not a code like GB or US-UT", code))
		}
		if !(w > 0) || math.IsInf(w, 1) {
			errs = append(errs, fmt.Errorf("jurisdictions: %s: weight %v must be positive and finite", code, w))
		}
		upper[c] += w
	}
	// Draws pick from the cumulative weights: an infinite total would
	// make every code but the last unreachable.
	total := 0.0
	for _, w := range upper {
		total += w
	}
	if math.IsInf(total, 1) {
		errs = append(errs, fmt.Errorf("jurisdictions: the weights add up to more than %g", math.MaxFloat64))
	}
	m.Jurisdictions = upper
	a := m.Ages
	share("ages.under_13", a.Under13)
	share("ages.13_15", a.From13To15)
	share("ages.16_17", a.From16To17)
	share("ages.birth_date", a.BirthDate)
	if sum := a.Under13 + a.From13To15 + a.From16To17; sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("ages: under_13 + 13_15 + 16_17 = %v exceeds 1", sum))
	}
	if a.ChildMin < 1 || a.ChildMin > 12 {
		errs = append(errs, fmt.Errorf("ages.child_min: %d is not in 1..12", a.ChildMin))
	}
	if a.AdultMin < 18 || a.AdultMax > 130 || a.AdultMin > a.AdultMax {
		errs = append(errs, fmt.Errorf("ages: adult_min..adult_max %d..%d is not within 18..130", a.AdultMin, a.AdultMax))
	}
	share("signals.underage_likelihood", m.Signals.UnderageLikelihood)
	share("signals.user_reports", m.Signals.UserReports)
	share("devices.reuse", m.Devices.Reuse)
	share("devices.hopping", m.Devices.Hopping)
	if m.Devices.Recent < 1 || m.Devices.Recent > 1_000_000 {
		errs = append(errs, fmt.Errorf("devices.recent: %d is not in 1..1000000", m.Devices.Recent))
	}
	share("subjects.share", m.Subjects.Share)
	share("subjects.repeat", m.Subjects.Repeat)
	if m.Subjects.Recent < 1 || m.Subjects.Recent > 1_000_000 {
		errs = append(errs, fmt.Errorf("subjects.recent: %d is not in 1..1000000", m.Subjects.Recent))
	}
	share("evidence_share", m.EvidenceShare)
	return errors.Join(errs...)
}
