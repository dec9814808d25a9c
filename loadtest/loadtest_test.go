package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/ageassure/ageassure/adapters/localcache"
	"github.com/ageassure/ageassure/adapters/signer"
	"github.com/ageassure/ageassure/policy"
	"github.com/ageassure/ageassure/service"
)

// startServices runs n instances of the real service in process on
// loopback ports, built as service/helpers_test.go builds one, sharing one
// development tenant; it returns their URLs and the API key.
func startServices(t testing.TB, n int) (urls []string, key string) {
	t.Helper()
	key, tenants, err := service.DevTenant("loadtest")
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		p, err := policy.Builtin()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := signer.Ephemeral()
		if err != nil {
			t.Fatal(err)
		}
		svc, err := service.New(service.Options{
			Policy:  p,
			Signer:  sig,
			Devices: localcache.NewDeviceMemory(localcache.Options{MaxEntries: 100_000}),
			Cache:   localcache.NewKV(localcache.Options{MaxEntries: 100_000}),
			Tenants: tenants,
			Logger:  slog.New(slog.DiscardHandler),
			// These tests check the load tester's report, not admission
			// control: on a busy machine (the race detector, other jobs)
			// checks may queue for seconds, and must then be answered
			// late, not refused with 503 overloaded.
			QueueTimeout: 30 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(svc.Handler())
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls, key
}

// runLoadtest runs the command with args and the key in the environment.
func runLoadtest(t *testing.T, key string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env := map[string]string{envName("key"): key}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, lookup)
	return code, out.String(), errOut.String()
}

// TestAgainstService sends the mix through the Targeter and vegeta to the
// real service: every request must be answered 200, with every decision
// present in the mix.
func TestAgainstService(t *testing.T) {
	urls, key := startServices(t, 1)
	// 3s at 500/s: the request cap, not the clock, ends the run, and the
	// timeout is generous, so a slow machine sends the same 1500 requests
	// and gets the same answers, only later.
	code, out, errOut := runLoadtest(t, key, "--target", urls[0], "--rate", "500", "--duration", "1m", "--max-requests", "1500", "--timeout", "30s", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("\n%s", out)
	if !regexp.MustCompile(`(?m)^http://127\.0\.0\.1:\d+\s+1500\s+100\.00%`).MatchString(out) {
		t.Fatalf("no row of 1500 requests at 100%% success in:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^status codes: 200 \d+$`).MatchString(out) {
		t.Errorf("status codes other than 200:\n%s", out)
	}
	for _, d := range knownDecisions {
		if !regexp.MustCompile(`\b` + d + ` (\d*[1-9]\d*\.\d|0\.[1-9])%`).MatchString(out) {
			t.Errorf("decision %s absent from the mix:\n%s", d, out)
		}
	}
	if !strings.Contains(out, "allocs/req") {
		t.Errorf("no server costs from /metrics:\n%s", out)
	}
}

func TestCompare(t *testing.T) {
	urls, key := startServices(t, 2)
	tests := []struct {
		name string
		args []string
		want []string // regexps the report must match
	}{
		{
			name: "fixed rate",
			args: []string{"--rate", "300", "--duration", "600ms", "--compare-slice", "200ms"},
			want: []string{`(?m)^A http://\S+\s+\d+\s+100\.00%`, `(?m)^B http://\S+\s+\d+\s+100\.00%`,
				`(?m)^ratio B/A\s+(\d+\.\d\dx\s+){5}\d+\.\d\dx$`, `(?m)^decisions A: allow`, `(?m)^decisions B: allow`,
				`(?m)^status codes A: 200 \d+$`, `(?m)^status codes B: 200 \d+$`, `(?m)^server ratio B/A: allocs/req \d`},
		},
		{
			// With a request cap far below what the time allows, both sides
			// send exactly that many (the same requests), then stop early.
			name: "maximum rate, capped",
			args: []string{"--rate", "0", "--workers", "4", "--duration", "2s", "--compare-slice", "500ms", "--max-requests", "20"},
			want: []string{`(?m)^A http://\S+\s+20\s+100\.00%`, `(?m)^B http://\S+\s+20\s+100\.00%`, `(?m)^ratio B/A\s+\d`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--target", urls[0], "--compare", urls[1], "--timeout", "30s", "--quiet"}, tt.args...)
			code, out, errOut := runLoadtest(t, key, args...)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, re := range tt.want {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("report lacks %s:\n%s", re, out)
				}
			}
		})
	}
}

func TestMinSuccess(t *testing.T) {
	urls, _ := startServices(t, 1)
	// A wrong key: every answer is 401.
	code, out, errOut := runLoadtest(t, "aa_wrong", "--target", urls[0], "--rate", "100", "--duration", "200ms", "--quiet")
	if code != exitFailed || !strings.Contains(errOut, "below --min-success") || !strings.Contains(out, "status codes: 401") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	code, _, errOut = runLoadtest(t, "aa_wrong", "--target", urls[0], "--rate", "100", "--duration", "200ms", "--quiet", "--min-success", "0")
	if code != exitOK {
		t.Errorf("--min-success 0: exit %d, stderr %s", code, errOut)
	}
}

func TestOut(t *testing.T) {
	urls, key := startServices(t, 1)
	dir := filepath.Join(t.TempDir(), "out")
	code, out, errOut := runLoadtest(t, key, "--target", urls[0], "--rate", "400", "--duration", "500ms", "--timeout", "30s", "--quiet", "--out", dir)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	f, err := os.Open(filepath.Join(dir, resultsBin))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	var n int
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", resultsBin, err)
		}
		if r.Code != 200 || r.Body != nil {
			t.Errorf("result %d: code %d, body %q (bodies are dropped)", r.Seq, r.Code, r.Body)
		}
		n++
	}

	c, err := os.Open(filepath.Join(dir, resultsCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := csv.NewReader(c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n+1 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("%d csv rows (header %v) for %d results", len(rows), rows[0], n)
	}
	for _, r := range rows[1:] {
		if r[4] != "200" || !isKnownDecision(r[5]) {
			t.Fatalf("csv row %v: want status 200 and a decision", r)
		}
	}

	html, err := os.ReadFile(filepath.Join(dir, latencyHTML))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("<html")) {
		t.Errorf("%s is not HTML", latencyHTML)
	}
	// Self-contained: no script or stylesheet loaded from anywhere.
	external := regexp.MustCompile(`(?i)<(script|img|iframe)[^>]*\ssrc\s*=|<link[^>]*\shref\s*=|@import|url\(\s*['"]?https?:`)
	if m := external.Find(html); m != nil {
		t.Errorf("%s references an external asset: %s", latencyHTML, m)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		noKey   bool
		wantErr string
	}{
		{"no target", []string{}, false, "--target is required"},
		{"no key", []string{"--target", "http://127.0.0.1:1"}, true, "--key"},
		{"private address", []string{"--target", "http://10.0.0.1"}, false, "--allow-remote"},
		{"remote name", []string{"--target", "http://example.com"}, false, "--allow-remote"},
		{"remote compare", []string{"--target", "http://127.0.0.1:1", "--compare", "http://example.com"}, false, "--allow-remote"},
		{"zero duration", []string{"--target", "http://127.0.0.1:1", "--duration", "0s"}, false, "--duration"},
		{"too long", []string{"--target", "http://127.0.0.1:1", "--duration", "11m"}, false, "--duration"},
		{"negative rate", []string{"--target", "http://127.0.0.1:1", "--rate", "-1"}, false, "--rate"},
		{"max workers with rate 0", []string{"--target", "http://127.0.0.1:1", "--rate", "0", "--max-workers", "50"}, false, "--max-workers"},
		{"bad mix", []string{"--target", "http://127.0.0.1:1", "--mix", "/nonexistent.yaml"}, false, "mix"},
		{"stray argument", []string{"--target", "http://127.0.0.1:1", "extra"}, false, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "k"
			if tt.noKey {
				key = ""
			}
			env := map[string]string{}
			if key != "" {
				env[envName("key")] = key
			}
			lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut, lookup)
			if code != exitUsage || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut.String(), exitUsage, tt.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errOut, func(string) (string, bool) { return "", false }); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"MUST ONLY TARGET HOSTS YOU RUN", "--allow-remote", "AGEASSURE_LOADTEST_KEY", "jurisdictions:", "evidence_share"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestGuardedClient checks the dial-time guard lets loopback through.
func TestGuardedClient(t *testing.T) {
	urls, _ := startServices(t, 1)
	c := newClient(time.Second, 4, false)
	defer c.CloseIdleConnections()
	if s := scrapeServer(context.Background(), c, urls[0]); !s.ok {
		t.Fatalf("the guarded client could not read %s/metrics", urls[0])
	}
}
