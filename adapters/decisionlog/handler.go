package decisionlog

import (
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
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(l.serveHTTP)
}

func (l *Log) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// RawPath is set when the path had escapes that change its meaning
	// (%2F); no valid log path has any escape, so refuse them outright.
	if r.URL.RawPath != "" {
		http.NotFound(w, r)
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
			http.NotFound(w, r)
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
			http.NotFound(w, r)
			return
		}
	}
	f, err := l.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "log unavailable", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
