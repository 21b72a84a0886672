package static

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestPathIsContentHashed(t *testing.T) {
	a := New("/backup/static/")
	re := regexp.MustCompile(`^/backup/static/app\.[0-9a-f]{8}\.css$`)
	if got := a.Path("app.css"); !re.MatchString(got) {
		t.Fatalf("Path(app.css) = %q, want match %s", got, re)
	}
	if got := a.Path("htmx.min.js"); !regexp.MustCompile(`^/backup/static/htmx\.min\.[0-9a-f]{8}\.js$`).MatchString(got) {
		t.Fatalf("Path(htmx.min.js) = %q", got)
	}
	if a.Path("app.css") == a.Path("app.js") {
		t.Fatal("different files share a URL")
	}
}

func TestPathChangesWithContent(t *testing.T) {
	prefix := "/s"
	one, err := load(fstestFS(map[string]string{"app.css": "a{}"}), prefix)
	if err != nil {
		t.Fatal(err)
	}
	two, err := load(fstestFS(map[string]string{"app.css": "b{}"}), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if one.Path("app.css") == two.Path("app.css") {
		t.Fatal("hash did not change with content")
	}
}

func TestPathUnknownPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an unknown name")
		}
	}()
	New("/static").Path("nope.css")
}

func TestHandler(t *testing.T) {
	a := New("/static")
	h := a.Handler()
	css := a.Path("app.css")
	stale := strings.Replace(css, ".css", "", 1)
	stale = stale[:strings.LastIndex(stale, ".")] + ".00000000.css"

	tests := []struct {
		name, method, path string
		header             map[string]string
		wantStatus         int
		wantType           string
		wantCache          string
		wantGzip           bool
	}{
		{name: "css", method: "GET", path: css, wantStatus: 200, wantType: "text/css; charset=utf-8", wantCache: "public, max-age=31536000, immutable"},
		{name: "js", method: "GET", path: a.Path("app.js"), wantStatus: 200, wantType: "text/javascript; charset=utf-8", wantCache: "public, max-age=31536000, immutable"},
		{name: "htmx gzip", method: "GET", path: a.Path("htmx.min.js"), header: map[string]string{"Accept-Encoding": "br, gzip"}, wantStatus: 200, wantType: "text/javascript; charset=utf-8", wantCache: "public, max-age=31536000, immutable", wantGzip: true},
		{name: "gzip refused", method: "GET", path: a.Path("htmx.min.js"), header: map[string]string{"Accept-Encoding": "gzip;q=0"}, wantStatus: 200, wantType: "text/javascript; charset=utf-8", wantCache: "public, max-age=31536000, immutable"},
		{name: "svg", method: "HEAD", path: a.Path("favicon.svg"), wantStatus: 200, wantType: "image/svg+xml", wantCache: "public, max-age=31536000, immutable"},
		{name: "prefix stripped by router", method: "GET", path: strings.TrimPrefix(css, "/static"), wantStatus: 200, wantType: "text/css; charset=utf-8", wantCache: "public, max-age=31536000, immutable"},
		{name: "stale hash", method: "GET", path: stale, wantStatus: 404},
		{name: "unhashed", method: "GET", path: "/static/app.css", wantStatus: 404},
		{name: "unknown", method: "GET", path: "/static/secret.txt", wantStatus: 404},
		{name: "source file", method: "GET", path: "/static/static.go", wantStatus: 404},
		{name: "post", method: "POST", path: css, wantStatus: 405},
		{name: "not modified", method: "GET", path: css, header: map[string]string{"If-None-Match": `W/"zzz", "` + hashOf(t, css) + `"`}, wantStatus: 304, wantCache: "public, max-age=31536000, immutable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("nosniff missing: %q", got)
			}
			if tt.wantType != "" && res.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", res.Header.Get("Content-Type"), tt.wantType)
			}
			if tt.wantCache != "" && res.Header.Get("Cache-Control") != tt.wantCache {
				t.Errorf("Cache-Control = %q, want %q", res.Header.Get("Cache-Control"), tt.wantCache)
			}
			if tt.wantStatus == 404 && strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
				t.Error("a 404 must not be cached as immutable")
			}
			if got := res.Header.Get("Content-Encoding") == "gzip"; got != tt.wantGzip {
				t.Errorf("gzip = %v, want %v", got, tt.wantGzip)
			}
			if tt.wantStatus != 200 || tt.method != "GET" {
				return
			}
			body, _ := io.ReadAll(res.Body)
			if tt.wantGzip {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(zr)
			}
			name := strings.TrimPrefix(tt.path, "/static/")
			want := a.byHashed[filepath.Base(name)].body
			if !bytes.Equal(body, want) {
				t.Errorf("body differs from embedded file (%d vs %d bytes)", len(body), len(want))
			}
		})
	}
}

func hashOf(t *testing.T, p string) string {
	t.Helper()
	parts := strings.Split(filepath.Base(p), ".")
	return parts[len(parts)-2]
}

// The vendored copy must be exactly what the lockfile installs. node_modules
// exists only after `npm ci` (static/vendor.sh), so the check is skipped
// otherwise.
func TestVendoredHTMXMatchesNodeModules(t *testing.T) {
	nm, err := os.ReadFile(filepath.Join("..", "node_modules", "htmx.org", "dist", "htmx.min.js"))
	if os.IsNotExist(err) {
		t.Skip("node_modules not installed; run static/vendor.sh to compare")
	}
	if err != nil {
		t.Fatal(err)
	}
	vendored, err := os.ReadFile("htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nm, vendored) {
		t.Fatal("static/htmx.min.js differs from node_modules/htmx.org/dist/htmx.min.js: run static/vendor.sh")
	}
}

// The pin in package.json, the lockfile and the vendored file must agree on
// htmx 2.0.11 (4.x renamed attributes and events).
func TestHTMXVersionPinned(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, filepath.Join("..", "package.json"), &pkg)
	if got := pkg.Dependencies["htmx.org"]; got != "2.0.11" {
		t.Errorf("package.json pins htmx.org %q, want exactly 2.0.11", got)
	}
	var lock struct {
		Packages map[string]struct {
			Version  string `json:"version"`
			Resolved string `json:"resolved"`
		} `json:"packages"`
	}
	readJSON(t, filepath.Join("..", "package-lock.json"), &lock)
	p := lock.Packages["node_modules/htmx.org"]
	if p.Version != "2.0.11" {
		t.Errorf("package-lock.json has htmx.org %q, want 2.0.11", p.Version)
	}
	if p.Resolved != "" {
		t.Errorf("lockfile records a registry URL %q; .npmrc should omit it", p.Resolved)
	}
	js, err := os.ReadFile("htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js, []byte(`version:"2.0.11"`)) {
		t.Error("static/htmx.min.js is not htmx 2.0.11")
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// The script must stay CSP-friendly: no eval-like constructs.
func TestAppJSAvoidsEval(t *testing.T) {
	for _, name := range []string{"app.js", "ui.js"} {
		js, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"eval(", "new Function", ".innerHTML", "outerHTML =", "setTimeout('", `setTimeout("`} {
			if bytes.Contains(js, []byte(bad)) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}

func TestServeRealServer(t *testing.T) {
	a := New("/static")
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + a.Path("app.js"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body) // the client transparently un-gzips
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("htmx:beforeRequest")) {
		t.Fatalf("status %d, body %d bytes", res.StatusCode, len(body))
	}
}

// app.js and the views agree on these attribute and event names.
func TestAppJSContract(t *testing.T) {
	js, err := os.ReadFile("app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"data-poll", "'wake'", "data-error-fragment", "data-confirm-region", "data-dismiss",
		"data-confirm-opener", "data-announce", "theme-toggle", "data-theme-label", "'#messages'", "announcer", "visibilitychange",
		"data-embed-done", "data-embed-handoff", "agentdesk:handoff", "/embed/handoff"} {
		name = strings.Trim(name, "'")
		name = strings.TrimPrefix(name, "#")
		if !bytes.Contains(js, []byte(name)) {
			t.Errorf("app.js no longer mentions %q", name)
		}
	}
}
