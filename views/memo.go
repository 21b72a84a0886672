package views

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/a-h/templ"
)

// A memo remembers the markup of a pure component for each key (a job, a
// list URL): the model it was rendered from and the bytes it gave. A list row
// or a job page's body is the same from one warm request to the next, so
// rendering it again is copying those bytes. The markup is reused only when
// the model is equal to the one remembered, field by field (no hash that
// could collide), so an out-of-date entry is never sent: it is replaced.
//
// Only components that read nothing but their model may be memoised: no
// context value (CSP nonce, CSRF token, user), no clock. Such parts of a page
// are rendered for each request around the memoised ones.
//
// A component may have holes. One is a part the caller renders on each call
// (the list's rows, themselves memoised one by one; a page's content in the
// layout). The others are per-request values of the model (the layout's CSP
// nonce and CSRF token, see frame.go): the memo renders the component with
// a placeholder in their stead and writes the real value's markup, made
// anew, where each placeholder was.
type memo[M any] struct {
	limit  int                                             // entries kept; 0 turns the memo off
	equal  func(a, b M) bool                               // exact: every field the component reads but the secrets
	clone  func(M) M                                       // a copy sharing nothing the caller may change
	render func(m M, hole templ.Component) templ.Component // the component itself

	// mark, when set, is m with its secrets replaced by placeholders
	// whose markup is secrets[i].mark; secrets[i].markup is a real
	// value's markup.
	mark    func(M) M
	secrets []secret[M]

	// same, when set, reports that m is the very model (not a copy) last
	// found equal to an entry's: a caller's slice that is never changed
	// once rendered (a list page's rows, served again by the handler while
	// they fit) is then not compared again, row by row, on every request.
	// The entry holds that model, so its memory cannot be reused for
	// another while it is remembered.
	same func(seen, m M) bool

	mu      sync.Mutex
	entries map[string]memoEntry[M]
}

// A secret is a per-request value of a memoised component's model.
type secret[M any] struct {
	mark   string                                         // the placeholder's markup, unique in the component's
	markup func(ctx context.Context, m M) (string, error) // the markup of m's value, exactly as the component writes it
}

type memoEntry[M any] struct {
	model M
	segs  []segment // the markup: stretches, each followed by a hole or by nothing (the last)
	seen  *M        // the caller's model last found equal to model (see memo.same)
}

// A segment is a stretch of a memoised markup and the hole after it.
type segment struct {
	html   []byte // never written to once stored
	chunk  *Chunk // html as a Chunk, when worth compressing once
	next   hole
	secret int // which secret, when next is holeSecret
}

type hole uint8

const (
	holeNone   hole = iota // the end of the markup
	holeCaller             // the component's hole, rendered by the caller
	holeSecret             // a per-request value
)

// memoLimit bounds the memos of rows and pages: a list row is ~2.4 KB, so
// the rows memo holds up to ~5 MB, the first 40 pages of 50 rows.
const memoLimit = 2048

func newMemo[M any](limit int, equal func(a, b M) bool, clone func(M) M, render func(M, templ.Component) templ.Component) *memo[M] {
	return &memo[M]{limit: limit, equal: equal, clone: clone, render: render, entries: make(map[string]memoEntry[M])}
}

// off is a copy of c turned off: it renders the component anew each time.
func (c *memo[M]) off() *memo[M] {
	o := newMemo(0, c.equal, c.clone, c.render)
	o.mark, o.secrets = c.mark, c.secrets
	return o
}

// component renders m, with hole (nil: none) in its place, from the memo when
// it holds m's markup under key.
func (c *memo[M]) component(key string, m M, hole templ.Component) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return c.write(ctx, w, key, m, hole)
	})
}

// write is component's Render.
func (c *memo[M]) write(ctx context.Context, w io.Writer, key string, m M, hole templ.Component) error {
	if c.limit == 0 {
		return c.render(m, hole).Render(ctx, w)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	switch {
	case ok && c.same != nil && e.seen != nil && c.same(*e.seen, m):
	case ok && c.equal(e.model, m):
		if c.same != nil {
			c.mu.Lock()
			if cur, ok := c.entries[key]; ok && sameSegs(cur.segs, e.segs) {
				seen := m // not &m: m would then be moved to the heap on every call
				cur.seen = &seen
				c.entries[key] = cur
			}
			c.mu.Unlock()
		}
	default:
		var err error
		if e, err = c.fill(ctx, key, m, hole != nil); err != nil {
			return err
		}
	}
	for i := range e.segs {
		s := &e.segs[i]
		var err error
		if s.chunk != nil {
			err = writeChunk(ctx, w, s.chunk)
		} else if len(s.html) > 0 {
			_, err = w.Write(s.html)
		}
		if err != nil {
			return err
		}
		switch s.next {
		case holeCaller:
			err = hole.Render(ctx, w)
		case holeSecret:
			var v string
			if v, err = c.secrets[s.secret].markup(ctx, m); err == nil {
				err = writeSecret(ctx, w, v)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fill renders m with an empty hole and placeholders for its secrets, cuts
// the markup where they are, and keeps it.
func (c *memo[M]) fill(ctx context.Context, key string, m M, withHole bool) (memoEntry[M], error) {
	var buf bytes.Buffer
	at := -1 // where the caller's hole is
	var marker templ.Component
	if withHole {
		marker = templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
			if at >= 0 {
				return errHoleTwice
			}
			// templ buffers its output: what came before the hole must
			// have reached buf for buf.Len() to be the hole's offset.
			if f, ok := w.(interface{ Flush() error }); ok {
				if err := f.Flush(); err != nil {
					return err
				}
			}
			at = buf.Len()
			return nil
		})
	}
	rm := m
	if c.mark != nil {
		rm = c.mark(m)
	}
	// What is rendered here goes to buf, not to the page: a chunk inside
	// it (a memo within a memo) is part of this markup, not a span of the
	// page.
	if err := c.render(rm, marker).Render(WithSpans(ctx, nil), &buf); err != nil {
		return memoEntry[M]{}, err
	}
	e := memoEntry[M]{model: c.clone(m), segs: c.cut(buf.Bytes(), at)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.limit {
		for k := range c.entries { // any one: a map's order is unspecified
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = e
	return e, nil
}

// cut cuts html into segments at the caller's hole (at, -1 for none) and at
// the secrets' placeholders. A markup without holes is a Chunk when at least
// chunkMin long. The stretches of one with holes are all Chunks: what lies
// between them is a secret, sent stored, or the caller's part, itself mostly
// Chunks (rows, a job's body), so a stretch left to each response would be
// compressed on its own all the same, and one under storeBelow bytes costs
// a copy either way.
func (c *memo[M]) cut(html []byte, at int) []segment {
	var segs []segment
	pos := 0
	for {
		next, end, secret := holeNone, len(html), 0
		if at >= pos {
			next, end = holeCaller, at
		}
		// The earliest placeholder before that (the whole JSON of the
		// CSRF header before the token inside it), the longest of two
		// starting at the same place.
		best, bestAt := -1, end
		for i, s := range c.secrets {
			j := bytes.Index(html[pos:end], []byte(s.mark))
			if j < 0 {
				continue
			}
			if j += pos; j < bestAt || (j == bestAt && len(s.mark) > len(c.secrets[best].mark)) {
				best, bestAt = i, j
			}
		}
		if best >= 0 {
			next, end, secret = holeSecret, bestAt, best
		}
		segs = append(segs, segment{html: html[pos:end], next: next, secret: secret})
		switch next {
		case holeNone:
			holes := len(segs) > 1
			for i := range segs {
				if n := len(segs[i].html); n > 0 && (holes || n >= chunkMin) {
					segs[i].chunk = &Chunk{HTML: segs[i].html}
				}
			}
			return segs
		case holeCaller:
			pos, at = end, -1
		case holeSecret:
			pos = end + len(c.secrets[secret].mark)
		}
	}
}

// sameSegs reports whether two entries' markups are the same one (an entry
// not replaced meanwhile).
func sameSegs(a, b []segment) bool { return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) }

var errHoleTwice = errors.New("views: a memoised component renders its hole twice")

// The memoised components. Tests replace them with memos turned off
// (limit 0) to compare their output with the components rendered anew.
var (
	rowMemo      = newMemo(memoLimit, JobRow.equal, JobRow.clone, func(r JobRow, _ templ.Component) templ.Component { return jobRow(r) })
	rowsMemo     = sameSlice(newMemo(listMemoLimit, rowsEqual, rowsClone, func(rows []JobRow, _ templ.Component) templ.Component { return eachRow(rows) }))
	pageMemo     = &memo[JobDetail]{limit: memoLimit / 8, equal: JobDetail.equal, clone: JobDetail.clone, render: func(m JobDetail, _ templ.Component) templ.Component { return jobBody(m) }, mark: JobDetail.markToken, secrets: []secret[JobDetail]{confirmToken}, entries: make(map[string]memoEntry[JobDetail])}
	listMemo     = newMemo(listMemoLimit, JobList.equal, JobList.clone, listBody)
	jobTableMemo = newMemo(listMemoLimit, JobList.equal, JobList.clone, jobTable)
)

// listMemoLimit bounds the list memos: one entry per list URL (filters,
// sort, page) recently asked for.
const listMemoLimit = 64

// JobRowView is one row of the jobs table (<tr id="job-row-<id>">); a handler
// answering ActionState.RowURL renders it alone. It is the list's most
// repeated markup and a pure function of the row, hence memoised.
func JobRowView(r JobRow) templ.Component { return rowMemo.component(r.ID, r, nil) }

// jobPageBody is the job page's content, memoised.
func jobPageBody(m JobDetail) templ.Component { return pageMemo.component(m.ID, m, nil) }

// listPageBody is the list page's content, memoised around its rows.
func listPageBody(m JobList) templ.Component {
	key := m.URL(m.Filter)
	return listMemo.component(key, m, rowsMemo.component(key, m.Rows, nil))
}

// JobTable is the #job-table region: what htmx requests from the search
// form, the sort headers and the pager swap in (outerHTML). It is memoised
// around its rows.
func JobTable(m JobList) templ.Component {
	key := m.URL(m.Filter)
	return jobTableMemo.component(key, m, rowsMemo.component(key, m.Rows, nil))
}

// eachRow renders rows one after the other, as JobRowView does each. The
// rows of a list URL are memoised together too (rowsMemo): a page of them is
// large enough to be a Chunk, compressed once while the rows stay the same.
func eachRow(rows []JobRow) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		for i := range rows {
			if err := rowMemo.write(ctx, w, rows[i].ID, rows[i], nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func rowsEqual(a, b []JobRow) bool { return slices.EqualFunc(a, b, JobRow.equal) }

func rowsClone(rows []JobRow) []JobRow {
	out := make([]JobRow, len(rows))
	for i := range rows {
		out[i] = rows[i].clone()
	}
	return out
}

// equal reports whether two rows render alike: every field is compared
// (TestMemoEqualSeesEveryField changes each in turn). Times compare with ==,
// location included, since the row prints them in their own zone.
func (r JobRow) equal(o JobRow) bool {
	return r.ID == o.ID && r.Name == o.Name && r.URL == o.URL && r.Platform == o.Platform &&
		r.Server == o.Server && r.Kind == o.Kind &&
		r.ScheduleConfigured == o.ScheduleConfigured && r.ScheduleEnabled == o.ScheduleEnabled &&
		r.LastResult == o.LastResult && r.LastRunAt == o.LastRunAt && r.NextRun == o.NextRun &&
		r.Running == o.Running && r.Progress == o.Progress && slices.Equal(r.Actions, o.Actions) &&
		r.RowURL == o.RowURL && r.Poll == o.Poll && r.Live == o.Live
}

func (r JobRow) clone() JobRow {
	r.Actions = slices.Clone(r.Actions)
	return r
}

// equal reports whether two job pages' bodies render alike: every field, deep
// (TestMemoEqualSeesEveryField changes each leaf in turn).
func (m JobDetail) equal(o JobDetail) bool {
	return m.ID == o.ID && m.UID == o.UID && m.Name == o.Name && m.JobType == o.JobType &&
		m.Platform == o.Platform && m.Kind == o.Kind && m.Description == o.Description &&
		m.URL == o.URL && m.CardURL == o.CardURL && m.Poll == o.Poll && m.JobsURL == o.JobsURL &&
		m.ScheduleConfigured == o.ScheduleConfigured && m.ScheduleEnabled == o.ScheduleEnabled &&
		m.NextRun == o.NextRun && slices.Equal(m.Schedule, o.Schedule) && slices.Equal(m.ScheduleRaw, o.ScheduleRaw) &&
		slices.EqualFunc(m.Includes, o.Includes, Include.equal) &&
		slices.Equal(m.JobGuest, o.JobGuest) && slices.Equal(m.Retention, o.Retention) && m.Server == o.Server &&
		slices.EqualFunc(m.Sessions, o.Sessions, SessionRow.equal) &&
		m.SessionsPage == o.SessionsPage && m.SessionsPages == o.SessionsPages &&
		m.Running == o.Running && m.Progress == o.Progress && m.LastResult == o.LastResult && m.LastRunAt == o.LastRunAt &&
		slices.Equal(m.Actions, o.Actions) && slices.Equal(m.Why, o.Why) &&
		equalPtr(m.Status, o.Status, func(a, b ActionState) bool { return a == b }) &&
		equalPtr(m.Confirm, o.Confirm, Confirm.equal) &&
		m.LinkNote == o.LinkNote && equalPtr(m.Hold, o.Hold, HoldBanner.equal) &&
		m.AsOf == o.AsOf && slices.Equal(m.Links, o.Links) &&
		m.HistoryURL == o.HistoryURL && m.HistoryLoadURL == o.HistoryLoadURL
}

func (m JobDetail) clone() JobDetail {
	m.Schedule = slices.Clone(m.Schedule)
	m.ScheduleRaw = slices.Clone(m.ScheduleRaw)
	m.Includes = cloneEach(m.Includes, Include.clone)
	m.JobGuest = slices.Clone(m.JobGuest)
	m.Retention = slices.Clone(m.Retention)
	m.Sessions = cloneEach(m.Sessions, SessionRow.clone)
	m.Actions = slices.Clone(m.Actions)
	m.Why = slices.Clone(m.Why)
	m.Status = clonePtr(m.Status, func(s ActionState) ActionState { return s })
	m.Confirm = clonePtr(m.Confirm, Confirm.clone)
	m.Hold = clonePtr(m.Hold, HoldBanner.clone)
	m.Links = slices.Clone(m.Links)
	return m
}

func (in Include) equal(o Include) bool {
	return in.Name == o.Name && in.DisplayName == o.DisplayName && in.Kind == o.Kind && slices.Equal(in.Guest, o.Guest)
}

func (in Include) clone() Include {
	in.Guest = slices.Clone(in.Guest)
	return in
}

func (s SessionRow) equal(o SessionRow) bool {
	return s.ID == o.ID && s.Name == o.Name && s.State == o.State && s.Result == o.Result &&
		s.Start == o.Start && s.End == o.End && s.Duration == o.Duration && s.Progress == o.Progress &&
		s.IsRetry == o.IsRetry && s.Computer == o.Computer && s.Reason == o.Reason &&
		slices.EqualFunc(s.Children, o.Children, SessionRow.equal) && s.ChildrenURL == o.ChildrenURL
}

func (s SessionRow) clone() SessionRow {
	s.Children = cloneEach(s.Children, SessionRow.clone)
	return s
}

// equal leaves out the CSRF token, masked anew for each response: it is a
// secret of the job page's memo (confirmToken), written per response, so
// that a deep link's confirmation does not make the page's body new, and
// compressed anew with it, every time.
func (c Confirm) equal(o Confirm) bool {
	return c.JobID == o.JobID && c.JobName == o.JobName && c.Action == o.Action && c.Desired == o.Desired &&
		c.CancelURL == o.CancelURL && slices.Equal(c.Durations, o.Durations) && c.Already == o.Already
}

// clone keeps no response's token.
func (c Confirm) clone() Confirm {
	c.Durations = slices.Clone(c.Durations)
	c.CSRFToken = ""
	return c
}

// markToken is m with the token placeholder for its confirmation's token.
func (m JobDetail) markToken() JobDetail {
	if m.Confirm != nil {
		c := *m.Confirm
		c.CSRFToken = tokenMark
		m.Confirm = &c
	}
	return m
}

// confirmToken is the job page's confirmation form's token (its "csrf"
// field), a secret of the job page's memo.
var confirmToken = secret[JobDetail]{mark: tokenMark, markup: func(ctx context.Context, m JobDetail) (string, error) {
	if m.Confirm == nil {
		return "", errNoConfirm
	}
	return attrMarkup(ctx, m.Confirm.CSRFToken)
}}

var errNoConfirm = errors.New("views: a confirmation's token without a confirmation")

func (b HoldBanner) equal(o HoldBanner) bool {
	return b.JobID == o.JobID && b.By == o.By && b.DisabledAt == o.DisabledAt && b.ReenableAt == o.ReenableAt &&
		b.Now == o.Now && b.Message == o.Message &&
		equalPtr(b.Enable, o.Enable, func(a, b ActionButton) bool { return a == b })
}

func (b HoldBanner) clone() HoldBanner {
	b.Enable = clonePtr(b.Enable, func(a ActionButton) ActionButton { return a })
	return b
}

func equalPtr[T any](a, b *T, equal func(a, b T) bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return equal(*a, *b)
}

func clonePtr[T any](p *T, clone func(T) T) *T {
	if p == nil {
		return nil
	}
	c := clone(*p)
	return &c
}

func cloneEach[T any](s []T, clone func(T) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = clone(v)
	}
	return out
}

// equal reports whether two lists render alike apart from their rows: every
// other field, and whether there are rows at all.
func (m JobList) equal(o JobList) bool {
	return m.Path == o.Path && m.Filter == o.Filter && slices.Equal(m.Servers, o.Servers) &&
		(len(m.Rows) == 0) == (len(o.Rows) == 0) && m.Total == o.Total && m.Pages == o.Pages &&
		m.AsOf == o.AsOf && m.Refreshing == o.Refreshing && m.RefreshFailed == o.RefreshFailed
}

// clone keeps of the rows only whether there are any.
func (m JobList) clone() JobList {
	m.Servers = slices.Clone(m.Servers)
	m.Rows = make([]JobRow, min(len(m.Rows), 1))
	return m
}

// sameSlice has c recognise a slice it has already found equal (memo.same):
// the same backing array and length. Its callers must not change a slice
// once rendered.
func sameSlice[T any](c *memo[[]T]) *memo[[]T] {
	c.same = func(seen, m []T) bool { return len(seen) == len(m) && len(m) > 0 && &seen[0] == &m[0] }
	return c
}
