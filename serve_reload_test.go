package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// copyPacks copies the shipped packs and their test cases into a folder
// the test can edit, as an operator's policy checkout.
func copyPacks(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob("policy/packs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no shipped packs found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// edit replaces old with new in a policy file.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (s *server) policyHash(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/v1/policy", nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Hash string `json:"hash"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info.Hash
}

func (s *server) metric(t *testing.T, series string) string {
	t.Helper()
	resp, err := http.Get("http://" + s.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, series+" ") {
			return strings.TrimPrefix(line, series+" ")
		}
	}
	return ""
}

// waitHash polls /v1/policy until the hash differs from (or, with same,
// equals) h.
func (s *server) waitHashChange(t *testing.T, from string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if h := s.policyHash(t); h != from {
			return h
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the policy was not reloaded (still %s)", from)
	return ""
}

func (s *server) waitMetric(t *testing.T, series, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.metric(t, series) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never reached %s (is %q)", series, want, s.metric(t, series))
}

// TestServePolicyHotReload edits the policy under a steady load: a good
// edit goes live without a failed request; a broken file and a policy that
// fails its own test cases are refused while the old policy keeps serving;
// SIGHUP reloads too.
func TestServePolicyHotReload(t *testing.T) {
	dir := copyPacks(t)
	// --log-async: the durable log's fsyncs would throttle the clients; the
	// reload, not the log, is under test here.
	s := startServer(t, "--policy", dir, "--policy-watch", "50ms", "--log-async")
	h0 := s.policyHash(t)

	var failed, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if code, _ := s.post(t, `{"jurisdiction":"DE","declared":{"age":30},"signals":[{"type":"underage_likelihood","score":0.85}]}`); code != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}

	// 1. A good edit (its cases still pass) goes live.
	edit(t, filepath.Join(dir, "policy.yaml"), "description: >-", "description: >-\n  Reviewed 2026-11-26.")
	h1 := s.waitHashChange(t, h0)
	if code, out := s.post(t, `{"jurisdiction":"DE","declared":{"age":14}}`); code != 200 || out["policy"].(map[string]any)["hash"] != h1 {
		t.Errorf("after the reload: %d %v", code, out["policy"])
	}

	// 2. A broken file is refused; the old policy keeps serving.
	edit(t, filepath.Join(dir, "policy.yaml"), "decision: deny", "decision: denied")
	s.waitMetric(t, `ageassure_policy_reloads_total{result="refused"}`, "1")
	if h := s.policyHash(t); h != h1 {
		t.Errorf("a broken policy replaced the active one: %s", h)
	}
	edit(t, filepath.Join(dir, "policy.yaml"), "decision: denied", "decision: deny")

	// 3. A policy that fails its own cases is refused too: the risk
	// threshold raised without updating the tests that pin it.
	edit(t, filepath.Join(dir, "policy.yaml"), "underage_likelihood_threshold: 0.8", "underage_likelihood_threshold: 0.9")
	s.waitMetric(t, `ageassure_policy_reloads_total{result="refused"}`, "2")
	if h := s.policyHash(t); h != h1 {
		t.Errorf("a policy failing its own cases replaced the active one: %s", h)
	}

	// 4. Put back, with another good edit: live again.
	edit(t, filepath.Join(dir, "policy.yaml"), "underage_likelihood_threshold: 0.9", "underage_likelihood_threshold: 0.8")
	edit(t, filepath.Join(dir, "policy.yaml"), "Reviewed 2026-11-26.", "Reviewed 2026-11-27.")
	s.waitHashChange(t, h1)

	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed during reloads", n, sent.Load())
	}
	t.Logf("%d requests during four reload attempts, none failed", sent.Load())
	s.stop(t)
}

// TestServePolicyReloadOnSIGHUP: with watching off, an edit takes effect
// on SIGHUP and not before.
func TestServePolicyReloadOnSIGHUP(t *testing.T) {
	dir := copyPacks(t)
	s := startServer(t, "--policy", dir, "--policy-watch", "0")
	h0 := s.policyHash(t)
	edit(t, filepath.Join(dir, "policy.yaml"), "description: >-", "description: >-\n  Reviewed 2026-11-26.")
	time.Sleep(300 * time.Millisecond)
	if h := s.policyHash(t); h != h0 {
		t.Fatalf("reloaded without SIGHUP while watching is off")
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.waitHashChange(t, h0)
	s.waitMetric(t, `ageassure_policy_reloads_total{result="applied"}`, "1")
	s.stop(t)
}
