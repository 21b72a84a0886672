package views

import (
	"bytes"
	"context"
	"testing"
)

// TestChunkSpans: a job page rendered with its spans collected notes its
// memoised body as a chunk exactly where the body lies in the page, from
// the memo (second render) as on the render that filled it (first); the
// page's per-request frame (nonce, CSRF token) is outside every chunk; a
// list's rows, each too small to be compressed alone, are no chunks.
func TestChunkSpans(t *testing.T) {
	l := sampleLayout()
	l.CSPNonce, l.CSRFToken = "n0nc3-per-request", "t0ken-per-request"
	for i := range 2 {
		var buf bytes.Buffer
		s := NewSpans(buf.Len)
		if err := JobPage(l, fullDetail()).Render(WithSpans(context.Background(), s), &buf); err != nil {
			t.Fatal(err)
		}
		spans := s.List()
		if len(spans) != 1 {
			t.Fatalf("render %d: %d chunks in a job page, want its body", i, len(spans))
		}
		sp, page := spans[0], buf.Bytes()
		if end := sp.At + len(sp.Chunk.HTML); end > len(page) || !bytes.Equal(page[sp.At:end], sp.Chunk.HTML) {
			t.Fatalf("render %d: the chunk is not where its span says (at %d of %d bytes)", i, sp.At, len(page))
		}
		for _, per := range []string{l.CSPNonce, l.CSRFToken} {
			if bytes.Contains(sp.Chunk.HTML, []byte(per)) {
				t.Errorf("render %d: the chunk holds the per-request %q", i, per)
			}
		}
		var fresh bytes.Buffer
		if err := JobPage(l, fullDetail()).Render(context.Background(), &fresh); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh.Bytes(), page) {
			t.Errorf("render %d: collecting spans changed the page", i)
		}
	}

	var buf bytes.Buffer
	s := NewSpans(buf.Len)
	if err := JobListPage(sampleLayout(), sampleList(50)).Render(WithSpans(context.Background(), s), &buf); err != nil {
		t.Fatal(err)
	}
	if n := len(s.List()); n != 0 {
		t.Errorf("a list page has %d chunks, want none (rows are compressed with the page)", n)
	}
}
