package handlers

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/klauspost/compress/flate"
	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/handlers/hx"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/negotiate"
	"github.com/agentdesk/agentdesk/views"
)

// layout is what every full page needs for the current request.
func (h *Handler) layout(c echo.Context, title string) views.Layout {
	l := views.Layout{
		Title:      title,
		BasePath:   h.set.base,
		CSSURL:     h.svc.Assets.Path("app.css"),
		JSURL:      h.svc.Assets.Path("app.js"),
		UIURL:      h.svc.Assets.Path("ui.js"),
		HTMXURL:    h.svc.Assets.Path("htmx.min.js"),
		IconURL:    h.svc.Assets.Path("favicon.svg"),
		CSPNonce:   nonceFrom(c.Request().Context()),
		SignOutURL: h.paths().SignOut(),
		DemoBanner: h.set.demo,
	}
	if c.Get(sessionKey) != nil {
		l.CSRFToken = h.csrfToken(c)
	}
	if u := h.currentUser(c); u != nil {
		l.User = &views.User{DisplayName: u.Name, Email: u.Email, Roles: u.Roles}
		if l.User.DisplayName == "" {
			l.User.DisplayName = u.Email
		}
		l.Nav = []views.NavLink{{Label: "Jobs", URL: h.paths().Jobs(), Current: c.Path() == h.paths().Jobs()}}
		if h.grant(c).SelfServiceOnly() {
			l.Nav = append([]views.NavLink{{Label: "My backups", URL: h.paths().Home(), Current: c.Path() == h.paths().Home() || c.Path() == h.paths().Base()}}, l.Nav...)
		}
		if h.mayAudit(c) {
			l.Nav = append(l.Nav, views.NavLink{Label: "Audit", URL: h.paths().Audit(nil), Current: c.Path() == h.paths().Audit(nil)})
		}
		if h.mayViewStatus(c) {
			l.Nav = append(l.Nav, views.NavLink{Label: "Status", URL: h.paths().Status(), Current: c.Path() == h.paths().Status()})
		}
		l.EMDownSince = h.emDownSince()
	}
	return l
}

// render answers an htmx request with the fragment and any other request with
// the full page, so one URL serves both (and works without JavaScript).
func (h *Handler) render(c echo.Context, status int, full, fragment templ.Component) error {
	comp := full
	if htmxOf(c).Fragment() && fragment != nil {
		comp = fragment
	}
	return h.write(c, status, comp)
}

// renderGrace bounds how long an answer may still be rendered after the
// request's deadline has passed.
const renderGrace = 5 * time.Second

// write renders comp as the answer. Rendering does not stop at the request's
// deadline: an action whose EM call used up the deadline still answers with
// its fragment ("EM did not answer in time…"), never with an empty 200. The
// context keeps the request's values and gets a short deadline of its own.
//
// The page is rendered into a pooled buffer first and sent in one Write with
// its Content-Length: templ writes a list page in hundreds of small pieces,
// which net/http would send as ~34 write syscalls; and a component that fails
// halfway leaves nothing sent, so the error handler can still answer with a
// whole error page instead of half a page under a 200.
func (h *Handler) write(c echo.Context, status int, comp templ.Component) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), renderGrace)
	defer cancel()
	r := renderings.Get().(*rendering)
	defer r.put()
	// A gzip answer splices its chunks' compressed forms: their markup
	// need not be copied into the page.
	r.spans.ElideChunks(acceptsGzip(c))
	if err := comp.Render(views.WithSpans(ctx, r.spans), &r.buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return sendHTML(c, status, r.buf.Bytes(), r.spans.List())
}

// A rendering is a page's buffer and the spans noted in it, pooled together.
type rendering struct {
	buf   bytes.Buffer
	spans *views.Spans
}

var renderings = sync.Pool{New: func() any {
	r := new(rendering)
	r.spans = views.NewSpans(r.buf.Len)
	return r
}}

func (r *rendering) put() {
	if r.buf.Cap() > maxPooledBuffer {
		return
	}
	r.buf.Reset()
	r.spans.Reset()
	renderings.Put(r)
}

// compressMin is the smallest body worth compressing: below about a TCP
// segment the gzip header and the CPU cost more than the bytes saved.
const compressMin = 1400

// gzipLevel trades CPU for bytes. Pages are mostly repeated markup, so
// BestSpeed already shrinks a list page about tenfold at a fraction of the
// default level's cost (BenchmarkGzipLevels in warmbench_test.go).
const gzipLevel = flate.BestSpeed

var (
	buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	flates  = sync.Pool{New: func() any {
		fw, err := flate.NewWriter(io.Discard, gzipLevel)
		if err != nil {
			panic(err) // the level is a valid constant
		}
		return fw
	}}
)

// maxPooledBuffer keeps one huge page (an export, a 500-row list) from
// pinning its buffer in the pool for good.
const maxPooledBuffer = 1 << 20

func getBuffer() *bytes.Buffer {
	b := buffers.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		buffers.Put(b)
	}
}

// acceptsGzip reports whether the answer may be gzip-compressed: the client
// accepts it and nothing set another encoding.
func acceptsGzip(c echo.Context) bool {
	return c.Response().Header().Get(echo.HeaderContentEncoding) == "" &&
		negotiate.AcceptsGzip(c.Request().Header.Get(echo.HeaderAcceptEncoding))
}

// sendHTML sends a whole HTML body in one Write, gzip-compressed when the
// client accepts it and the body is large enough to gain from it. Every HTML
// answer varies with Accept-Encoding (a small one is sent as it is), so
// caches must key on it either way. Pages carry their CSRF token masked anew
// for each response (see maskCSRF), and the layout's nonce and token are
// sent in stored blocks of their own (spans without a chunk), both of which
// keep compression from leaking them (BREACH).
//
// The chunks of the body (memoised parts, views.Chunk: a job page's body,
// the layout around it) are compressed once and spliced in: they then cost
// a copy, not their compression, on every response but the first.
func sendHTML(c echo.Context, status int, body []byte, spans []views.Span) error {
	w := c.Response()
	hd := w.Header()
	hd.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	hd.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	size, elided := len(body), false
	for _, s := range spans {
		if s.Elided {
			size, elided = size+s.Len, true
		}
	}
	// A page whose chunks were left out of body can only go out gzipped:
	// write asked for that only where acceptsGzip holds.
	if elided || size >= compressMin && acceptsGzip(c) {
		zbuf := getBuffer()
		defer putBuffer(zbuf)
		gzipSpliced(zbuf, body, spans)
		hd.Set(echo.HeaderContentEncoding, "gzip")
		body = zbuf.Bytes()
	}
	hd.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(body)
	return err
}

// gzipSpliced writes body to out as one gzip member (RFC 1952) whose deflate
// stream (RFC 1951) is made of segments, each compressed on its own and ended
// by a sync flush: an empty non-final stored block, which leaves the stream
// byte-aligned, so segments can follow one another as they are. A segment
// refers back only within itself, so a chunk's segment, compressed once,
// is valid wherever it is put. A secret (CSP nonce, CSRF token) goes in a
// stored block of its own, so no compression ever mixes it with the rest
// (BREACH). The parts between spans are compressed here; an empty final
// block ends the stream, and the trailer holds the CRC-32 and length of the
// whole body, the CRC combined from the chunks' own.
func gzipSpliced(out *bytes.Buffer, body []byte, spans []views.Span) {
	out.Grow(len(body) / 4) // about what pages compress to
	out.Write(gzipHeader[:])
	fw := flates.Get().(*flate.Writer)
	pos, size := 0, len(body) // size: the page's, chunks left out of body included
	var crc uint32
	for _, s := range spans {
		deflateSegment(fw, out, body[pos:s.At])
		crc = crc32.Update(crc, crc32.IEEETable, body[pos:s.At])
		if s.Elided { // not in body: the page goes on at s.At
			pos, size = s.At, size+s.Len
		} else {
			pos = s.At + s.Len
		}
		if s.Chunk == nil {
			storeSegment(out, body[s.At:pos])
			crc = crc32.Update(crc, crc32.IEEETable, body[s.At:pos])
			continue
		}
		p := s.Chunk.Packed(packChunk)
		out.Write(p.Deflate)
		if s.Len < crcCombineMin {
			crc = crc32.Update(crc, crc32.IEEETable, s.Chunk.HTML)
		} else {
			crc = crcCombine(crc, p.CRC, p.Shift)
		}
	}
	deflateSegment(fw, out, body[pos:])
	crc = crc32.Update(crc, crc32.IEEETable, body[pos:])
	fw.Reset(io.Discard) // drop the reference to out before pooling
	flates.Put(fw)
	out.Write(finalBlock[:])
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc)
	binary.LittleEndian.PutUint32(trailer[4:], uint32(size)) // ISIZE is the length mod 2^32
	out.Write(trailer[:])
}

var (
	// gzipHeader: magic, deflate, no flags, no modification time, no
	// extra flags, OS unknown.
	gzipHeader = [10]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}
	// finalBlock is an empty stored block marked final (BFINAL=1, BTYPE=00,
	// LEN=0, NLEN=0xffff), byte-aligned like every segment before it.
	finalBlock = [5]byte{1, 0, 0, 0xff, 0xff}
)

// storeBelow is the size under which a segment is sent as it is, in a
// stored block: compressing a page's last few hundred bytes (the footer
// after a job page's body) costs a block's Huffman tables, more CPU than
// the page's other parts together, to save a few dozen bytes.
const storeBelow = 512

// deflateSegment compresses p into out as a segment of its own. Writes to a
// bytes.Buffer do not fail.
func deflateSegment(fw *flate.Writer, out *bytes.Buffer, p []byte) {
	if len(p) == 0 {
		return
	}
	if len(p) < storeBelow {
		storeSegment(out, p)
		return
	}
	fw.Reset(out)
	_, _ = fw.Write(p)
	_ = fw.Flush()
}

// storeSegment writes p into out as stored blocks, as it is.
func storeSegment(out *bytes.Buffer, p []byte) {
	for len(p) > 0 {
		n := min(len(p), 0xffff)
		// BFINAL=0, BTYPE=00, then LEN and its complement.
		hd := [5]byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)}
		out.Write(hd[:])
		out.Write(p[:n])
		p = p[n:]
	}
}

// chunkLevel compresses a chunk sent more than once (views.Chunk.Packed):
// it is compressed once and sent many times, so it gets a level that saves
// more bytes for more CPU than gzipLevel, which also makes up for what
// compressing the page in pieces loses. A chunk's first response packs it
// at gzipLevel, as the response would have compressed it inline.
const chunkLevel = 5

var chunkFlates = sync.Pool{New: func() any {
	fw, err := flate.NewWriter(io.Discard, chunkLevel)
	if err != nil {
		panic(err) // the level is a valid constant
	}
	return fw
}}

// packChunk is a chunk's segment and CRC (views.Chunk.Packed), at
// chunkLevel when thorough, else at gzipLevel. Unlike a part of a response,
// a chunk is compressed however small (the layout's stretches between its
// secrets): its CPU is spent once; but stored when compressing does not
// make it smaller.
func packChunk(p []byte, thorough bool) views.Packed {
	var out bytes.Buffer
	pool := &flates
	if thorough {
		pool = &chunkFlates
	}
	fw := pool.Get().(*flate.Writer)
	fw.Reset(&out)
	_, _ = fw.Write(p)
	_ = fw.Flush()
	fw.Reset(io.Discard)
	pool.Put(fw)
	if out.Len() >= len(p)+5 {
		out.Reset()
		storeSegment(&out, p)
	}
	return views.Packed{Deflate: out.Bytes(), CRC: crc32.ChecksumIEEE(p), Shift: crcShift(len(p))}
}

// crcCombineMin is the size from which combining a chunk's CRC costs less
// than reading its bytes again (~0.1 µs per KB with CLMUL).
const crcCombineMin = 1024

// CRC-32 combination (as zlib's crc32_combine_gen and crc32_combine_op): the
// CRC of A followed by B is crc(A)·x^(8·len(B)) + crc(B) modulo the
// polynomial, in the reflected bit order of crc32.IEEE.

// crcCombine is the CRC-32 of A followed by B, from crcA, crcB and shift =
// crcShift(len(B)).
func crcCombine(crcA, crcB, shift uint32) uint32 { return crcMulMod(shift, crcA) ^ crcB }

// crcShift is x^(8·n) modulo the polynomial.
func crcShift(n int) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n > 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			p = crcMulMod(crcX2n[k&31], p)
		}
	}
	return p
}

// crcMulMod is a·b modulo the polynomial; without branches, which the
// bits of a and b would keep the CPU from predicting.
func crcMulMod(a, b uint32) uint32 {
	var p uint32
	for i := 31; i >= 0; i-- {
		p ^= b & -(a >> i & 1)
		b = b>>1 ^ crc32.IEEE&-(b&1)
	}
	return p
}

// crcX2n[k] is x^(2^k) modulo the polynomial.
var crcX2n = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = crcMulMod(p, p)
	}
	return t
}()

func (h *Handler) renderSignIn(c echo.Context, status int, returnTo, msg string) error {
	m := views.SignIn{
		LoginURL:    h.paths().Login(""),
		ReturnTo:    returnTo,
		Unavailable: !h.svc.SignIn.Ready(),
		Message:     msg,
	}
	if h.svc.BreakGlass.Enabled() {
		m.BreakGlassURL = h.paths().BreakGlass()
	}
	if m.Unavailable && msg == "" {
		m.Message = "Sign-in is temporarily unavailable: the identity provider cannot be reached. Try again in a minute."
	}
	if htmxOf(c).Fragment() {
		// A fragment request without a session: navigate the whole page.
		hx.Response{Redirect: h.paths().SignIn("")}.Apply(c.Response().Header())
	}
	return h.write(c, status, views.SignInPage(h.layout(c, "Sign in"), m))
}

// errorHandler turns every error into a page or fragment in plain words, with
// the request id to quote; the error itself goes to the log only.
func (h *Handler) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ev := h.errorView(c.Request().Context(), err)
	switch ev.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		ev.RetryURL = h.retryURL(c) // the trouble is upstream and may pass
	}
	if ev.Status >= 500 {
		h.logFor(c).Error("request failed", "err", err, "path", c.Request().URL.Path)
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(ev.Status)
	} else if htmxOf(c).Fragment() {
		// htmx does not swap error responses by default; these headers make it
		// show the message in the notification region every page and card
		// has (views.notifications).
		hx.Response{Retarget: "#messages", Reswap: hx.SwapInnerHTML}.Apply(c.Response().Header())
		werr = h.write(c, ev.Status, views.ErrorFragment(ev))
	} else {
		werr = h.write(c, ev.Status, views.ErrorPage(h.layout(c, ev.Title), ev))
	}
	if werr != nil {
		h.logFor(c).Warn("writing error response", "err", werr)
	}
}

func (h *Handler) errorView(ctx context.Context, err error) views.ErrorView {
	ev := views.ErrorView{Status: http.StatusInternalServerError, RequestID: requestIDFrom(ctx),
		Title:   "Something went wrong",
		Message: "AgentDesk could not complete this request. Try again; if it keeps happening, give the request id to your administrator."}
	var he *echo.HTTPError
	var emErr *emclient.Error
	var sessErr *sessionStoreError
	switch {
	case errors.As(err, &sessErr):
		ev.Status, ev.Title = http.StatusServiceUnavailable, "Sign-in sessions are unavailable"
		ev.Message = "AgentDesk cannot reach the store where it keeps sign-in sessions, so it did not handle this request and nothing was sent to Enterprise Manager. Try again in a minute; if it keeps happening, give the reference id to your administrator."
		if sessErr.afterHandler && sessErr.method != http.MethodGet && sessErr.method != http.MethodHead {
			ev.Message = "AgentDesk handled this request but could not save your session afterwards, because its session store is unavailable. If you asked for an action, it may have been sent to Enterprise Manager: look at the job before trying again. If it keeps happening, give the reference id to your administrator."
		}
	case errors.Is(err, jobs.ErrLockStore):
		ev.Status, ev.Title, ev.Message = http.StatusServiceUnavailable, "The action was not sent",
			"AgentDesk could not reach the store that keeps two people from acting on the same job at once, so nothing was sent to Enterprise Manager. Try again in a minute; if it keeps happening, give the reference id to your administrator."
	case errors.Is(err, jobs.ErrInvalidID):
		ev.Status, ev.Title, ev.Message = http.StatusBadRequest, "This is not a job address",
			"The job id in the address is not valid. Open the job from the jobs list."
	case errors.Is(err, jobs.ErrNotFound), errors.Is(err, emclient.ErrNotFound):
		ev.Status, ev.Title, ev.Message = http.StatusNotFound, "This job does not exist",
			"Enterprise Manager has no agent job with this id, or you may not see it. It may have been deleted or renamed."
	case errors.Is(err, emclient.ErrCertificate):
		ev.Status, ev.Title, ev.Message = http.StatusBadGateway, "Enterprise Manager's certificate is not trusted",
			"AgentDesk could not verify the TLS certificate of Enterprise Manager (an unknown authority, a wrong name, an expired certificate or not the pinned one), so nothing was sent to it. Tell your administrator: AGENTDESK_EM_CA_FILE or AGENTDESK_EM_PIN_SHA256 must match the certificate EM presents."
	case errors.Is(err, emclient.ErrCircuitOpen):
		ev.Status, ev.Title, ev.Message = http.StatusServiceUnavailable, "Backup server unreachable",
			"Enterprise Manager has not been answering, so AgentDesk is not sending it requests for now and checks by itself when it is back. Nothing was changed; try again in a minute."
	case errors.Is(err, jobs.ErrListLoading):
		ev.Status, ev.Title, ev.Message = http.StatusServiceUnavailable, "The job list is still loading",
			"AgentDesk is reading the job list from Enterprise Manager for the first time since it started, and Enterprise Manager has not finished answering. The reading goes on without you: try again in a moment."
	case errors.Is(err, emclient.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		ev.Status, ev.Title, ev.Message = http.StatusServiceUnavailable, "Enterprise Manager is not answering",
			"The backup server could not be reached just now. Your request was not carried out; try again in a moment."
	case errors.As(err, &emErr) && !errors.Is(err, emclient.ErrForbidden) && !errors.Is(err, emclient.ErrUnauthorized):
		ev.Status, ev.Title, ev.Message = http.StatusBadGateway, "Enterprise Manager reported an error",
			"Enterprise Manager could not answer this request. Nothing was changed. Try again; if it keeps happening, tell your administrator."
	case errors.Is(err, emclient.ErrMalformed):
		ev.Status, ev.Title, ev.Message = http.StatusBadGateway, "Enterprise Manager sent an answer AgentDesk cannot read",
			"Nothing was changed. Try again; if it keeps happening, tell your administrator."
	case errors.Is(err, emclient.ErrAccountRefused):
		ev.Status, ev.Title, ev.Message = http.StatusServiceUnavailable, "Enterprise Manager refuses the service account",
			"Enterprise Manager refuses the service account AgentDesk logs on with (its password may have changed, or the account is locked or disabled), so nothing was sent to it. AgentDesk tries to log on again by itself every few minutes at most. Tell your administrator."
	case errors.Is(err, emclient.ErrForbidden), errors.Is(err, emclient.ErrUnauthorized):
		ev.Status, ev.Title, ev.Message = http.StatusBadGateway, "Enterprise Manager refused AgentDesk",
			"The portal's service account was refused by Enterprise Manager. Tell your administrator."
	case errors.Is(err, jobs.ErrAudit):
		ev.Status, ev.Title, ev.Message = http.StatusServiceUnavailable, "The action was not sent",
			"AgentDesk could not write its audit record, so it did not ask Enterprise Manager to do anything: nothing was sent to it. Try again in a minute; if it keeps happening, give the reference id to your administrator."
	case errors.As(err, &he):
		ev.Status = he.Code
		switch he.Code {
		case http.StatusNotFound:
			ev.Title, ev.Message = "Page not found", "There is nothing at this address."
		case http.StatusForbidden:
			ev.Title, ev.Message = "Not allowed", "You may not do this. If you need to, ask your administrator for the right group."
			if m, ok := he.Message.(string); ok && m == errCSRF.Error() {
				ev.Message = "This request did not come from an AgentDesk page, so it was refused. Reload the page and try again."
			}
		case http.StatusUnauthorized:
			ev.Title, ev.Message = "Signed out", "Your session has ended. Sign in again."
		case http.StatusRequestEntityTooLarge:
			ev.Title, ev.Message = "Too much data", "The request was larger than any AgentDesk form sends, so it was refused."
		case http.StatusMethodNotAllowed:
			ev.Title, ev.Message = "Not possible here", "This address does not accept this kind of request."
		case http.StatusBadRequest:
			ev.Title, ev.Message = "Bad request", "The request was not understood."
			if m, ok := he.Message.(string); ok && m != "" {
				ev.Message = m
			}
		case http.StatusConflict:
			ev.Title = "Not possible now"
			if m, ok := he.Message.(string); ok {
				ev.Message = m
			}
		default:
			if ev.Status < 500 {
				ev.Title, ev.Message = http.StatusText(ev.Status), "The request could not be completed."
			}
		}
	}
	if errors.As(err, &emErr) {
		// EM's own words, for the person and the helpdesk (the view escapes them).
		ev.EMMessage = emErr.Message
		if emErr.Detail != "" && emErr.Detail != emErr.Message {
			ev.EMMessage += " (" + emErr.Detail + ")"
		}
	}
	return ev
}
