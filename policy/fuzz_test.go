package policy

import (
	"io/fs"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the loader as a policy file: it must
// return a policy or an error, never panic, and a policy it returns must
// evaluate without panicking. Seeds: the shipped packs (also in
// testdata/fuzz/FuzzLoad) and the broken test policies. Seed inputs are
// large, so run it with a short minimization budget, e.g.
//
//	go test -run x -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 2s ./policy/
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"packs"} {
		entries, err := fs.ReadDir(packs, dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			b, err := fs.ReadFile(packs, dir+"/"+e.Name())
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("id: x\ndefault: {timezone: UTC, periods: [{effective_from: 2000-01-01, citation: c}]}\nrules: [{id: r, decision: allow, when: 'age > 1', message: m, citation: c}]\n"))
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := compileSources([]source{{name: "fuzz.yaml", data: data}})
		if (p == nil) == (err == nil) {
			t.Fatalf("compileSources = %v, %v: want exactly one of a policy or an error", p, err)
		}
		if err != nil {
			_ = err.Error()
			return
		}
		_ = p.Hash()
		for _, code := range append(p.Jurisdictions(), "", "US-UT", "BR") {
			for _, age := range []int{-1, 0, 12, 13, 15, 16, 18, 200} {
				r := p.Evaluate(Input{Jurisdiction: code, Age: age, Now: now, Signals: map[string]float64{SignalUserReports: 1}})
				if !r.Decision.Valid() || len(r.Reasons) == 0 {
					t.Fatalf("Evaluate(%s, %d) = %+v", code, age, r)
				}
			}
		}
	})
}
