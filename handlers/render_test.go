package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/views"
)

// TestWriteSendsWholePagesOnly: a component that fails halfway leaves the
// response untouched, so the error handler can still send a whole error page;
// one that succeeds is sent in one Write with its Content-Length.
func TestWriteSendsWholePagesOnly(t *testing.T) {
	boom := errors.New("boom")
	half := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		if _, err := io.WriteString(w, "<main><table>"+strings.Repeat("<tr><td>row</td></tr>", 500)); err != nil {
			return err
		}
		return boom
	})
	whole := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		for range 500 {
			if _, err := io.WriteString(w, "<tr><td>row</td></tr>"); err != nil {
				return err
			}
		}
		return nil
	})
	e := echo.New()
	h := &Handler{}

	rec := &countingRecorder{ResponseRecorder: httptest.NewRecorder()}
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/jobs", nil), rec)
	if err := h.write(c, http.StatusOK, half); !errors.Is(err, boom) {
		t.Fatalf("write = %v, want %v", err, boom)
	}
	if c.Response().Committed || rec.Body.Len() != 0 || rec.writes != 0 {
		t.Fatalf("a failed render sent something: committed %v, %d bytes", c.Response().Committed, rec.Body.Len())
	}

	rec = &countingRecorder{ResponseRecorder: httptest.NewRecorder()}
	c = e.NewContext(httptest.NewRequest(http.MethodGet, "/jobs", nil), rec)
	if err := h.write(c, http.StatusOK, whole); err != nil {
		t.Fatal(err)
	}
	if rec.writes != 1 || rec.Header().Get(echo.HeaderContentLength) != strconv.Itoa(rec.Body.Len()) || rec.Body.Len() != 500*len("<tr><td>row</td></tr>") {
		t.Errorf("%d writes, Content-Length %q for %d bytes", rec.writes, rec.Header().Get(echo.HeaderContentLength), rec.Body.Len())
	}
}

// TestSendHTMLCompression: gzip only when asked for and worth it, always with
// Vary: Accept-Encoding, and the gzip body is the page.
func TestSendHTMLCompression(t *testing.T) {
	big := []byte("<!doctype html><title>x</title>" + strings.Repeat(`<tr data-testid="job-row"><td>Job</td></tr>`, 200))
	small := []byte("<p>ok</p>")
	tests := []struct {
		name, accept, method string
		body                 []byte
		gzipped              bool
	}{
		{"no header", "", http.MethodGet, big, false},
		{"gzip", "gzip", http.MethodGet, big, true},
		{"browser list", "gzip, deflate, br, zstd", http.MethodGet, big, true},
		{"gzip refused", "gzip;q=0, identity", http.MethodGet, big, false},
		{"brotli only", "br", http.MethodGet, big, false},
		{"tiny body", "gzip", http.MethodGet, small, false},
		{"HEAD", "gzip", http.MethodHead, big, true},
	}
	e := echo.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/jobs", nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Encoding", tt.accept)
			}
			rec := httptest.NewRecorder()
			if err := sendHTML(e.NewContext(req, rec), http.StatusOK, tt.body, nil); err != nil {
				t.Fatal(err)
			}
			if v := rec.Header().Values("Vary"); !strings.Contains(strings.Join(v, ","), "Accept-Encoding") {
				t.Errorf("Vary %q", v)
			}
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Fatalf("Content-Encoding %q, want gzip %v", rec.Header().Get("Content-Encoding"), tt.gzipped)
			}
			cl, _ := strconv.Atoi(rec.Header().Get("Content-Length"))
			if tt.method == http.MethodHead {
				if rec.Body.Len() != 0 || cl == 0 || cl >= len(tt.body) {
					t.Errorf("HEAD: %d body bytes, Content-Length %d", rec.Body.Len(), cl)
				}
				return
			}
			if cl != rec.Body.Len() {
				t.Errorf("Content-Length %d for %d bytes", cl, rec.Body.Len())
			}
			got := rec.Body.Bytes()
			if tt.gzipped {
				if len(got) >= len(tt.body)/4 {
					t.Errorf("gzip body %d bytes of %d", len(got), len(tt.body))
				}
				zr, err := gzip.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("body differs from the page")
			}
		})
	}
}

// TestGzipSpliced: a body whose chunks (compressed once, apart) are spliced
// between parts compressed per response is one valid gzip member, read back
// by the standard library's strict reader as the body, wherever the chunks
// lie: first, last, side by side, the whole body, none; and a chunk is
// compressed once however many responses carry it.
func TestGzipSpliced(t *testing.T) {
	frame := func(n int) []byte { return []byte(strings.Repeat(`<nav data-nonce="r4nd0m">x</nav>`, n)) }
	mk := func(s string, n int) *views.Chunk {
		return &views.Chunk{HTML: []byte(strings.Repeat(s, n))}
	}
	a, b := mk(`<section class="job">Büro &amp; Co</section>`, 200), mk(`<tr><td>row</td></tr>`, 300)
	type part struct {
		raw    []byte
		chunk  *views.Chunk
		secret string
	}
	tests := []struct {
		name  string
		parts []part
	}{
		{"no chunks", []part{{raw: frame(50)}}},
		{"chunk in the middle", []part{{raw: frame(20)}, {chunk: a}, {raw: frame(3)}}},
		{"chunk first and last", []part{{chunk: a}, {raw: frame(1)}, {chunk: b}}},
		{"chunks side by side", []part{{raw: frame(2)}, {chunk: a}, {chunk: b}, {raw: frame(2)}}},
		{"only a chunk", []part{{chunk: b}}},
		{"the same chunk twice", []part{{chunk: a}, {raw: frame(1)}, {chunk: a}}},
		{"a short part stored", []part{{raw: frame(40)}, {chunk: a}, {raw: []byte("</main></body></html>")}}},
		{"the longest stored part", []part{{chunk: b}, {raw: bytes.Repeat([]byte{'x'}, storeBelow-1)}}},
		{"small chunks", []part{{chunk: mk(`<li>x</li>`, 3)}, {raw: frame(20)}, {chunk: mk(`<li>y</li>`, 80)}, {secret: "t0k3n"}, {chunk: mk(`<b>`, 1)}}},
		{"secrets between chunks", []part{{chunk: a}, {secret: "n0nce-r4nd0m"}, {chunk: b}, {secret: `{&#34;X-CSRF-Token&#34;:&#34;t0k3n&#34;}`}, {chunk: a}}},
		{"secrets among compressed parts", []part{{raw: frame(30)}, {secret: "n0nce-r4nd0m"}, {raw: frame(30)}, {secret: "n0nce-r4nd0m"}, {secret: "t0k3n"}}},
		{"a secret longer than a stored block", []part{{raw: frame(30)}, {secret: strings.Repeat("s3cr3t", 20000)}, {chunk: a}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// body is the page; the elided page is what write renders for
			// a gzip answer: the chunks' markup left out of its buffer.
			var body, elidedBody []byte
			var spans, elidedSpans []views.Span
			var secrets []string
			for _, p := range tt.parts {
				switch {
				case p.chunk != nil:
					spans = append(spans, views.Span{At: len(body), Len: len(p.chunk.HTML), Chunk: p.chunk})
					elidedSpans = append(elidedSpans, views.Span{At: len(elidedBody), Len: len(p.chunk.HTML), Chunk: p.chunk, Elided: true})
					body = append(body, p.chunk.HTML...)
				case p.secret != "":
					spans = append(spans, views.Span{At: len(body), Len: len(p.secret)})
					elidedSpans = append(elidedSpans, views.Span{At: len(elidedBody), Len: len(p.secret)})
					body = append(body, p.secret...)
					elidedBody = append(elidedBody, p.secret...)
					secrets = append(secrets, p.secret)
				default:
					body = append(body, p.raw...)
					elidedBody = append(elidedBody, p.raw...)
				}
			}
			for i := range 6 { // chunks packed quickly, then thoroughly, then as kept; whole and elided in turns
				var out bytes.Buffer
				if i%2 == 0 {
					gzipSpliced(&out, body, spans)
				} else {
					gzipSpliced(&out, elidedBody, elidedSpans)
				}
				for _, sec := range secrets {
					// Stored as it is, in a stored block of its own.
					n := min(len(sec), 0xffff)
					stored := append([]byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)}, sec[:n]...)
					if !bytes.Contains(out.Bytes(), stored) {
						t.Errorf("secret %.20q is not stored as it is", sec)
					}
				}
				zr, err := gzip.NewReader(&out)
				if err != nil {
					t.Fatal(err)
				}
				zr.Multistream(false)
				got, err := io.ReadAll(zr)
				if err != nil {
					t.Fatalf("reading the spliced member: %v", err)
				}
				if !bytes.Equal(got, body) {
					t.Fatalf("spliced body differs: %d bytes read, %d sent", len(got), len(body))
				}
				if out.Len() != 0 {
					t.Fatalf("%d bytes after the gzip member", out.Len())
				}
			}
		})
	}
	packed := a.Packed(func([]byte, bool) views.Packed { t.Fatal("a chunk compressed thoroughly twice"); return views.Packed{} })
	if len(packed.Deflate) == 0 || len(packed.Deflate) >= len(a.HTML)/4 {
		t.Errorf("chunk compressed to %d bytes of %d", len(packed.Deflate), len(a.HTML))
	}
}

// TestCRCCombine: the CRC-32 of a body combined from its parts' CRCs, as
// gzipSpliced does for chunks, is the CRC-32 of the whole, for lengths
// around every power of two.
func TestCRCCombine(t *testing.T) {
	data := make([]byte, 1<<17+3)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	cuts := []int{0, 1, 2, 3}
	for k := 2; 1<<k < len(data); k++ {
		cuts = append(cuts, 1<<k-1, 1<<k, 1<<k+1)
	}
	for _, a := range cuts {
		for _, n := range cuts {
			if a+n > len(data) {
				continue
			}
			x, y := data[:a], data[a:a+n]
			if got, want := crcCombine(crc32.ChecksumIEEE(x), crc32.ChecksumIEEE(y), crcShift(len(y))), crc32.ChecksumIEEE(data[:a+n]); got != want {
				t.Fatalf("%d+%d bytes: combined %08x, want %08x", a, n, got, want)
			}
		}
	}
}

// TestMaskedCSRF: every masking of a secret is a different string that
// validates; anything else does not.
func TestMaskedCSRF(t *testing.T) {
	secret, other := randomString(32), randomString(32)
	a, b := maskCSRF(secret), maskCSRF(secret)
	if a == b || strings.Contains(a, secret) || strings.Contains(b, secret) {
		t.Fatalf("masks repeat or show the secret: %q %q", a, b)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(a)
	flipped := bytes.Clone(raw)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name, want, got string
		ok              bool
	}{
		{"first mask", secret, a, true},
		{"second mask", secret, b, true},
		{"bare secret (pages from before masking)", secret, secret, true},
		{"another secret's mask", secret, maskCSRF(other), false},
		{"forged", secret, randomString(64), false},
		{"one bit flipped", secret, base64.RawURLEncoding.EncodeToString(flipped), false},
		{"truncated", secret, a[:len(a)-4], false},
		{"not base64", secret, strings.Repeat("!", len(a)), false},
		{"empty", secret, "", false},
		{"no secret", "", a, false},
		{"no secret, empty token", "", "", false},
	}
	for _, tt := range tests {
		if got := csrfValid(tt.want, tt.got); got != tt.ok {
			t.Errorf("%s: csrfValid = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

type countingRecorder struct {
	*httptest.ResponseRecorder
	writes int
}

func (r *countingRecorder) Write(p []byte) (int, error) {
	r.writes++
	return r.ResponseRecorder.Write(p)
}
