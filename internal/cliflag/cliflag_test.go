package cliflag

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    time.Duration
		wantErr bool
	}{
		{"default", nil, nil, time.Minute, false},
		{"env", nil, map[string]string{"X_WAIT_FOR": "2m"}, 2 * time.Minute, false},
		{"flag wins", []string{"--wait-for", "3m"}, map[string]string{"X_WAIT_FOR": "2m"}, 3 * time.Minute, false},
		{"bad env", nil, map[string]string{"X_WAIT_FOR": "soon"}, 0, true},
		{"positional", []string{"extra"}, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			d := fs.Duration("wait-for", time.Minute, "how long")
			err := Parse(fs, tt.args, "X_", func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err == nil && *d != tt.want {
				t.Errorf("got %s, want %s", *d, tt.want)
			}
		})
	}
}

func TestPrintUsage(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("log-dir", "./data", "the `folder`")
	var out bytes.Buffer
	PrintUsage(fs, &out, "Usage: x", "X_")
	for _, want := range []string{"Usage: x", "--log-dir folder", "default: ./data", "env: X_LOG_DIR"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}
