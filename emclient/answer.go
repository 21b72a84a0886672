package emclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/agentdesk/agentdesk/emclient/internal/xmltok"
)

// How much of EM's answers the client holds in memory.
//
// Answers are decoded while they are read, never buffered whole first, and
// every byte read counts against two limits: the answer's own (maxEntityBody,
// or maxBodySize for lists), checked on every read, and a budget shared by all
// answers being read at once. The decoder may keep what it has read (a long
// text or comment), so without the shared budget 64 connections could each
// hold an answer's limit; with it the total is bounded whatever EM, or a proxy
// in front of it, sends.
const (
	defaultInFlightBytes = 48 << 20
	// budgetChunk is how much of the budget an answer takes at a time.
	budgetChunk = 64 << 10
	// maxErrorBody bounds what is read of a non-2xx answer for its message.
	maxErrorBody = 64 << 10
)

// errTooLarge: an answer went past its limit or past the shared budget.
var errTooLarge = errors.New("answer too large")

// budget is the shared allowance of answer bytes in flight.
type budget struct {
	size int64
	sem  *semaphore.Weighted
}

func newBudget(size int64) *budget {
	if size <= 0 {
		size = defaultInFlightBytes
	}
	size = max(size, 2*budgetChunk)
	return &budget{size: size, sem: semaphore.NewWeighted(size)}
}

// answer reads one EM answer within its limit and the shared budget. Its
// first chunk of budget is waited for (until ctx ends); every further chunk
// must be free at once, otherwise the answer fails: answers that hold budget
// never wait for each other, so they cannot deadlock, and a flood of large
// answers fails instead of piling up.
type answer struct {
	ctx   context.Context
	r     io.Reader
	b     *budget
	limit int64

	n        int64 // bytes read
	held     int64 // budget taken
	tooLarge error // set when a limit was passed
	readErr  error // a failure of the connection, not of EM's document
	once     sync.Once
}

func (b *budget) answer(ctx context.Context, r io.Reader, limit int64) *answer {
	return &answer{ctx: ctx, r: r, b: b, limit: limit}
}

func (a *answer) Read(p []byte) (int, error) {
	if a.tooLarge != nil {
		return 0, a.tooLarge
	}
	// Never read past the limit: one byte more proves the answer too large.
	if rest := a.limit + 1 - a.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	if need := a.n + int64(len(p)) - a.held; need > 0 {
		if err := a.take(need); err != nil {
			return 0, err
		}
	}
	n, err := a.r.Read(p)
	a.n += int64(n)
	if a.n > a.limit {
		a.tooLarge = fmt.Errorf("larger than %d bytes: %w", a.limit, errTooLarge)
		return n, a.tooLarge
	}
	if err != nil && err != io.EOF {
		a.readErr = err
	}
	return n, err
}

func (a *answer) take(need int64) error {
	chunk := (need + budgetChunk - 1) / budgetChunk * budgetChunk
	chunk = min(chunk, a.b.size)
	if a.held == 0 {
		if err := a.b.sem.Acquire(a.ctx, chunk); err != nil {
			a.readErr = err
			return err
		}
	} else if !a.b.sem.TryAcquire(chunk) {
		a.tooLarge = fmt.Errorf("EM answers being read at once exceed %d bytes: %w", a.b.size, errTooLarge)
		return a.tooLarge
	}
	a.held += chunk
	return nil
}

// release gives the budget back; the answer must not be read afterwards.
func (a *answer) release() {
	a.once.Do(func() {
		if a.held > 0 {
			a.b.sem.Release(a.held)
		}
	})
}

// readAnswer decodes a 2xx answer into out (nil: read and drop it) or, for
// any other status, reads EM's Error message. It returns an error wrapping
// ErrMalformed for an answer that is too large or not the expected XML, and
// errors of the connection unchanged (the caller classifies those).
func (c *Client) readAnswer(ctx context.Context, method, route string, resp *http.Response, limit int64, out any) error {
	limit = min(limit, c.maxBody)
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if !ok {
		limit = min(limit, maxErrorBody)
	}
	if ok && resp.ContentLength > limit {
		// Announced too large: nothing is read.
		return fmt.Errorf("emclient: %s %s: answer of %d bytes, larger than %d: %w", method, route, resp.ContentLength, limit, ErrMalformed)
	}
	a := c.budget.answer(ctx, resp.Body, limit)
	defer a.release()
	if !ok {
		b, _ := io.ReadAll(a)
		if a.readErr != nil {
			return a.readErr
		}
		if a.tooLarge != nil {
			b = nil // an error page, not EM's Error document: keep the status text
		}
		return apiError(method, route, resp.StatusCode, b)
	}
	var err error
	if td, ok := out.(tokenDecoder); ok {
		err = decodeTokens(a, td)
	} else if out == nil {
		_, err = io.Copy(io.Discard, a)
	} else {
		err = decodeReader(a, out)
	}
	switch {
	case a.tooLarge != nil:
		return fmt.Errorf("emclient: %s %s: answer %w: %w", method, route, a.tooLarge, ErrMalformed)
	case a.readErr != nil:
		return a.readErr
	case err != nil:
		return fmt.Errorf("emclient: %s %s: %w: %w", method, route, ErrMalformed, err)
	}
	return nil
}

// decode unmarshals one EM XML document held in memory.
func decode(body []byte, v any) error {
	return decodeReader(bytes.NewReader(body), v)
}

// decodeReader unmarshals one EM XML document as it is read. Unknown elements
// and attributes are ignored by encoding/xml; a wrong root element is an
// error. Nothing after the root element is read.
func decodeReader(r io.Reader, v any) error {
	return newDecoder(r).Decode(v)
}

// tokenizers keeps the tokenizers of finished answers, with their buffers.
var tokenizers = sync.Pool{New: func() any { return xmltok.NewDecoder(nil) }}

// decodeTokens hands td a tokenizer reading r. Nothing td reads outlives
// the call (td copies what it keeps), so the tokenizer goes back to the pool
// afterwards, unless a long token grew its buffer.
func decodeTokens(r io.Reader, td tokenDecoder) error {
	d := tokenizers.Get().(*xmltok.Decoder)
	d.Reset(r)
	err := td.decodeTokens(d)
	d.Reset(nil)
	if d.BufferCap() <= xmltok.BufferSize {
		tokenizers.Put(d)
	}
	return err
}

// newDecoder is encoding/xml's decoder for the EM answers read into the
// tagged types. The token walks (rows, the job entity) read through xmltok
// instead (decodeTokens), which accepts the same documents.
func newDecoder(r io.Reader) *xml.Decoder {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(3); bytes.Equal(head, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3) // a UTF-8 byte order mark
	}
	d := xml.NewDecoder(br)
	d.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		// EM writes UTF-8; some servers spell it oddly ("utf8").
		if strings.EqualFold(strings.ReplaceAll(charset, "-", ""), "utf8") {
			return input, nil
		}
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	return d
}
