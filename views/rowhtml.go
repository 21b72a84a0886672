package views

import (
	"context"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/a-h/templ"
)

// The jobs list is the page rendered most often, fifty rows at a time, and
// templ spends one or two allocations on every { expression } (fmt.Sprint for
// text, boxing for attributes): about 75 per row. The row and the small
// fragments it is made of are therefore written here, by hand, into a pooled
// byte buffer. The markup is byte for byte what the templ components made
// (testdata/joblist_page.golden.html and jobrows_edge.golden.html pin it),
// and the escaping rules are templ's:
//
//   - text and attribute values: the five characters of html.EscapeString
//     (& ' < > "), as templ.EscapeString does;
//   - URLs (href, hx-get): sanitized with templ.URL, then escaped;
//   - element ids and CSS selectors: domID.
//
// Nothing here writes a value without one of those.

// htmlBuf collects one fragment before a single Write to the response.
type htmlBuf struct{ b []byte }

var htmlBufs = sync.Pool{New: func() any { return &htmlBuf{b: make([]byte, 0, 8<<10)} }}

// writeHTML renders f into a pooled buffer and writes it to w in one call.
func writeHTML(ctx context.Context, w io.Writer, f func(*htmlBuf)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	hb := htmlBufs.Get().(*htmlBuf)
	hb.b = hb.b[:0]
	f(hb)
	_, err := w.Write(hb.b)
	if cap(hb.b) <= 64<<10 { // one huge fragment must not pin its buffer forever
		htmlBufs.Put(hb)
	}
	return err
}

// raw appends trusted markup: string constants of this file only.
func (h *htmlBuf) raw(s string) { h.b = append(h.b, s...) }

// text appends s escaped for text content or a quoted attribute value.
func (h *htmlBuf) text(s string) { h.b = appendEscaped(h.b, s) }

// url appends a URL attribute value: sanitized like templ's href, then escaped.
func (h *htmlBuf) url(s string) { h.b = appendEscaped(h.b, string(templ.URL(s))) }

// id appends prefix+id made safe for an element id or a CSS selector.
func (h *htmlBuf) id(prefix, id string) {
	h.b = append(h.b, prefix...)
	if safeID(id) {
		h.b = append(h.b, id...)
		return
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			h.b = append(h.b, byte(r))
		default:
			h.b = append(h.b, '_')
		}
	}
}

func (h *htmlBuf) int(n int) { h.b = strconv.AppendInt(h.b, int64(n), 10) }

// time appends t in layout, escaped (a zone abbreviation is free text).
func (h *htmlBuf) time(t time.Time, layout string) {
	start := len(h.b)
	h.b = t.AppendFormat(h.b, layout)
	if needsEscape(h.b[start:]) {
		s := string(h.b[start:])
		h.b = appendEscaped(h.b[:start], s)
	}
}

func needsEscape(b []byte) bool {
	for _, c := range b {
		switch c {
		case '&', '\'', '<', '>', '"':
			return true
		}
	}
	return false
}

// appendEscaped is html.EscapeString (and so templ.EscapeString) appending to b.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

// resultBadge is a result in colour and words.
func resultBadge(r string) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return writeHTML(ctx, w, func(h *htmlBuf) { h.resultBadge(r) })
	})
}

func (h *htmlBuf) resultBadge(r string) {
	h.raw(`<span class="`)
	h.raw(resultClass(r))
	h.raw(`" data-result="`)
	h.text(r)
	h.raw(`"><span class="icon" aria-hidden="true">`)
	h.raw(resultIcon(r))
	h.raw(`</span> `)
	h.text(resultLabel(r))
	h.raw(`</span>`)
}

// runningIndicator is one badge: "Running", a progress bar and the percentage.
func runningIndicator(progress int) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return writeHTML(ctx, w, func(h *htmlBuf) { h.runningIndicator(progress) })
	})
}

func (h *htmlBuf) runningIndicator(progress int) {
	p := clampPct(progress)
	h.raw(`<span class="status status-running progress" data-testid="progress"><span class="icon" aria-hidden="true">⟳</span> Running <progress max="100" value="`)
	h.int(p)
	h.raw(`" aria-label="Backup progress">`)
	h.int(p)
	h.raw(`%</progress><span class="pct" aria-hidden="true">`)
	h.int(p)
	h.raw(`%</span></span>`)
}

// timeOrDash is a <time> element, or a dash for the zero time.
func timeOrDash(t time.Time) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return writeHTML(ctx, w, func(h *htmlBuf) { h.timeOrDash(t) })
	})
}

func (h *htmlBuf) timeOrDash(t time.Time) {
	if t.IsZero() {
		h.raw(dash)
		return
	}
	h.raw(`<time datetime="`)
	h.time(t, time.RFC3339)
	h.raw(`">`)
	h.time(t, timeLayout)
	h.raw(`</time>`)
}

// actionList renders exactly the buttons it is given; the job name is added
// for screen readers, which otherwise hear "Start" fifty times. Each is a link
// to the confirmation page (works without JavaScript); htmx loads the
// confirmation into #confirm-<job> instead.
func actionList(jobID, jobName string, actions []ActionButton) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return writeHTML(ctx, w, func(h *htmlBuf) { h.actionList(jobID, jobName, actions) })
	})
}

func (h *htmlBuf) actionList(jobID, jobName string, actions []ActionButton) {
	if len(actions) == 0 {
		return
	}
	h.raw(`<ul class="actions" data-testid="actions">`)
	for i := range actions {
		a := &actions[i]
		h.raw(`<li><a id="`)
		h.raw("action-") // domID("action-"+a.Action+"-", jobID), attribute-escaped
		h.text(a.Action)
		h.id("-", jobID)
		h.raw(`" class="button" href="`)
		h.url(a.ConfirmURL)
		h.raw(`" hx-get="`)
		h.url(a.ConfirmURL)
		h.raw(`" hx-target="#`)
		h.id("confirm-", jobID)
		h.raw(`" hx-swap="innerHTML" data-confirm-opener data-action="`)
		h.text(a.Action)
		h.raw(`" data-testid="action-`)
		h.text(a.Action)
		h.raw(`"><span data-testid="action-label">`)
		h.text(a.Label)
		h.raw(`</span><span class="visually-hidden">: `)
		h.text(jobName)
		h.raw(`</span></a></li>`)
	}
	h.raw(`</ul>`)
}

// JobRowView is one row of the jobs table (<tr id="job-row-<id>">); a handler
// answering ActionState.RowURL renders it alone.
func JobRowView(r JobRow) templ.Component { return jobRowHTML{&r} }

// jobRowHTML renders a row in place: JobTable hands it a pointer into the
// model's rows, so a row costs no allocation at all.
type jobRowHTML struct{ r *JobRow }

func jobRowAt(rows []JobRow, i int) templ.Component { return jobRowHTML{&rows[i]} }

func (c jobRowHTML) Render(ctx context.Context, w io.Writer) error {
	return writeHTML(ctx, w, c.write)
}

func (c jobRowHTML) write(h *htmlBuf) {
	r := c.r
	h.raw(`<tr id="`)
	h.id("job-row-", r.ID)
	h.raw(`" data-testid="job-row" data-job-id="`)
	h.text(r.ID)
	h.raw(`"`)

	if r.Running {
		h.raw(` class="is-running"`)
	}
	h.raw(`><th scope="row" class="name" data-label="Name" data-testid="job-name"><a href="`)
	h.url(r.URL)
	h.raw(`">`)
	h.text(r.Name)
	h.raw(`</a></th><td data-label="Platform" data-testid="job-platform">`)
	h.text(r.Platform)
	h.raw(`</td><td data-label="Backup server" data-testid="job-server">`)
	h.text(r.Server)
	h.raw(`</td><td data-label="Schedule" data-testid="job-schedule"><span class="`)
	h.raw(scheduleClass(r.ScheduleConfigured, r.ScheduleEnabled))
	h.raw(`">`)
	h.raw(scheduleLabel(r.ScheduleConfigured, r.ScheduleEnabled))
	h.raw(`</span></td><td data-label="Last result" data-testid="job-last-result">`)
	h.resultBadge(r.LastResult)
	if r.Running {
		h.raw(`<div data-testid="job-running">`)
		h.runningIndicator(r.Progress)
		h.raw(`</div>`)
	}
	h.raw(`</td><td data-label="Last run" data-testid="job-last-run">`)
	h.timeOrDash(r.LastRunAt)
	h.raw(`</td><td data-label="Next run" data-testid="job-next-run">`)
	if r.ScheduleConfigured && r.ScheduleEnabled && !r.NextRun.IsZero() {
		h.timeOrDash(r.NextRun)
	} else {
		h.raw(dash)
	}
	h.raw(`</td><td data-label="" class="row-actions" data-testid="job-actions">`)
	h.actionList(r.ID, r.Name, r.Actions)
	// actionRegions(r.ID, nil, nil): the empty swap targets. A row that is
	// live keeps the ones on the page when it is swapped in (hx-preserve), so
	// an open confirmation or an action's status survives the row's polling.
	preserve := ` data-testid="`
	if r.Live {
		preserve = ` hx-preserve data-testid="`
	}
	h.raw(`<div id="`)
	h.id("confirm-", r.ID)
	h.raw(`" class="confirm-region" data-confirm-region`)
	h.raw(preserve)
	h.raw(`confirm-region"></div><div id="`)
	h.id("status-", r.ID)
	h.raw(`" class="action-status"`)
	h.raw(preserve)
	h.raw(`action-status-empty"></div>`)
	if r.Poll != "" && r.RowURL != "" {
		// The row refreshes itself while the job is live, through a hidden
		// child so that the row's links inherit nothing (X-Background).
		h.raw(`<div hidden hx-get="`)
		h.url(r.RowURL)
		h.raw(`" hx-trigger="every `)
		h.text(r.Poll)
		h.raw(`, wake" hx-target="#`)
		h.id("job-row-", r.ID)
		h.raw(`" hx-swap="outerHTML" hx-headers="`)
		h.text(backgroundHeaders)
		h.raw(`" data-poll data-testid="row-poller"></div>`)
	}
	h.raw(`</td></tr>`)
}
