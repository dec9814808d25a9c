package decisionlog

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"
)

// Cache policies: full tiles and bundles never change once written
// (tlog-tiles), partial ones and the checkpoint change with every batch.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheNoCache   = "no-cache"
)

// Handler serves the log read-only, as tlog-tiles lays it out, relative to
// where it is mounted (the service mounts it under /log):
//
//	GET /checkpoint                   the latest signed checkpoint
//	GET /tile/<L>/<N>[.p/<W>]         hash tiles
//	GET /tile/entries/<N>[.p/<W>]     entry bundles
//	GET /key                          the note verifier key
//
// Nothing else: no listing, no other file of the folder (the key, Tessera's
// .state). A request path must be exactly the canonical path of a tile or
// bundle (it is parsed, then re-rendered and compared), so "..", encoded
// separators, leading zeros and the like are 404 before the filesystem is
// touched; files are opened through an os.Root, so even a symlink placed in
// the folder cannot lead outside it.
//
// Errors are RFC 9457 application/problem+json, shaped like every other
// error of the service (type, title, status, detail, code): 404
// not_found, 405 method_not_allowed (with Allow), and 503
// decision_log_unavailable when a file exists but cannot be read now (no
// descriptors left, an I/O error).
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(l.serveHTTP)
}

func (l *Log) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method not allowed",
			"The log is read-only: use GET or HEAD")
		return
	}
	// RawPath is set when the path had escapes that change its meaning
	// (%2F); no valid log path has any escape, so refuse them outright.
	if r.URL.RawPath != "" {
		notFound(w)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case p == "key":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write([]byte(l.key.verifier + "\n"))
	case p == layout.CheckpointPath:
		l.serveFile(w, r, p, "text/plain; charset=utf-8", cacheNoCache)
	default:
		partial, ok := tilePath(p)
		if !ok {
			notFound(w)
			return
		}
		cache := cacheImmutable
		if partial {
			cache = cacheNoCache
		}
		l.serveFile(w, r, p, "application/octet-stream", cache)
	}
}

// tilePath reports whether p is the canonical tlog-tiles path of a hash tile
// or entry bundle, and whether it is a partial one.
func tilePath(p string) (partial, ok bool) {
	rest, found := strings.CutPrefix(p, "tile/")
	if !found {
		return false, false
	}
	level, index, found := strings.Cut(rest, "/")
	if !found {
		return false, false
	}
	if level == "entries" {
		n, w, err := layout.ParseTileIndexPartial(index)
		if err != nil || layout.EntriesPath(n, w) != p {
			return false, false
		}
		return w != 0, true
	}
	l, n, w, err := layout.ParseTileLevelIndexPartial(level, index)
	if err != nil || layout.TilePath(l, n, w) != p {
		return false, false
	}
	return w != 0, true
}

// serveFile writes one regular file of the log folder. Every component of
// name must be a real directory or file, not a symlink: os.Root already
// stops links leading out of the folder, and this stops a link inside it
// (say tile/0/999 → ../../.ageassure/note.key) from exposing the key.
func (l *Log) serveFile(w http.ResponseWriter, r *http.Request, name, contentType, cache string) {
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		fi, err := l.root.Lstat(name[:i])
		if err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			notFound(w)
			return
		}
	}
	f, err := l.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			notFound(w)
			return
		}
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusServiceUnavailable, codeLogUnavailable, "Decision log unavailable",
			"The log's files cannot be read right now; retry shortly")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		notFound(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// Problem codes and the type URN prefix, as the service's own problems
// have them (service/problem.go); the adapter does not import the service.
const (
	problemTypePrefix    = "urn:ageassure:problem:"
	problemContentType   = "application/problem+json"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeLogUnavailable   = "decision_log_unavailable"
)

// problem is an RFC 9457 problem detail, with the service's stable code.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

func notFound(w http.ResponseWriter) {
	writeProblem(w, http.StatusNotFound, codeNotFound, "Not found", "No such log file")
}

// writeProblem answers status with a problem+json body. Nothing of the
// request is echoed back.
func writeProblem(w http.ResponseWriter, status int, code, title, detail string) {
	body, _ := json.Marshal(problem{Type: problemTypePrefix + code, Title: title, Status: status, Detail: detail, Code: code})
	h := w.Header()
	h.Set("Content-Type", problemContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
