package handlers_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPagesCompressed: through the whole stack, a page and an htmx fragment
// are gzip-compressed exactly when the browser asks, always say Vary:
// Accept-Encoding, and decode to the HTML sent uncompressed.
func TestPagesCompressed(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	raw := &http.Client{Jar: c.hc.Jar, Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(raw.CloseIdleConnections)
	get := func(path, accept string, hx bool) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, p.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		if hx {
			htmx("job-table", "/jobs")(req)
		}
		resp, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatalf("%s: not gzip: %v", path, err)
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	for _, tt := range []struct {
		name, path string
		hx         bool
	}{
		{"page", "/jobs", false},
		{"htmx fragment", "/jobs?sort=server", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plain, plainBody := get(tt.path, "", tt.hx)
			zipped, zippedBody := get(tt.path, "gzip, deflate, br", tt.hx)
			refused, _ := get(tt.path, "gzip;q=0", tt.hx)
			for name, r := range map[string]*http.Response{"plain": plain, "gzip": zipped, "refused": refused} {
				if r.StatusCode != http.StatusOK || !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Accept-Encoding") {
					t.Errorf("%s: %d, Vary %q", name, r.StatusCode, r.Header.Values("Vary"))
				}
			}
			if ce := plain.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("compressed without being asked: %q", ce)
			}
			if ce := refused.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("compressed although refused: %q", ce)
			}
			if ce := zipped.Header.Get("Content-Encoding"); ce != "gzip" {
				t.Fatalf("Content-Encoding %q, want gzip", ce)
			}
			if zipped.ContentLength <= 0 || zipped.ContentLength*4 > int64(len(zippedBody)) {
				t.Errorf("gzip sent %d bytes for %d", zipped.ContentLength, len(zippedBody))
			}
			if tt.hx {
				// A fragment carries no per-response secret: the same bytes.
				if zippedBody != plainBody {
					t.Error("the gzip fragment decodes to other HTML than the plain one")
				}
				if strings.Contains(zippedBody, "<html") {
					t.Error("fragment request got a whole page")
				}
				return
			}
			// Pages differ only in their per-response nonce, token and request id.
			if !strings.Contains(zippedBody, `data-testid="job-row"`) || strings.Count(zippedBody, `data-testid="job-row"`) != strings.Count(plainBody, `data-testid="job-row"`) {
				t.Error("the gzip page has other rows than the plain one")
			}
		})
	}
}
