package main

import (
	"testing"
	"time"
)

// TestLogBatchFlags: --log-batch-age and --log-batch-size default to 0,
// which the decision log reads as its mode's default, and refuse what is
// not a positive duration rather than silently pacing nothing.
func TestLogBatchFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAge  time.Duration
		wantSize int
		wantErr  bool
	}{
		{"mode defaults", nil, nil, 0, 0, false},
		{"explicit", []string{"--log-batch-age", "50ms", "--log-batch-size", "512"}, nil, 50 * time.Millisecond, 512, false},
		{"from env", nil, map[string]string{"AGEASSURE_LOG_BATCH_AGE": "1s"}, time.Second, 0, false},
		{"zero age", []string{"--log-batch-age", "0s"}, nil, 0, 0, true},
		{"negative age", []string{"--log-batch-age", "-5ms"}, nil, 0, 0, true},
		{"not a duration", nil, map[string]string{"AGEASSURE_LOG_BATCH_AGE": "soon"}, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseServeFlags(tt.args, tt.env)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := time.Duration(cfg.Log.BatchMaxAge); got != tt.wantAge {
				t.Errorf("batch age = %s, want %s", got, tt.wantAge)
			}
			if cfg.Log.BatchMaxSize != tt.wantSize {
				t.Errorf("batch size = %d, want %d", cfg.Log.BatchMaxSize, tt.wantSize)
			}
		})
	}
}
