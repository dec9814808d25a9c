package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ageassure/ageassure/policy"
)

// testNow is the instant generators in tests compute birth dates from.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newTestGenerator(t testing.TB, mix Mix, seed uint64) *Generator {
	t.Helper()
	g, err := NewGenerator(mix, seed, testNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func draw(t testing.TB, g *Generator, n int) []Request {
	t.Helper()
	out := make([]Request, n)
	for i := range out {
		r, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}

func TestMixDeterministic(t *testing.T) {
	tests := []struct {
		name         string
		seedA, seedB uint64
		same         bool
	}{
		{"same seed, same bytes", 1, 1, true},
		{"same large seed, same bytes", 1 << 40, 1 << 40, true},
		{"other seed, other traffic", 1, 2, false},
		{"adjacent large seeds, other traffic", 1 << 40, 1<<40 + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := draw(t, newTestGenerator(t, DefaultMix(), tt.seedA), 1000)
			b := draw(t, newTestGenerator(t, DefaultMix(), tt.seedB), 1000)
			sameBytes, samePerson := 0, 0
			for i := range a {
				if bytes.Equal(a[i].Body, b[i].Body) {
					sameBytes++
				}
				if a[i].Person == b[i].Person {
					samePerson++
				}
			}
			if tt.same && sameBytes != len(a) {
				t.Errorf("%d of %d bodies identical, want all", sameBytes, len(a))
			}
			// Different seeds differ in refs and nonces everywhere, and in
			// who is declaring almost everywhere.
			if !tt.same && (sameBytes != 0 || samePerson > len(a)/10) {
				t.Errorf("%d bodies and %d people of %d identical, want none and few", sameBytes, samePerson, len(a))
			}
		})
	}
}

// TestMixBodiesWellFormed decodes every body strictly into the request's
// shape and checks it against what was drawn.
func TestMixBodiesWellFormed(t *testing.T) {
	type body struct {
		Jurisdiction string `json:"jurisdiction"`
		Declared     struct {
			BirthDate *string `json:"birth_date"`
			Age       *int    `json:"age"`
		} `json:"declared"`
		Signals []struct {
			Type  string   `json:"type"`
			Score *float64 `json:"score"`
			Count *int     `json:"count"`
		} `json:"signals"`
		Context struct {
			DeviceRef  string `json:"device_ref"`
			SubjectRef string `json:"subject_ref"`
			Nonce      string `json:"nonce"`
		} `json:"context"`
	}
	nonces := map[string]bool{}
	for _, r := range draw(t, newTestGenerator(t, DefaultMix(), 3), 5000) {
		var b body
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			t.Fatalf("request %d %s: %v", r.Index, r.Body, err)
		}
		if (b.Declared.BirthDate == nil) == (b.Declared.Age == nil) {
			t.Fatalf("request %d %s: want exactly one of birth_date and age", r.Index, r.Body)
		}
		if b.Declared.Age != nil && *b.Declared.Age != r.Person.Age {
			t.Errorf("request %d: declared age %d, drawn %d", r.Index, *b.Declared.Age, r.Person.Age)
		}
		for _, s := range b.Signals {
			if s.Score != nil && (*s.Score < 0 || *s.Score > 1) || s.Count != nil && (*s.Count < 0 || *s.Count > 1000) {
				t.Errorf("request %d: signal out of range: %s", r.Index, r.Body)
			}
		}
		if nonces[b.Context.Nonce] || b.Context.Nonce == "" {
			t.Fatalf("request %d: nonce %q repeated or empty", r.Index, b.Context.Nonce)
		}
		nonces[b.Context.Nonce] = true
		if (r.Subject == SubjectNone) != (b.Context.SubjectRef == "") || b.Context.DeviceRef == "" {
			t.Errorf("request %d: refs %+v do not match subject mode %d", r.Index, b.Context, r.Subject)
		}
	}
}

// TestBirthDateAgeInEveryZone checks that a generated birth date gives the
// intended age on the UTC date and a day either side (every time zone),
// around leap days and year ends.
func TestBirthDateAgeInEveryZone(t *testing.T) {
	days := []string{"2026-11-26", "2028-02-29", "2028-03-01", "2027-03-01", "2027-02-28", "2026-12-31", "2027-01-01", "2029-03-02"}
	for _, day := range days {
		t.Run(day, func(t *testing.T) {
			today, err := time.Parse(time.DateOnly, day)
			if err != nil {
				t.Fatal(err)
			}
			for _, age := range []int{0, 1, 8, 12, 13, 15, 16, 17, 18, 70, 130} {
				for daysAgo := 2; daysAgo <= 360; daysAgo++ {
					s := birthDate(today, age, daysAgo)
					birth, err := policy.ParseDate(s)
					if err != nil {
						t.Fatalf("age %d, %d days: %q: %v", age, daysAgo, s, err)
					}
					for _, shift := range []int{-1, 0, 1} {
						on := policy.DateOf(today.AddDate(0, 0, shift))
						if got := policy.AgeOn(birth, on); got != age {
							t.Fatalf("born %s, on %s: age %d, want %d", s, on, got, age)
						}
					}
				}
			}
		})
	}
}

// TestMixShares draws 10,000 requests and compares each share with the
// configured one, within five standard deviations (and an absolute floor
// for the structural shifts, e.g. a hop needing an earlier under-13).
func TestMixShares(t *testing.T) {
	const n = 10_000
	mix := DefaultMix()
	reqs := draw(t, newTestGenerator(t, mix, 42), n)

	count := func(pred func(Request) bool, among func(Request) bool) (hits, total int) {
		for _, r := range reqs {
			if among == nil || among(r) {
				total++
				if pred(r) {
					hits++
				}
			}
		}
		return hits, total
	}
	fresh := func(r Request) bool { return r.Device == DeviceFresh && r.Subject != SubjectRepeat }
	reuse := func(r Request) bool { return r.Device != DeviceFresh }
	withSubject := func(r Request) bool { return r.Subject != SubjectNone }
	totalWeight := 0.0
	for _, w := range mix.Jurisdictions {
		totalWeight += w
	}
	tests := []struct {
		name  string
		want  float64
		pred  func(Request) bool
		among func(Request) bool
	}{
		{"jurisdiction IN", mix.Jurisdictions["IN"] / totalWeight, func(r Request) bool { return r.Person.Jurisdiction == "IN" }, nil},
		{"jurisdiction US", mix.Jurisdictions["US"] / totalWeight, func(r Request) bool { return r.Person.Jurisdiction == "US" }, nil},
		{"jurisdiction DE", mix.Jurisdictions["DE"] / totalWeight, func(r Request) bool { return r.Person.Jurisdiction == "DE" }, nil},
		{"under 13 (new people)", mix.Ages.Under13, func(r Request) bool { return r.TrueAge < 13 }, fresh},
		{"13-15 (new people)", mix.Ages.From13To15, func(r Request) bool { return r.TrueAge >= 13 && r.TrueAge <= 15 }, fresh},
		{"16-17 (new people)", mix.Ages.From16To17, func(r Request) bool { return r.TrueAge >= 16 && r.TrueAge <= 17 }, fresh},
		{"birth dates", mix.Ages.BirthDate, func(r Request) bool { return r.Person.BirthDate != "" }, nil},
		{"underage_likelihood", mix.Signals.UnderageLikelihood, func(r Request) bool { return r.UnderageLikelihood }, nil},
		{"user_reports", mix.Signals.UserReports, func(r Request) bool { return r.UserReports }, nil},
		{"device reuse", mix.Devices.Reuse, reuse, nil},
		{"hopping among reuses", mix.Devices.Hopping, func(r Request) bool { return r.Device == DeviceHop }, reuse},
		{"subject_ref", mix.Subjects.Share, withSubject, nil},
		{"repeated subjects", mix.Subjects.Repeat, func(r Request) bool { return r.Subject == SubjectRepeat }, withSubject},
		{"evidence", 0, func(r Request) bool { return r.Evidence }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits, total := count(tt.pred, tt.among)
			got := float64(hits) / float64(total)
			tol := max(5*math.Sqrt(tt.want*(1-tt.want)/float64(total)), 0.01)
			if math.Abs(got-tt.want) > tol {
				t.Errorf("share %.4f (%d of %d), want %.4f ± %.4f", got, hits, total, tt.want, tol)
			}
		})
	}

	// Hops really follow an under-13 declaration from the same device,
	// at least hopGap requests earlier, and declare 13 or more.
	firstAge := map[string]int{}
	firstAt := map[string]uint64{}
	for _, r := range reqs {
		dev := deviceRef(t, r.Body)
		if _, seen := firstAge[dev]; !seen {
			firstAge[dev], firstAt[dev] = r.Person.Age, r.Index
		}
		if r.Device == DeviceHop && (firstAge[dev] >= 13 || r.Person.Age < 13 || r.Index-firstAt[dev] < hopGap) {
			t.Errorf("request %d: hop on %s: first declared %d at %d, now %d", r.Index, dev, firstAge[dev], firstAt[dev], r.Person.Age)
		}
	}
}

func deviceRef(t *testing.T, body []byte) string {
	t.Helper()
	var b struct {
		Context struct {
			DeviceRef string `json:"device_ref"`
		} `json:"context"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	return b.Context.DeviceRef
}

// TestSignalsSkewedByAge checks that children get higher scores.
func TestSignalsSkewedByAge(t *testing.T) {
	g := newTestGenerator(t, DefaultMix(), 9)
	mean := func(age int) float64 {
		sum := 0.0
		for range 2000 {
			sum += likelihood(g.rng, age)
		}
		return sum / 2000
	}
	child, teen, adult := mean(10), mean(14), mean(30)
	if !(child > teen && teen > adult) {
		t.Errorf("mean scores child %.2f, teen %.2f, adult %.2f: want decreasing", child, teen, adult)
	}
}

func TestLoadMix(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, m Mix)
	}{
		{name: "empty keeps defaults", yaml: "", check: func(t *testing.T, m Mix) {
			if m.Ages.Under13 != 0.08 || len(m.Jurisdictions) != len(DefaultMix().Jurisdictions) {
				t.Errorf("got %+v", m)
			}
		}},
		{name: "overrides one key, keeps the rest", yaml: "ages:\n  under_13: 0.2\n", check: func(t *testing.T, m Mix) {
			if m.Ages.Under13 != 0.2 || m.Ages.From13To15 != 0.14 || m.Devices.Reuse != 0.2 {
				t.Errorf("got %+v", m.Ages)
			}
		}},
		{name: "jurisdictions replace the table", yaml: "jurisdictions: {de: 1, US-UT: 3}\n", check: func(t *testing.T, m Mix) {
			if len(m.Jurisdictions) != 2 || m.Jurisdictions["DE"] != 1 || m.Jurisdictions["US-UT"] != 3 {
				t.Errorf("got %v", m.Jurisdictions)
			}
		}},
		{name: "unknown key", yaml: "agez: {}\n", wantErr: "field agez not found"},
		{name: "share out of range", yaml: "devices: {reuse: 1.5}\n", wantErr: "devices.reuse"},
		{name: "bands exceed 1", yaml: "ages: {under_13: 0.5, 13_15: 0.4, 16_17: 0.2}\n", wantErr: "exceeds 1"},
		{name: "bad code", yaml: "jurisdictions: {Germany: 1}\n", wantErr: "not a code"},
		{name: "non-positive weight", yaml: "jurisdictions: {DE: 0}\n", wantErr: "must be positive"},
		{name: "infinite weight", yaml: "jurisdictions: {DE: .inf}\n", wantErr: "must be positive and finite"},
		{name: "weights overflow", yaml: "jurisdictions: {DE: 1e308, FR: 1e308}\n", wantErr: "add up to more than"},
		{name: "adult range", yaml: "ages: {adult_min: 17}\n", wantErr: "adult_min"},
		{name: "not YAML", yaml: "ages: [\n", wantErr: "mix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mix.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := LoadMix(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, m)
		})
	}
}

func TestEvidenceNeedsGenerator(t *testing.T) {
	mix := DefaultMix()
	mix.EvidenceShare = 0.1
	if _, err := NewGenerator(mix, 1, testNow, nil); err == nil || !strings.Contains(err.Error(), "evidence") {
		t.Fatalf("err = %v, want a refusal naming evidence", err)
	}
	g, err := NewGenerator(mix, 1, testNow, fakeEvidence{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range draw(t, g, 2000) {
		if r.Evidence {
			n++
			if !bytes.Contains(r.Body, []byte(`,"evidence":{"fake":true}}`)) {
				t.Fatalf("body %s lacks the evidence member", r.Body)
			}
		}
	}
	if n < 100 || n > 300 {
		t.Errorf("%d of 2000 with evidence, want about 200", n)
	}
}

type fakeEvidence struct{}

func (fakeEvidence) Evidence(*rand.Rand, Person, int) ([]byte, error) {
	return []byte(`{"fake":true}`), nil
}

// TestMixHelpIsDefault checks that the format documented in --help is the
// default mix, key for key.
func TestMixHelpIsDefault(t *testing.T) {
	var lines []string
	for _, l := range strings.Split(mixHelp, "\n") {
		if strings.HasPrefix(l, "  ") {
			lines = append(lines, l[2:])
		}
	}
	path := filepath.Join(t.TempDir(), "mix.yaml")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// Start from an empty mix, so every documented key must be there.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got Mix
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("the documented mix does not parse: %v", err)
	}
	if want := DefaultMix(); !reflect.DeepEqual(got, want) {
		t.Errorf("documented mix\n%+v\ndiffers from DefaultMix\n%+v", got, want)
	}
}

func TestRingKeepsLatest(t *testing.T) {
	tests := []struct {
		max, pushes int
		want        []uint64 // ids kept, any order
	}{
		{3, 2, []uint64{0, 1}},
		{3, 3, []uint64{0, 1, 2}},
		{3, 5, []uint64{2, 3, 4}},
		{3, 9, []uint64{6, 7, 8}},
		{1, 4, []uint64{3}},
	}
	for _, tt := range tests {
		r := ring{max: tt.max}
		for i := range tt.pushes {
			r.push(seen{id: uint64(i)})
		}
		got := map[uint64]bool{}
		for _, s := range r.items {
			got[s.id] = true
		}
		for _, id := range tt.want {
			if !got[id] || len(got) != len(tt.want) {
				t.Errorf("max %d after %d pushes: kept %v, want %v", tt.max, tt.pushes, got, tt.want)
				break
			}
		}
	}
}
