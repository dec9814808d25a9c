package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// TestMain lets the test binary act as the ageassure command, so end-to-end
// tests run the real process (signals, exit codes) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("AGEASSURE_TEST_RUN_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestParseFlagsEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantTTL time.Duration
		wantErr bool
	}{
		{"default", nil, nil, 15 * time.Minute, false},
		{"from env", nil, map[string]string{"AGEASSURE_ATTESTATION_TTL": "5m"}, 5 * time.Minute, false},
		{"flag wins", []string{"--attestation-ttl", "2m"}, map[string]string{"AGEASSURE_ATTESTATION_TTL": "5m"}, 2 * time.Minute, false},
		{"bad env value", nil, map[string]string{"AGEASSURE_ATTESTATION_TTL": "soon"}, 0, true},
		{"stray argument", []string{"extra"}, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseServeFlags(tt.args, tt.env)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && cfg.AttestationTTL != tt.wantTTL {
				t.Errorf("ttl = %s, want %s", cfg.AttestationTTL, tt.wantTTL)
			}
		})
	}
}

// parseServeFlags parses serve's flags from args and an environment.
func parseServeFlags(args []string, env map[string]string) (serveConfig, error) {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.flags(fs)
	err := parseFlags(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return cfg, err
}

// TestServeHelpListsEveryFlag: `serve --help` documents every flag with its
// environment variable.
func TestServeHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--help"}, io.Discard, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var cfg serveConfig
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.flags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(out.String(), "--"+f.Name+" ") || !strings.Contains(out.String(), envName(f.Name)) {
			t.Errorf("help lacks --%s or %s", f.Name, envName(f.Name))
		}
	})
}

// TestServeRejectsBadConfig: a malformed configuration stops start-up with
// one line naming the file and the problem.
func TestServeRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"tenants not YAML", []string{"--tenants", write("t1.yaml", "- id: [")}, []string{"t1.yaml"}},
		{"tenants unknown field", []string{"--tenants", write("t2.yaml", "- id: acme\n  key: abc\n")}, []string{"t2.yaml", "key"}},
		{"tenants bad digest", []string{"--tenants", write("t3.yaml", "- id: acme\n  key_sha256: abc\n")}, []string{"t3.yaml", "key_sha256"}},
		{"tenants missing file", []string{"--tenants", filepath.Join(dir, "none.yaml")}, []string{"none.yaml"}},
		{"keys garbage", []string{"--keys", filepath.Dir(write("keys/k.pem", "not a key"))}, []string{"k.pem"}},
		{"keys empty folder", []string{"--keys", t.TempDir()}, []string{"keys"}},
		{"policy broken", []string{"--policy", write("p.yaml", "id: x\nrules:\n  - id: r\n    decision: allow\n    when: 'age <'\n    citation: c\n")}, []string{"p.yaml"}},
		{"bad log format", []string{"--log-format", "xml"}, []string{"log-format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0", "--log-dir", t.TempDir()}, tt.args...), io.Discard, &stderr)
			if code == 0 {
				t.Fatalf("exit 0, want failure; stderr:\n%s", stderr.String())
			}
			last := lastLine(stderr.String())
			if !strings.HasPrefix(last, "ageassure serve: ") {
				t.Errorf("last line %q is not the command's error", last)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// server is a running `ageassure serve` child process.
type server struct {
	cmd         *exec.Cmd
	addr        string
	metricsAddr string // host:port of /metrics, apart from the API
	key         string
	logs        *lineLog
	done        chan error
}

// lineLog collects a child's stderr and lets a test wait for a line.
type lineLog struct {
	lines chan string
	all   bytes.Buffer
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerLimited(t, 0, args...)
}

// startServerLimited is startServer with the open-file limit set to nofile
// (0: inherited), as `ulimit -n` would.
func startServerLimited(t *testing.T, nofile int, args ...string) *server {
	t.Helper()
	hasLogDir, hasMetrics := false, false
	for _, a := range args {
		hasLogDir = hasLogDir || a == "--log-dir"
		hasMetrics = hasMetrics || a == "--metrics-addr"
	}
	if !hasLogDir {
		args = append(args, "--log-dir", t.TempDir())
	}
	if !hasMetrics { // replicas on one host cannot share the default port
		args = append(args, "--metrics-addr", "127.0.0.1:0")
	}
	argv := append([]string{os.Args[0], "serve", "--addr", "127.0.0.1:0"}, args...)
	if nofile > 0 {
		argv = append([]string{"bash", "-c", fmt.Sprintf(`ulimit -n %d && exec "$@"`, nofile), "bash"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "AGEASSURE_TEST_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: &lineLog{lines: make(chan string, 1000)}, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.logs.lines <- sc.Text()
		}
		close(s.logs.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	deadline := time.After(30 * time.Second)
	for s.addr == "" {
		select {
		case line, ok := <-s.logs.lines:
			if !ok {
				t.Fatalf("server exited before listening:\n%s", s.logs.all.String())
			}
			s.logs.all.WriteString(line + "\n")
			if k := strings.TrimSpace(line); strings.HasPrefix(k, "aa_dev_") {
				s.key = k
			}
			var rec struct {
				Msg         string `json:"msg"`
				Addr        string `json:"addr"`
				MetricsAddr string `json:"metrics_addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				s.addr, s.metricsAddr = rec.Addr, rec.MetricsAddr
			}
		case <-deadline:
			t.Fatalf("server did not start:\n%s", s.logs.all.String())
		}
	}
	go func() { s.done <- cmd.Wait() }()
	return s
}

// waitFor reads log lines until one contains want.
func (s *server) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-s.logs.lines:
			if !ok {
				t.Fatalf("server log ended before %q", want)
			}
			if strings.Contains(line, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no log line with %q", want)
		}
	}
}

// TestServeEndToEnd runs the real command with its defaults: the printed
// development key works, the attestation verifies against the published
// JWKS, and SIGTERM lets an in-flight request finish before exiting 0.
func TestServeEndToEnd(t *testing.T) {
	s := startServer(t)
	if s.key == "" {
		t.Fatalf("no development API key printed:\n%s", s.logs.all.String())
	}
	if !strings.Contains(s.logs.all.String(), "EPHEMERAL SIGNING KEY") {
		t.Error("no loud warning about the ephemeral key")
	}
	base := "http://" + s.addr

	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	jwksBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set, err := jwk.Parse(jwksBody)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}

	body := `{"jurisdiction":"DE","declared":{"birth_date":"2012-05-01"},"context":{"nonce":"n-42"}}`
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/age-checks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var r struct {
		DecisionID  string `json:"decision_id"`
		Decision    string `json:"decision"`
		Attestation string `json:"attestation"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse([]byte(r.Attestation), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithAudience("dev"), jwt.WithIssuer("ageassure"))
	if err != nil {
		t.Fatalf("attestation does not verify against the served JWKS: %v", err)
	}
	if tok.JwtID() != r.DecisionID {
		t.Errorf("jti %s, decision id %s", tok.JwtID(), r.DecisionID)
	}
	if nonce, _ := tok.Get("nonce"); nonce != "n-42" {
		t.Errorf("nonce %v", nonce)
	}

	// An in-flight request: headers and half the body sent before SIGTERM.
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/age-checks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", s.key, len(body))
	half := len(body) / 2
	if _, err := conn.Write([]byte(body[:half])); err != nil {
		t.Fatal(err)
	}
	// Let the server start reading the request before the signal.
	time.Sleep(100 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "shutting down")
	if _, err := conn.Write([]byte(body[half:])); err != nil {
		t.Fatal(err)
	}
	inflight, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request was not answered: %v", err)
	}
	inflight.Body.Close()
	if inflight.StatusCode != http.StatusOK {
		t.Errorf("in-flight request got %d", inflight.StatusCode)
	}
	conn.Close()

	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit after SIGTERM")
	}
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		t.Error("still accepting connections after exit")
	}
}
