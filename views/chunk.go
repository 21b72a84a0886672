package views

import (
	"context"
	"io"
	"sync"
)

// A Chunk is a memoised part of a page large enough to be worth compressing
// once rather than on every response (a job page's body): its markup and,
// made the first time a response asks for it, its compressed form, which the
// response splices between the parts it compresses itself (see
// handlers.sendHTML). Nothing in a chunk depends on the request, so
// compressing it apart from the page's per-request parts (CSP nonce, masked
// CSRF token) also keeps those out of its compression context.
type Chunk struct {
	HTML []byte // never written to

	once   sync.Once
	packed []byte
}

// Packed is the chunk's markup as pack compresses it; pack runs once per
// chunk, so every caller must pass the same function.
func (c *Chunk) Packed(pack func([]byte) []byte) []byte {
	c.once.Do(func() { c.packed = pack(c.HTML) })
	return c.packed
}

// chunkMin is the smallest memoised markup kept as a Chunk: compressed on its
// own, a smaller part (a list row) loses more bytes (no earlier rows to refer
// back to) than its compression costs.
const chunkMin = 4096

// A Span is where a chunk lies in a rendered page: HTML[At:At+len(Chunk.HTML)].
type Span struct {
	At    int
	Chunk *Chunk
}

// Spans collects the chunks of one page as it is rendered into a buffer.
type Spans struct {
	size func() int // the length of what was rendered so far
	list []Span
}

// NewSpans collects the chunks of a page rendered into a buffer whose length
// size reports.
func NewSpans(size func() int) *Spans { return &Spans{size: size} }

// List is the page's chunks in order.
func (s *Spans) List() []Span { return s.list }

type spansKey struct{}

// WithSpans has the memoised components rendered under ctx note their chunks
// in s.
func WithSpans(ctx context.Context, s *Spans) context.Context {
	return context.WithValue(ctx, spansKey{}, s)
}

// writeChunk writes c to w, noting where it lies when the page's spans are
// collected.
func writeChunk(ctx context.Context, w io.Writer, c *Chunk) error {
	s, _ := ctx.Value(spansKey{}).(*Spans)
	if s == nil {
		_, err := w.Write(c.HTML)
		return err
	}
	// templ buffers its output: what came before must have reached the
	// page's buffer for its length to be where the chunk starts.
	if f, ok := w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return err
		}
	}
	at := s.size()
	if _, err := w.Write(c.HTML); err != nil {
		return err
	}
	s.list = append(s.list, Span{At: at, Chunk: c})
	return nil
}
