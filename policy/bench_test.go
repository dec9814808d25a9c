package policy

import (
	"testing"
	"time"
)

func BenchmarkEvaluate(b *testing.B) {
	p := builtin(b)
	in := Input{
		Jurisdiction: "DE",
		Stage:        "signup",
		Age:          14,
		Signals:      map[string]float64{SignalUnderageLikelihood: 0.3, SignalUserReports: 1},
		Now:          time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
	}
	if r := p.Evaluate(in); r.Decision != ParentalConsentRequired {
		b.Fatalf("Decision = %s", r.Decision)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(in)
	}
}

func BenchmarkEvaluateParallel(b *testing.B) {
	p := builtin(b)
	in := Input{Jurisdiction: "US-UT", Stage: "signup", Age: 15, Now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Evaluate(in)
		}
	})
}

func BenchmarkBuiltin(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Builtin(); err != nil {
			b.Fatal(err)
		}
	}
}
