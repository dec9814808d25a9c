package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ageassure/ageassure/adapters/decisionlog"
	"github.com/ageassure/ageassure/service/logentry"
)

// post sends one age check to a running server and returns the status and
// the decoded body.
func (s *server) post(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/age-checks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// logEntries reads every entry of the log folder, verified against its
// checkpoint.
func logEntries(t *testing.T, dir string) map[string]*logentry.Entry {
	t.Helper()
	ctx := context.Background()
	r, err := decisionlog.OpenReader(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := decisionlog.ReadVerifierKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := loadVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := r.ReadCheckpoint(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*logentry.Entry{}
	err = r.Leaves(ctx, cp.Size, func(l decisionlog.Leaf) error {
		e, err := logentry.Parse(l.Data)
		if err != nil {
			return fmt.Errorf("entry %d: %w", l.Index, err)
		}
		out[e.DecisionID] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestServeDecisionLog: decisions made through the real command are in the
// log with their index, the log verifies with `audit verify`, a decision's
// inclusion is proved with `audit prove`, and the log is served read-only.
func TestServeDecisionLog(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "--log-dir", dir)
	bodies := []string{
		`{"jurisdiction":"DE","declared":{"birth_date":"2012-05-01"},"signals":[{"type":"underage_likelihood","score":0.42}]}`,
		`{"jurisdiction":"US","declared":{"age":10},"context":{"device_ref":"d1"}}`,
		`{"jurisdiction":"US","declared":{"age":19},"context":{"device_ref":"d1"}}`,
		`{"jurisdiction":"AU","declared":{"age":15}}`,
	}
	var ids []string
	for _, b := range bodies {
		code, out := s.post(t, b)
		if code != http.StatusOK {
			t.Fatalf("status %d: %v", code, out)
		}
		if _, ok := out["log_index"].(float64); !ok {
			t.Errorf("no log_index in %v", out)
		}
		ids = append(ids, out["decision_id"].(string))
	}

	// The log is public and read-only over HTTP.
	for path, want := range map[string]int{"/log/checkpoint": 200, "/log/key": 200, "/log/": 404, "/log/.ageassure/note.key": 404, "/log/../go.mod": 404} {
		resp, err := http.Get("http://" + s.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
		if strings.Contains(string(b), "PRIVATE+KEY") {
			t.Errorf("GET %s served the private key", path)
		}
	}
	resp, err := http.Get("http://" + s.addr + "/log/key")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	s.stop(t)
	entries := logEntries(t, dir)
	for i, id := range ids {
		e, ok := entries[id]
		if !ok {
			t.Fatalf("decision %d (%s) is not in the log", i, id)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("entry %s: %v", id, err)
		}
	}
	if e := entries[ids[2]]; e.DeviceHistory == nil || *e.DeviceHistory != 10 || e.Decision != "additional_verification_required" {
		t.Errorf("anti-hopping entry: %+v", e)
	}
	if e := entries[ids[0]]; e.Signals["underage_likelihood"] != 0.42 || e.Age != 14 || e.Band != "13_15" {
		t.Errorf("signals/age entry: %+v", e)
	}

	code, out, errOut := runAudit(t, "verify", "--log", dir, "--key", strings.TrimSpace(string(served)))
	if code != 0 {
		t.Fatalf("audit verify = %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runAudit(t, "prove", "--log", dir, "--decision-id", ids[1])
	if code != 0 || !strings.Contains(out, ids[1]) {
		t.Fatalf("audit prove = %d\n%s\n%s", code, out, errOut)
	}
}

// TestServeSIGKILLLosesNoAnsweredDecision: under a concurrent load the
// server is killed with SIGKILL; after a restart on the same folder, every
// decision that was answered 200 is in the log, and the log verifies.
func TestServeSIGKILLLosesNoAnsweredDecision(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "--log-dir", dir)
	var mu sync.Mutex
	var answered []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, out := s.post(t, fmt.Sprintf(`{"jurisdiction":"FR","declared":{"age":%d}}`, 10+(w+i)%40))
				if code == 0 {
					return // the server is gone
				}
				if code == http.StatusOK {
					mu.Lock()
					answered = append(answered, out["decision_id"].(string))
					mu.Unlock()
				}
			}
		}(w)
	}
	for {
		mu.Lock()
		n := len(answered)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done
	close(stop)
	wg.Wait()

	// Restart on the same folder (recovering what was sequenced) and stop
	// cleanly so a checkpoint covers everything.
	s2 := startServer(t, "--log-dir", dir)
	s2.stop(t)
	entries := logEntries(t, dir)
	mu.Lock()
	defer mu.Unlock()
	missing := 0
	for _, id := range answered {
		if _, ok := entries[id]; !ok {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d answered decisions are missing from the log", missing, len(answered))
	}
	t.Logf("%d decisions answered before SIGKILL, all in the log (%d entries)", len(answered), len(entries))
	key, _ := decisionlog.ReadVerifierKey(dir, "")
	if code, out, errOut := runAudit(t, "verify", "--log", dir, "--key", key); code != 0 {
		t.Fatalf("audit verify after SIGKILL = %d\n%s\n%s", code, out, errOut)
	}
}

// TestServeCanariesNotInFiles: requests carrying canary values through the
// real command leave no trace of them in any file the service wrote (the
// decision log folder, with its key) or in its log output.
func TestServeCanariesNotInFiles(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "--log-dir", dir, "--log-level", "debug", "--access-log")
	canaries := []string{"canary-device-9d1e77", "canary-subject-0a4c3b", "canary-nonce-5e6f11", "1986-07-23"}
	body := fmt.Sprintf(`{"jurisdiction":"GB","declared":{"birth_date":%q},"context":{"device_ref":%q,"subject_ref":%q,"nonce":%q}}`,
		canaries[3], canaries[0], canaries[1], canaries[2])
	for i := 0; i < 3; i++ {
		if code, out := s.post(t, body); code != http.StatusOK {
			t.Fatalf("status %d: %v", code, out)
		}
	}
	s.stop(t)

	var files bytes.Buffer
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		n++
		files.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("only %d files in the log folder: the search would prove nothing", n)
	}
	var logs bytes.Buffer
	for {
		line, ok := <-s.logs.lines
		if !ok {
			break
		}
		logs.WriteString(line + "\n")
	}
	logs.WriteString(s.logs.all.String())
	for where, text := range map[string]string{"log folder": files.String(), "process output": logs.String()} {
		for _, c := range canaries {
			for _, form := range []string{c, hex.EncodeToString([]byte(c)), base64.StdEncoding.EncodeToString([]byte(c)), base64.RawURLEncoding.EncodeToString([]byte(c))} {
				if strings.Contains(text, form) {
					t.Errorf("%s contains canary %q (as %q)", where, c, form)
				}
			}
		}
	}
	if !strings.Contains(logs.String(), `"route":"/v1/age-checks"`) {
		t.Error("no access log captured: the search would prove less than it claims")
	}
}
