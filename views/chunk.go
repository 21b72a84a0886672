package views

import (
	"context"
	"io"
	"sync/atomic"
)

// A Chunk is a memoised part of a page that is compressed once rather than
// on every response (a job page's body, the static stretches of the layout):
// its markup and, made the first time a response asks for it, its
// compressed form, which the response splices between the parts it
// compresses itself (see handlers.sendHTML). Nothing in a chunk depends on
// the request, so compressing it apart from the page's per-request parts
// (CSP nonce, masked CSRF token) also keeps those out of its compression
// context.
type Chunk struct {
	HTML []byte // never written to

	uses    atomic.Int32 // responses that asked for it, counted until settled
	settled atomic.Bool  // packed holds the thorough form
	packed  atomic.Pointer[Packed]
}

// Packed is a chunk as a gzip response splices it in.
type Packed struct {
	Deflate []byte // a deflate segment ending byte-aligned (a sync flush or a stored block)
	CRC     uint32 // the CRC-32 (IEEE) of the chunk's markup
	// Shift is x^(8·len(HTML)) modulo the CRC-32 polynomial: the factor that
	// combines the CRC of what comes before the chunk with CRC, so that a
	// response need not read the chunk's markup again for its checksum.
	Shift uint32
}

// Packed is the chunk as pack packs it. The first response packs it
// quickly (thorough false): a chunk sent once (the body of a job page read
// from EM for this request, a cold page) is not worth more CPU than the
// response would have spent compressing it inline. The second packs it
// thoroughly, once, and every later response sends that form: a chunk sent
// again is likely sent many times (the layout, a warm page's body, a list's
// rows), so fewer bytes are worth its one-off cost. Every caller must pass
// the same function.
func (c *Chunk) Packed(pack func(html []byte, thorough bool) Packed) *Packed {
	if c.settled.Load() {
		return c.packed.Load()
	}
	switch n := c.uses.Add(1); {
	case n == 2:
		p := pack(c.HTML, true)
		c.packed.Store(&p)
		c.settled.Store(true)
		return &p
	case n > 2:
		// The thorough form is being made: the quick one, if made yet.
		if p := c.packed.Load(); p != nil {
			return p
		}
	}
	p := pack(c.HTML, false)
	c.packed.CompareAndSwap(nil, &p)
	return &p
}

// chunkMin is the smallest memoised markup without holes kept as a Chunk:
// compressed on its own, a smaller part (a list row) loses more bytes (no
// earlier rows to refer back to) than its compression costs. The stretches
// of a markup with holes are Chunks whatever their size (see memo.cut).
const chunkMin = 4096

// A Span is a part of a rendered page that a gzip response treats apart
// from the rest: a Chunk, at HTML[At:At+len(Chunk.HTML)], spliced in
// precompressed; or, when Chunk is nil, a per-request secret (CSP nonce,
// CSRF token) at HTML[At:At+Len], which must never be compressed together
// with anything else (BREACH) and is sent in a stored block.
type Span struct {
	At, Len int
	Chunk   *Chunk
	// Elided: the chunk's markup was left out of the page's buffer (Spans
	// collected with ElideChunks), so the span takes no room there: the
	// page's bytes after it start at At.
	Elided bool
}

// Spans collects the chunks and secrets of one page as it is rendered into
// a buffer.
type Spans struct {
	size  func() int // the length of what was rendered so far
	list  []Span
	elide bool
}

// NewSpans collects the spans of a page rendered into a buffer whose length
// size reports.
func NewSpans(size func() int) *Spans { return &Spans{size: size, list: make([]Span, 0, 16)} }

// ElideChunks has the page's chunks noted but not written: for a response
// that splices their compressed form (gzip), copying their markup into the
// page (a list's 60 KB of rows) is work nobody reads.
func (s *Spans) ElideChunks(on bool) { s.elide = on }

// List is the page's spans in order.
func (s *Spans) List() []Span { return s.list }

// Reset empties s for another page rendered into the same buffer.
func (s *Spans) Reset() {
	clear(s.list) // keep no chunk alive
	s.list = s.list[:0]
	s.elide = false
}

type spansKey struct{}

// WithSpans has the memoised components rendered under ctx note their spans
// in s.
func WithSpans(ctx context.Context, s *Spans) context.Context {
	return context.WithValue(ctx, spansKey{}, s)
}

// writeChunk writes c to w, noting where it lies when the page's spans are
// collected.
func writeChunk(ctx context.Context, w io.Writer, c *Chunk) error {
	s, at, err := spanStart(ctx, w)
	if err != nil {
		return err
	}
	if s != nil && s.elide {
		s.list = append(s.list, Span{At: at, Len: len(c.HTML), Chunk: c, Elided: true})
		return nil
	}
	if _, err := w.Write(c.HTML); err != nil {
		return err
	}
	if s != nil {
		s.list = append(s.list, Span{At: at, Len: len(c.HTML), Chunk: c})
	}
	return nil
}

// writeSecret writes a per-request value's markup to w, noting where it lies
// when the page's spans are collected.
func writeSecret(ctx context.Context, w io.Writer, html string) error {
	if html == "" {
		return nil
	}
	s, at, err := spanStart(ctx, w)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, html); err != nil {
		return err
	}
	if s != nil {
		s.list = append(s.list, Span{At: at, Len: len(html)})
	}
	return nil
}

// spanStart is where a span written next to w starts in the page, and the
// page's spans; none when they are not collected.
func spanStart(ctx context.Context, w io.Writer) (*Spans, int, error) {
	s, _ := ctx.Value(spansKey{}).(*Spans)
	if s == nil {
		return nil, 0, nil
	}
	// templ buffers its output: what came before must have reached the
	// page's buffer for its length to be where the span starts.
	if f, ok := w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return nil, 0, err
		}
	}
	return s, s.size(), nil
}
