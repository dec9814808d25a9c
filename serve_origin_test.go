package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ageassure/ageassure/internal/syncbuf"
)

// productionFiles writes a signing key folder and a tenants file, what
// makes serve run with real identities.
func productionFiles(t *testing.T) (keys, tenants string) {
	t.Helper()
	dir := t.TempDir()
	keys = filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, "k.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("aa_test_key"))
	tenants = filepath.Join(dir, "tenants.yaml")
	if err := os.WriteFile(tenants, []byte("- id: acme\n  key_sha256: "+hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return keys, tenants
}

// noteKeyFile writes a note signing key named origin and returns its path.
func noteKeyFile(t *testing.T, origin string) string {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "note.key")
	if err := os.WriteFile(p, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// servedOrigin is the origin of a running server's log: the name of the
// verifier key it publishes.
func servedOrigin(t *testing.T, s *server) string {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + "/log/key")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	name, _, _ := strings.Cut(strings.TrimSpace(string(b)), "+")
	return name
}

// serveFails runs serve, which must refuse to start, and returns its
// error lines. A serve that starts instead is stopped and fails the test.
func serveFails(t *testing.T, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), io.Discard, &stderr)
	}()
	var code int
	for tick := time.NewTicker(10 * time.Millisecond); ; {
		select {
		case code = <-done:
		case <-tick.C:
			if strings.Contains(stderr.String(), `"msg":"listening"`) {
				cancel()
				<-done
				t.Fatalf("serve started, want a refusal; stderr:\n%s", stderr.String())
			}
			continue
		}
		tick.Stop()
		break
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "ageassure serve: ") {
			lines = append(lines, l)
		}
	}
	return lines
}

var devOrigin = regexp.MustCompile(`^dev\.ageassure\.invalid/log/[0-9a-f]{16}$`)

// TestServeLogOriginDevelopment: a development log started without
// --log-origin gets an origin of its own, printed at start, and keeps it
// when restarted on the same folder; another folder gets another.
func TestServeLogOriginDevelopment(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	origins := map[string]string{}
	for _, dir := range dirs {
		s := startServer(t, "--log-dir", dir)
		origin := servedOrigin(t, s)
		s.stop(t)
		if !devOrigin.MatchString(origin) {
			t.Fatalf("origin %q, want a random dev.ageassure.invalid/log/<hex>", origin)
		}
		if !strings.Contains(s.logs.all.String(), "DEVELOPMENT LOG ORIGIN") || !strings.Contains(s.logs.all.String(), origin) {
			t.Errorf("the derived origin %s was not printed at start:\n%s", origin, s.logs.all.String())
		}
		for other, o := range origins {
			if o == origin {
				t.Errorf("logs %s and %s share the origin %s", other, dir, origin)
			}
		}
		origins[dir] = origin

		s = startServer(t, "--log-dir", dir)
		again := servedOrigin(t, s)
		s.stop(t)
		if again != origin {
			t.Errorf("restarted on the same folder: origin %q, want %q", again, origin)
		}
		if strings.Contains(s.logs.all.String(), "DEVELOPMENT LOG ORIGIN") {
			t.Error("a restart derived a new origin")
		}
	}
}

// TestServeLogOriginStarts: the origin a log starts with, for each way of
// starting it and restarting it.
func TestServeLogOriginStarts(t *testing.T) {
	keys, tenants := productionFiles(t)
	tests := []struct {
		name    string
		first   []string // creates the log
		then    []string // restarts it
		want    string
		explain string
	}{
		{"production, named", []string{"--keys", keys, "--tenants", tenants, "--log-origin", "age.example.com/log"},
			[]string{"--keys", keys, "--tenants", tenants}, "age.example.com/log", "a restart needs no --log-origin"},
		{"production, named again", []string{"--tenants", tenants, "--log-origin", "age.example.com/log"},
			[]string{"--tenants", tenants, "--log-origin", "age.example.com/log"}, "age.example.com/log", "the same origin again is fine"},
		{"development, named", []string{"--log-origin", "dev.example/log"},
			nil, "dev.example/log", "a restart needs no --log-origin"},
		{"production, a development log", nil,
			[]string{"--keys", keys}, "", "an existing log keeps its origin in production"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := startServer(t, append([]string{"--log-dir", dir}, tt.first...)...)
			first := servedOrigin(t, s)
			s.stop(t)
			if tt.want != "" && first != tt.want {
				t.Fatalf("origin %q, want %q", first, tt.want)
			}
			s = startServer(t, append([]string{"--log-dir", dir}, tt.then...)...)
			again := servedOrigin(t, s)
			s.stop(t)
			if again != first {
				t.Errorf("restart: origin %q, want %q (%s)", again, first, tt.explain)
			}
		})
	}
}

// TestServeLogOriginRefused: serve refuses, in one line and with exit 1,
// to create a production log without --log-origin, and to open a log with
// an origin other than the one it was created with.
func TestServeLogOriginRefused(t *testing.T) {
	keys, tenants := productionFiles(t)
	existing := func(origin string) string {
		dir := t.TempDir()
		args := []string{"--log-dir", dir}
		if origin != "" {
			args = append(args, "--log-origin", origin)
		}
		startServer(t, args...).stop(t)
		return dir
	}
	named, dev := existing("a.example/log"), existing("")
	devName := func() string {
		b, _ := os.ReadFile(filepath.Join(dev, "checkpoint"))
		first, _, _ := strings.Cut(string(b), "\n")
		return first
	}()
	tests := []struct {
		name string
		dir  string // "": a new folder
		args []string
		want []string
	}{
		{"new log with --tenants", "", []string{"--tenants", tenants}, []string{"--log-origin is required"}},
		{"new log with --keys", "", []string{"--keys", keys}, []string{"--log-origin is required"}},
		{"new log with both", "", []string{"--keys", keys, "--tenants", tenants}, []string{"--log-origin is required", "age.example.com/log"}},
		{"new log with an empty --log-origin", "", []string{"--keys", keys, "--log-origin", ""}, []string{"--log-origin is required"}},
		{"named log, another origin", named, []string{"--log-origin", "b.example/log"},
			[]string{`created with origin "a.example/log", not "b.example/log"`, "--log-origin a.example/log"}},
		{"named log, another origin, production", named, []string{"--tenants", tenants, "--log-origin", "b.example/log"},
			[]string{`created with origin "a.example/log", not "b.example/log"`}},
		{"named log, a key of another name", named, []string{"--log-key", noteKeyFile(t, "c.example/log")},
			[]string{`created with origin "a.example/log", not "c.example/log"`, "--log-key"}},
		{"development log, an origin now", dev, []string{"--log-origin", "age.example.com/log"},
			[]string{fmt.Sprintf("created with origin %q", devName), "age.example.com/log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if dir == "" {
				dir = t.TempDir()
			}
			var before []string
			_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { before = append(before, p); return nil })
			lines := serveFails(t, append([]string{"--log-dir", dir}, tt.args...)...)
			if len(lines) != 1 {
				t.Fatalf("%d error lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			for _, w := range tt.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("error %q lacks %q", lines[0], w)
				}
			}
			var after []string
			_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { after = append(after, p); return nil })
			if strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the refused start changed the log folder:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// TestServeWritesOnlyItsLogFolder: serve writes nothing but its log folder:
// not its working directory, not a temporary directory. So a container
// with a read-only root file system starts, given a volume for the log.
func TestServeWritesOnlyItsLogFolder(t *testing.T) {
	cwd, logDir := t.TempDir(), t.TempDir()
	t.Chdir(cwd)
	t.Setenv("TMPDIR", filepath.Join(cwd, "no-such-tmp"))
	t.Setenv("HOME", filepath.Join(cwd, "no-such-home"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--log-dir", logDir}, &out, &out) }()

	var addr, key string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", out.String())
		}
		if m := regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`).FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		if m := regexp.MustCompile(`aa_dev_\S+`).FindString(out.String()); m != "" {
			key = m
		}
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/age-checks", strings.NewReader(`{"jurisdiction":"DE","declared":{"age":30}}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Errorf("serve wrote %v in its working directory", entries)
	}
	if _, err := os.Stat(filepath.Join(logDir, "checkpoint")); err != nil {
		t.Errorf("no checkpoint in the log folder: %v", err)
	}
}
