package logentry

import "testing"

// BenchmarkValidate: the schema check the decision log runs on every entry
// before appending it.
func BenchmarkValidate(b *testing.B) {
	e := sample()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshal: the canonical encoding of every logged entry.
func BenchmarkMarshal(b *testing.B) {
	e := sample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse: strict decoding of a canonical entry (audit and replay
// tools read the log with it).
func BenchmarkParse(b *testing.B) {
	in := []byte(goldenSample)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
