package policy

import (
	"io/fs"
	"reflect"
	"testing"
)

// FuzzLoadCases feeds arbitrary bytes to the case loader: it must return
// cases or an error, never panic; the cases it returns must be complete,
// and running them against the shipped policy must not panic and must be
// deterministic (each case fixes its own instant). Seeds: the shipped case
// files and testdata/fuzz/FuzzLoadCases.
//
//	go test -run x -fuzz FuzzLoadCases -fuzztime 60s -fuzzminimizetime 2s ./policy/
func FuzzLoadCases(f *testing.F) {
	entries, err := fs.ReadDir(packs, "packs")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if isCaseFile(e.Name()) {
			b, err := fs.ReadFile(packs, "packs/"+e.Name())
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	p, err := Builtin()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cases, err := parseCaseSources([]source{{name: "fuzz_test.yaml", data: data}})
		if err != nil {
			if cases != nil {
				t.Fatalf("cases and an error: %v", err)
			}
			_ = err.Error()
			return
		}
		for _, c := range cases {
			if c.Name == "" || !c.Expect.Decision.Valid() || (c.Input.Age == nil) == (c.Input.BirthDate == nil) || c.Line == 0 {
				t.Fatalf("incomplete case %+v", c)
			}
		}
		first, second := p.RunCases(cases), p.RunCases(cases)
		if !reflect.DeepEqual(first, second) {
			t.Fatal("RunCases is not deterministic")
		}
	})
}
