package views

import (
	"bytes"
	"context"
	"testing"

	"github.com/a-h/templ"
)

// TestChunkSpans: a page rendered with its spans collected notes its
// memoised chunks exactly where they lie in the page, from the memo (second
// render) as on the render that filled it (first): a job page its body, a
// list page the run of its rows (one row alone is too small to be
// compressed apart). The page's per-request frame (nonce, CSRF token) is
// outside every chunk, and collecting the spans changes no byte of the page.
func TestChunkSpans(t *testing.T) {
	l := sampleLayout()
	l.CSPNonce, l.CSRFToken = "n0nc3-per-request", "t0ken-per-request"
	pages := []struct {
		name string
		page templ.Component
	}{
		{"job page", JobPage(l, fullDetail())},
		{"list page", JobListPage(l, sampleList(50))},
		{"job table", JobTable(sampleList(50))},
	}
	for _, p := range pages {
		for i := range 2 {
			var buf bytes.Buffer
			s := NewSpans(buf.Len)
			if err := p.page.Render(WithSpans(context.Background(), s), &buf); err != nil {
				t.Fatal(err)
			}
			spans := s.List()
			if len(spans) != 1 {
				t.Fatalf("%s, render %d: %d chunks, want 1", p.name, i, len(spans))
			}
			sp, page := spans[0], buf.Bytes()
			if end := sp.At + len(sp.Chunk.HTML); end > len(page) || !bytes.Equal(page[sp.At:end], sp.Chunk.HTML) {
				t.Fatalf("%s, render %d: the chunk is not where its span says (at %d of %d bytes)", p.name, i, sp.At, len(page))
			}
			for _, per := range []string{l.CSPNonce, l.CSRFToken} {
				if bytes.Contains(sp.Chunk.HTML, []byte(per)) {
					t.Errorf("%s, render %d: the chunk holds the per-request %q", p.name, i, per)
				}
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
