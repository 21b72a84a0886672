package handlers_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
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

// TestPageSecretsStored: through the whole stack, a page's CSP nonce and
// CSRF token go out as they are, in stored blocks of their own (never
// compressed together with the page, BREACH), the page decodes whole, and
// splicing precompressed chunks costs little against compressing the whole
// page at once.
func TestPageSecretsStored(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	raw := &http.Client{Jar: c.hc.Jar, Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(raw.CloseIdleConnections)
	nonceRe := regexp.MustCompile(`nonce="([^"]+)"`)
	tokenRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	for _, path := range []string{"/jobs", "/jobs/" + p.sim.Jobs()[0].ID} {
		for i := range 3 { // a miss (chunks packed quickly, as for a cold page), then the memos' chunks packed thoroughly
			req, err := http.NewRequest(http.MethodGet, p.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept-Encoding", "gzip")
			resp, err := raw.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			zipped, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%s: %d %q %v", path, resp.StatusCode, resp.Header.Get("Content-Encoding"), err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(zipped))
			if err != nil {
				t.Fatal(err)
			}
			page, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			nonces, token := nonceRe.FindAllSubmatch(page, -1), tokenRe.FindSubmatch(page)
			if len(nonces) != 3 || token == nil {
				t.Fatalf("%s: %d nonces, token %q", path, len(nonces), token)
			}
			if n := bytes.Count(zipped, nonces[0][1]); n != 3 {
				t.Errorf("%s, render %d: the nonce is %d times in the gzip bytes, want 3 (stored)", path, i, n)
			}
			if n, want := bytes.Count(zipped, token[1]), bytes.Count(page, token[1]); n != want || want < 2 {
				t.Errorf("%s, render %d: the token is %d times in the gzip bytes, %d in the page (stored)", path, i, n, want)
			}
			var whole bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&whole, gzip.BestSpeed)
			zw.Write(page)
			zw.Close()
			if i == 2 {
				t.Logf("%s: %d bytes, %d gzipped in pieces, %d gzipped whole (standard library, BestSpeed)", path, len(page), len(zipped), whole.Len())
			}
			// A chunk's first response packs it at BestSpeed in pieces,
			// which loses more to the splitting (views.Chunk.Packed).
			over := 105
			if i == 0 {
				over = 115
			}
			if len(zipped) > whole.Len()*over/100 {
				t.Errorf("%s, render %d: %d bytes gzipped in pieces, more than %d%% of %d gzipped whole", path, i, len(zipped), over, whole.Len())
			}
		}
	}
}
