// Package static holds the portal's browser assets (stylesheet, script, the
// vendored htmx build, icon), embedded into the binary and served under
// content-hash URLs so that browsers may cache them forever.
//
// htmx.min.js is vendored from npm (see ../package.json and vendor.sh) and
// committed, so Go builds need no npm.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/agentdesk/agentdesk/negotiate"
)

//go:embed app.css app.js ui.js htmx.min.js favicon.svg
var files embed.FS

// hashLen is the number of hex digits of the SHA-256 content hash placed in
// URLs: enough to make a stale URL miss, short enough to keep HTML small.
const hashLen = 8

// contentTypes is explicit because mime.TypeByExtension depends on the host's
// /etc/mime.types, which differs between the build box and distroless images.
var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

type asset struct {
	name        string // logical name, e.g. "app.css"
	hashed      string // e.g. "app.3f2a9c1b.css"
	hash        string
	contentType string
	body        []byte
	gz          []byte // nil when compression does not pay off
}

// Assets serves the embedded files. It is immutable after New and safe for
// concurrent use.
type Assets struct {
	prefix   string
	byName   map[string]*asset
	byHashed map[string]*asset
}

// New loads the embedded files and computes their hashes. prefix is the URL
// path under which Handler is reachable from the browser, e.g. "/static" or
// "/backup/static"; a trailing slash is ignored.
func New(prefix string) *Assets {
	a, err := load(files, strings.TrimRight(prefix, "/"))
	if err != nil {
		// The files are compiled in: failing here means the binary is broken.
		panic(fmt.Sprintf("static: %v", err))
	}
	return a
}

func load(fsys fs.FS, prefix string) (*Assets, error) {
	a := &Assets{prefix: prefix, byName: map[string]*asset{}, byHashed: map[string]*asset{}}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded files: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:hashLen]
		ext := path.Ext(e.Name())
		ct, ok := contentTypes[ext]
		if !ok {
			return nil, fmt.Errorf("%s: no content type for %q", e.Name(), ext)
		}
		as := &asset{
			name:        e.Name(),
			hashed:      strings.TrimSuffix(e.Name(), ext) + "." + hash + ext,
			hash:        hash,
			contentType: ct,
			body:        body,
			gz:          compress(body),
		}
		a.byName[as.name] = as
		a.byHashed[as.hashed] = as
	}
	return a, nil
}

func compress(body []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(body); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil {
		return nil
	}
	if buf.Len() >= len(body)*9/10 {
		return nil
	}
	return buf.Bytes()
}

// Path returns the content-hash URL of an embedded file, e.g.
// Path("app.css") == "/static/app.3f2a9c1b.css".
//
// It panics for a name that is not embedded: the set of files is fixed at
// build time, so a wrong name is a programming error that any test rendering
// a page finds.
func (a *Assets) Path(name string) string {
	as, ok := a.byName[name]
	if !ok {
		panic(fmt.Sprintf("static: no embedded file %q", name))
	}
	return a.prefix + "/" + as.hashed
}

// Names lists the logical names of the embedded files.
func (a *Assets) Names() []string {
	names := make([]string, 0, len(a.byName))
	for n := range a.byName {
		names = append(names, n)
	}
	return names
}

// Handler serves the files under their hashed names. Only the last path
// segment is looked at, so the handler works whether or not a router or proxy
// strips the prefix. Unknown names, unhashed names and stale hashes get 404:
// a stale URL must never be cached for a year with different content.
func (a *Assets) Handler() http.Handler {
	return http.HandlerFunc(a.serve)
}

func (a *Assets) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	as, ok := a.byHashed[path.Base(r.URL.Path)]
	if !ok || !strings.HasSuffix(r.URL.Path, "/"+as.hashed) {
		h.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	etag := `"` + as.hash + `"`
	h.Set("Content-Type", as.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", etag)
	h.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := as.body
	if as.gz != nil && negotiate.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = as.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == etag {
			return true
		}
	}
	return false
}
