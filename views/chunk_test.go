package views

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/a-h/templ"
)

// TestChunkSpans: a page rendered with its spans collected notes its
// memoised chunks and its per-request secrets exactly where they lie in the
// page, from the memo (second render) as on the render that filled it
// (first). Every occurrence of the CSP nonce and CSRF token is a secret span
// of its own, no chunk holds one; the big memoised parts are chunks (a job
// page's body, a list page's run of rows: one row alone is too small to be
// compressed apart) and so are the frame and the list chrome, which leaves
// next to nothing to compress per response. Collecting the spans changes no
// byte of the page.
func TestChunkSpans(t *testing.T) {
	l := sampleLayout()
	l.CSPNonce = "n0nc3-per-request"
	secrets := [][]byte{[]byte(l.CSPNonce), []byte(templ.EscapeString(token)), []byte(templ.EscapeString(csrfHeaders(token))),
		[]byte(templ.EscapeString(pageTitle(l.Title)))} // the title: per response too, so one frame serves every page
	pages := []struct {
		name    string
		page    templ.Component
		big     int // the size of the largest chunk at least
		secrets int
	}{
		{"job page", JobPage(l, fullDetail()), 10000, 7}, // and the confirmation's token,
		{"list page", JobListPage(l, sampleList(50)), 100000, 6},
		{"job table", JobTable(sampleList(50)), 100000, 0},
	}
	for _, p := range pages {
		for i := range 2 {
			var buf bytes.Buffer
			s := NewSpans(buf.Len)
			if err := p.page.Render(WithSpans(context.Background(), s), &buf); err != nil {
				t.Fatal(err)
			}
			page := buf.Bytes()
			pos, loose, biggest, stored := 0, 0, 0, 0
			for _, sp := range s.List() {
				if sp.At < pos || sp.At+sp.Len > len(page) {
					t.Fatalf("%s, render %d: span at %d+%d overlaps or overruns (%d, %d bytes)", p.name, i, sp.At, sp.Len, pos, len(page))
				}
				loose += sp.At - pos
				pos = sp.At + sp.Len
				in := page[sp.At:pos]
				if sp.Chunk == nil {
					if !slices.ContainsFunc(secrets, func(s []byte) bool { return bytes.Equal(s, in) }) {
						t.Errorf("%s, render %d: a secret span holds %q", p.name, i, in)
					}
					stored++
					continue
				}
				if !bytes.Equal(in, sp.Chunk.HTML) || sp.Len != len(sp.Chunk.HTML) {
					t.Fatalf("%s, render %d: the chunk is not where its span says (at %d of %d bytes)", p.name, i, sp.At, len(page))
				}
				biggest = max(biggest, sp.Len)
				for _, per := range [][]byte{secrets[0], []byte(token), secrets[1]} {
					if bytes.Contains(sp.Chunk.HTML, per) {
						t.Errorf("%s, render %d: a chunk holds the per-request %q", p.name, i, per)
					}
				}
			}
			loose += len(page) - pos
			if stored != p.secrets {
				t.Errorf("%s, render %d: %d secret spans, want %d", p.name, i, stored, p.secrets)
			}
			// Every occurrence is in a span: as many as the spans (the
			// token's JSON escapes its quote, so the escaped token is
			// not within the header's).
			n := bytes.Count(page, secrets[0]) + bytes.Count(page, secrets[1]) + bytes.Count(page, secrets[2]) + bytes.Count(page, secrets[3])
			if n != p.secrets {
				t.Errorf("%s, render %d: the nonce and token %d times, want %d", p.name, i, n, p.secrets)
			}
			if biggest < p.big {
				t.Errorf("%s, render %d: largest chunk %d bytes, want the body's (%d+)", p.name, i, biggest, p.big)
			}
			if loose > 0 {
				t.Errorf("%s, render %d: %d bytes outside spans, compressed per response", p.name, i, loose)
			}
			var plain bytes.Buffer
			if err := p.page.Render(context.Background(), &plain); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain.Bytes(), page) {
				t.Errorf("%s, render %d: collecting spans changed the page", p.name, i)
			}
		}
	}
}

// TestChunkPackedStages: a chunk's first response packs it quickly, the
// second thoroughly, and every later one sends the thorough form without
// packing again; responses racing on a new chunk each get a packed form.
func TestChunkPackedStages(t *testing.T) {
	var calls []bool
	pack := func(html []byte, thorough bool) Packed {
		calls = append(calls, thorough)
		return Packed{Deflate: append([]byte(nil), html...), CRC: map[bool]uint32{false: 1, true: 2}[thorough]}
	}
	c := &Chunk{HTML: []byte("<p>chunk</p>")}
	var got []uint32
	for range 5 {
		got = append(got, c.Packed(pack).CRC)
	}
	if !slices.Equal(calls, []bool{false, true}) {
		t.Errorf("packed as %v, want quick then thorough, once each", calls)
	}
	if !slices.Equal(got, []uint32{1, 2, 2, 2, 2}) {
		t.Errorf("responses sent forms %v, want the quick one first, then the thorough one", got)
	}

	race := &Chunk{HTML: []byte("<p>raced</p>")}
	var wg sync.WaitGroup
	var thorough atomic.Int32
	for range 16 {
		wg.Go(func() {
			p := race.Packed(func(html []byte, th bool) Packed {
				if th {
					thorough.Add(1)
				}
				return Packed{Deflate: html}
			})
			if p == nil || !bytes.Equal(p.Deflate, race.HTML) {
				t.Error("a response got no packed form")
			}
		})
	}
	wg.Wait()
	if n := thorough.Load(); n != 1 {
		t.Errorf("packed thoroughly %d times, want once", n)
	}
}

// TestElidedChunks: a page rendered with its chunks elided holds everything
// but their markup, and putting each chunk's markup back where its span
// says gives the page rendered whole, byte for byte.
func TestElidedChunks(t *testing.T) {
	l := sampleLayout()
	l.CSPNonce = "n0nc3-per-request"
	for name, page := range map[string]templ.Component{
		"job page":  JobPage(l, fullDetail()),
		"list page": JobListPage(l, sampleList(50)),
		"job table": JobTable(sampleList(50)),
	} {
		var whole bytes.Buffer
		if err := page.Render(context.Background(), &whole); err != nil {
			t.Fatal(err)
		}
		for i := range 2 { // the memos filled, then from them
			var buf bytes.Buffer
			s := NewSpans(buf.Len)
			s.ElideChunks(true)
			if err := page.Render(WithSpans(context.Background(), s), &buf); err != nil {
				t.Fatal(err)
			}
			var rebuilt []byte
			pos, elided := 0, 0
			for _, sp := range s.List() {
				if sp.Chunk == nil {
					continue
				}
				if !sp.Elided {
					t.Fatalf("%s, render %d: a chunk written although elided", name, i)
				}
				rebuilt = append(append(rebuilt, buf.Bytes()[pos:sp.At]...), sp.Chunk.HTML...)
				pos = sp.At
				elided += sp.Len
			}
			rebuilt = append(rebuilt, buf.Bytes()[pos:]...)
			if elided == 0 || buf.Len() != whole.Len()-elided {
				t.Errorf("%s, render %d: %d bytes in the buffer, %d elided, %d whole", name, i, buf.Len(), elided, whole.Len())
			}
			if !bytes.Equal(rebuilt, whole.Bytes()) {
				t.Errorf("%s, render %d: the page with its chunks put back differs from the page rendered whole", name, i)
			}
		}
	}
}
