package decisionlog

import (
	"testing"
	"time"
)

// TestOptionsDefaults: durable and async logs get their own batch defaults
// (async batches are paced longer and may be larger: nobody waits for
// them), explicit settings win, and the pending bound always holds several
// batches.
func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name        string
		in          Options
		wantAge     time.Duration
		wantSize    int
		wantPending int
	}{
		{"durable", Options{}, DefaultBatchMaxAge, DefaultBatchMaxSize, DefaultMaxPending},
		{"async", Options{Async: true}, DefaultAsyncBatchMaxAge, DefaultAsyncBatchMaxSize, DefaultMaxPending},
		{"explicit", Options{Async: true, BatchMaxAge: 7 * time.Millisecond, BatchMaxSize: 10, MaxPending: 30}, 7 * time.Millisecond, 10, 30},
		{"large batches raise the bound", Options{BatchMaxSize: 10000}, DefaultBatchMaxAge, 10000, 40000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Dir = t.TempDir()
			got, err := in.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			if got.BatchMaxAge != tt.wantAge || got.BatchMaxSize != tt.wantSize || got.MaxPending != tt.wantPending {
				t.Errorf("age %s, size %d, pending %d; want %s, %d, %d",
					got.BatchMaxAge, got.BatchMaxSize, got.MaxPending, tt.wantAge, tt.wantSize, tt.wantPending)
			}
		})
	}
}
