package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestServeConnectionCap: a client holding idle connections cannot take
// the process's file descriptors (which the decision log needs to open
// its lock file at every batch): past --max-connections, connections are
// closed at accept, and a connection already being served keeps working.
// Run under a low open-file limit, as an attacker would meet it.
func TestServeConnectionCap(t *testing.T) {
	const maxConns = 20
	s := startServerLimited(t, 400, "--max-connections", "20")
	if !strings.Contains(s.logs.all.String(), `"max_connections":20`) {
		t.Fatalf("start-up line does not report the cap:\n%s", s.logs.all.String())
	}
	// A platform's keep-alive connection, open before the flood.
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	check := func(what string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/age-checks", strings.NewReader(`{"jurisdiction":"DE","declared":{"age":30}}`))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", what, resp.StatusCode)
		}
	}
	check("before the flood")

	// The flood: far more idle connections than the cap (and than the
	// process could hold if each kept a descriptor).
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for range 600 {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			break // the kernel's backlog is full: that is the attacker's problem
		}
		held = append(held, c)
	}
	// Connections over the cap are closed by the server at once.
	closed := 0
	for _, c := range held {
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if want := len(held) - (maxConns - 1); closed < want {
		t.Errorf("%d of %d flood connections closed at accept, want at least %d", closed, len(held), want)
	}
	check("during the flood, on the connection opened before it")
	if metric := s.metric(t, "ageassure_connections_refused_total"); metric == "" || metric == "0" {
		t.Errorf("refused connections not counted: %q", metric)
	}
	s.stop(t)
}

// TestServeRefusesUnsafeNetworkSettings: a write timeout that could cut an
// answer off, a connection cap the open-file limit cannot honour, and an
// open-file limit too low to serve at all are refused at start-up, with
// one line each, exit 1.
func TestServeRefusesUnsafeNetworkSettings(t *testing.T) {
	tests := []struct {
		name   string
		nofile int
		args   []string
		want   string
	}{
		{"write timeout within the evidence budget", 0, []string{"--write-timeout", "4s"}, "--write-timeout 4s: no room to answer"},
		{"write timeout under a long budget", 0, []string{"--evidence-budget", "30s"}, "a check may take up to 33s"},
		{"cap above the open-file limit", 400, []string{"--max-connections", "1000"}, "--max-connections 1000 would leave too few"},
		{"open-file limit too low", 260, nil, "leaves no room for client connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := append([]string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--log-dir", t.TempDir()}, tt.args...)
			var stderr bytes.Buffer
			code := runLimited(t, tt.nofile, argv, &stderr)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if code != 1 || !strings.Contains(last, tt.want) || !strings.HasPrefix(last, "ageassure serve: ") {
				t.Errorf("exit %d, last line %q; want exit 1 and %q", code, last, tt.want)
			}
		})
	}
}

// TestServeMetricsApart: the metrics, which name tenants, are not on the
// API's address by default; they are on --metrics-addr.
func TestServeMetricsApart(t *testing.T) {
	s := startServer(t)
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
		t.Errorf("API /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if s.metricsAddr == "" || s.metricsAddr == s.addr {
		t.Fatalf("metrics address %q (API %q)", s.metricsAddr, s.addr)
	}
	if v := s.metric(t, "ageassure_connections_open"); v == "" {
		t.Error("no metrics on --metrics-addr")
	}
	s.stop(t)
}

// runLimited runs this test binary as `ageassure argv...` under the given
// open-file limit (0: inherited) and returns its exit status.
func runLimited(t *testing.T, nofile int, argv []string, stderr io.Writer) int {
	t.Helper()
	full := append([]string{os.Args[0]}, argv...)
	if nofile > 0 {
		full = append([]string{"bash", "-c", fmt.Sprintf(`ulimit -n %d && exec "$@"`, nofile), "bash"}, full...)
	}
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = append(os.Environ(), "AGEASSURE_TEST_RUN_MAIN=1")
	cmd.Stderr = stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not exit: it started despite the settings")
		return -1
	}
}
