package decisionlog

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serveLog mounts the handler as the service does, under /log/.
func serveLog(t *testing.T, l *Log) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/log/", http.StripPrefix("/log", l.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHandlerServesOnlyLogPaths(t *testing.T) {
	fx := sharedFixture(t)
	dir := copyDir(t, fx.dir)
	l := openLog(t, testOptions(dir))
	defer closeLog(t, l)
	// A symlink inside the folder to the key, and one out of it.
	os.Symlink(filepath.Join("..", "..", ".ageassure", "note.key"), filepath.Join(dir, "tile", "0", "005"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "tile", "0", "006"))
	os.Symlink(filepath.Join(dir, ".ageassure"), filepath.Join(dir, "tile", "7"))
	os.WriteFile(filepath.Join(dir, ".ageassure", "007"), []byte("secret"), 0o600)
	srv := serveLog(t, l)
	h := http.StripPrefix("/log", l.Handler())

	const immutable, nocache = "public, max-age=31536000, immutable", "no-cache"
	tests := []struct {
		path   string
		status int
		cache  string
		ctype  string
	}{
		{"/log/checkpoint", 200, nocache, "text/plain; charset=utf-8"},
		{"/log/key", 200, "", "text/plain; charset=utf-8"},
		{"/log/tile/0/000", 200, immutable, "application/octet-stream"},
		{"/log/tile/0/001.p/44", 200, nocache, "application/octet-stream"},
		{"/log/tile/1/000.p/1", 200, nocache, "application/octet-stream"},
		{"/log/tile/entries/000", 200, immutable, "application/octet-stream"},
		{"/log/tile/entries/001.p/44", 200, nocache, "application/octet-stream"},
		{"/log/", 404, "", ""},
		{"/log", 404, "", ""},
		{"/log/tile/", 404, "", ""},
		{"/log/tile", 404, "", ""},
		{"/log/tile/0/", 404, "", ""},
		{"/log/tile/entries/", 404, "", ""},
		{"/log/../", 404, "", ""},
		{"/log/../go.mod", 404, "", ""},
		{"/log/.ageassure/note.key", 404, "", ""},
		{"/log/.state/treeState", 404, "", ""},
		{"/log/tile/0/x", 404, "", ""},
		{"/log/tile/0/00", 404, "", ""},
		{"/log/tile/00/000", 404, "", ""},
		{"/log/tile/0/x000/000", 404, "", ""},
		{"/log/tile/0/000.p/0", 404, "", ""},
		{"/log/tile/0/000.p/256", 404, "", ""},
		{"/log/tile/0/000.p/044", 404, "", ""},
		{"/log/tile/64/000", 404, "", ""},
		{"/log/tile/0/000/", 404, "", ""},
		{"/log/checkpoint/", 404, "", ""},
		{"/log/checkpoint.tmp", 404, "", ""},
		{"/log/tile/%2e%2e/%2e%2e/.ageassure/note.key", 404, "", ""},
		{"/log/tile/entries/..%2f..%2f.ageassure%2fnote.key", 404, "", ""},
		{"/log/tile/0/005", 404, "", ""}, // symlink to the key inside the folder
		{"/log/tile/0/006", 404, "", ""}, // symlink out of the folder
		{"/log/tile/7/007", 404, "", ""}, // through a symlinked directory
		{"/log/tile/0/999", 404, "", ""}, // well-formed, absent
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			// Through a real server and mux (paths cleaned, redirects followed)...
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
			if strings.Contains(string(body), "PRIVATE") || strings.Contains(string(body), "secret") || strings.Contains(string(body), "root:") {
				t.Fatalf("GET %s leaked a private file", tt.path)
			}
			if tt.status == 200 {
				if got := resp.Header.Get("Content-Type"); got != tt.ctype {
					t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
				}
				if tt.cache != "" && resp.Header.Get("Cache-Control") != tt.cache {
					t.Errorf("Cache-Control = %q, want %q", resp.Header.Get("Cache-Control"), tt.cache)
				}
			}
			// ...and straight to the handler, with no path cleaning at all.
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "http://x"+tt.path, nil)
			h.ServeHTTP(rec, req)
			if tt.status == 404 && rec.Code == 200 {
				t.Errorf("handler served %s directly", tt.path)
			}
		})
	}

	resp, err := http.Post(srv.URL+"/log/checkpoint", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL + "/log/key")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(b)) != l.VerifierKey() {
		t.Errorf("/log/key = %q", b)
	}
}

// TestHandlerErrorsAreProblems: the handler's errors are RFC 9457
// problem+json like every other error of the service — type, title,
// status, detail and a stable code — never text/plain, and echo nothing of
// the request.
func TestHandlerErrorsAreProblems(t *testing.T) {
	l := openLog(t, testOptions(t.TempDir()))
	defer closeLog(t, l)
	srv := serveLog(t, l)
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/log/", 404, "not_found"},
		{http.MethodGet, "/log/.ageassure/note.key", 404, "not_found"},
		{http.MethodGet, "/log/tile/0/999", 404, "not_found"},
		{http.MethodGet, "/log/tile/%2e%2e/x", 404, "not_found"},
		{http.MethodHead, "/log/tile/0/999", 404, ""},
		{http.MethodPost, "/log/checkpoint", 405, "method_not_allowed"},
		{"DELETE", "/log/<script>", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
			if tt.method == http.MethodHead {
				if len(body) != 0 {
					t.Errorf("HEAD answered with a body: %s", body)
				}
				return
			}
			var p map[string]any
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			want := map[string]any{"type": "urn:ageassure:problem:" + tt.code, "status": float64(tt.status), "code": tt.code}
			for k, v := range want {
				if p[k] != v {
					t.Errorf("%s = %v, want %v", k, p[k], v)
				}
			}
			for _, k := range []string{"title", "detail"} {
				if s, _ := p[k].(string); s == "" {
					t.Errorf("no %s: %s", k, body)
				}
			}
			if len(p) != 5 {
				t.Errorf("members %v, want exactly type, title, status, detail, code", p)
			}
			if strings.Contains(string(body), "script") || strings.Contains(string(body), "DELETE") {
				t.Errorf("the request is echoed: %s", body)
			}
		})
	}
}
