package views

import (
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// edgeRows are list rows at the edges of what the row markup handles: hostile
// text in every field, an id that is not a GUID, zero times, no buttons,
// progress out of range, unsafe URLs, every result and schedule state.
func edgeRows() []JobRow {
	utc := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var rows []JobRow
	for i, h := range hostile {
		r := sampleRow(jobID, h, i)
		r.Server = h
		r.Actions[0].Label = h
		r.Actions[1].ConfirmURL = "/backup/jobs/x?y=" + h
		rows = append(rows, r)
	}
	rows = append(rows,
		JobRow{ID: `a"b <c>#d.e`, Name: "odd id", URL: "javascript:alert(1)", Platform: PlatformLinux, Kind: KindPolicy,
			Actions: []ActionButton{{Action: ActionStop, Label: "Stop", ConfirmURL: "javascript:alert(2)", Danger: true}}},
		JobRow{ID: jobID2, Name: "never ran", URL: "/jobs/" + jobID2, ScheduleConfigured: true, ScheduleEnabled: true},
		JobRow{ID: jobID2, Name: "over", URL: "/jobs/" + jobID2, Running: true, Progress: 150, LastResult: ResultNone, LastRunAt: utc, NextRun: utc},
		JobRow{ID: jobID2, Name: "under", URL: "/jobs/" + jobID2, Running: true, Progress: -3, LastResult: "Odd<result>", LastRunAt: utc,
			ScheduleConfigured: true, ScheduleEnabled: true, NextRun: utc.In(berlin)},
	)
	return rows
}

// TestEdgeRows renders list rows at the edges of what the row markup
// handles (the whole list page is pinned by joblist_page.golden.html): every
// hostile text comes back as text, never as markup; unsafe URLs are
// neutralised; odd ids still make one well-formed row with its own swap
// targets; progress is clamped to 0–100.
func TestEdgeRows(t *testing.T) {
	for i, r := range edgeRows() {
		html := render(t, JobTable(JobList{Path: "/backup/jobs", Total: 1, Rows: []JobRow{r}}))
		doc := parse(t, html)
		if n := doc.Find("script, img, table div[hx-trigger=load]").Length(); n != 0 {
			t.Errorf("row %d: %d injected elements:\n%s", i, n, html)
		}
		if n := doc.Find("[onmouseover], [onfocus], [onerror], [autofocus]").Length(); n != 0 {
			t.Errorf("row %d: %d injected attributes", i, n)
		}
		row := byTestID(doc, "job-row")
		if row.Length() != 1 {
			t.Fatalf("row %d: %d rows:\n%s", i, row.Length(), html)
		}
		if got := row.AttrOr("data-job-id", ""); got != r.ID {
			t.Errorf("row %d: data-job-id %q, want %q", i, got, r.ID)
		}
		if got := row.Find(`[data-testid="job-name"]`).Text(); got != r.Name {
			t.Errorf("row %d: name %q, want %q", i, got, r.Name)
		}
		if got := row.Find(`[data-testid="job-server"]`).Text(); got != r.Server {
			t.Errorf("row %d: server %q, want %q", i, got, r.Server)
		}
		for _, a := range r.Actions {
			link := row.Find(`[data-testid="action-` + a.Action + `"]`)
			if got := link.Find(`[data-testid="action-label"]`).Text(); got != a.Label {
				t.Errorf("row %d: %s label %q, want %q", i, a.Action, got, a.Label)
			}
			if got := link.Find(".visually-hidden").Text(); got != ": "+r.Name {
				t.Errorf("row %d: %s says %q to screen readers", i, a.Action, got)
			}
			if tgt := link.Closest("[hx-target]").AttrOr("hx-target", ""); doc.Find(tgt).Length() != 1 {
				t.Errorf("row %d: %s targets %q, which is not one element", i, a.Action, tgt)
			}
		}
		row.Find("a[href], [hx-get]").Each(func(_ int, a *goquery.Selection) {
			for _, attr := range []string{"href", "hx-get"} {
				if v := strings.ToLower(a.AttrOr(attr, "")); strings.HasPrefix(v, "javascript:") {
					t.Errorf("row %d: %s=%q", i, attr, v)
				}
			}
		})
		for _, prefix := range []string{"#confirm-", "#status-"} {
			if n := doc.Find(strings.ReplaceAll(prefix+domID("", r.ID), ".", `\.`)).Length(); n != 1 {
				t.Errorf("row %d: %d elements for %s%s", i, n, prefix, r.ID)
			}
		}
		if p := row.Find("progress"); p.Length() > 0 {
			v := p.AttrOr("value", "")
			if want := itoa(clampPct(r.Progress)); v != want {
				t.Errorf("row %d: progress %q, want %q", i, v, want)
			}
		}
	}
}

// TestListURLMatchesValuesEncode: JobList.URL writes the query by hand; it
// must stay exactly what url.Values.Encode makes of JobFilter.Values.
func TestListURLMatchesValuesEncode(t *testing.T) {
	m := JobList{Path: "/backup/jobs"}
	filters := []JobFilter{
		{},
		{Sort: DefaultSort, Page: 1},
		{Q: "erin", Platform: PlatformWindows, Schedule: "enabled", Sort: "lastrun", Desc: true, Page: 2, PageSize: 25},
		{Server: "vbr-berlin.corp.example", Result: ResultFailed, Sort: "server"},
		{Q: "a&b=c d+e/ü?#", Server: `"x"`, Page: 12345, PageSize: 7, Sort: "nextrun", Desc: true},
	}
	for _, h := range hostile {
		filters = append(filters, JobFilter{Q: h, Server: h, Sort: h})
	}
	for _, f := range filters {
		want := m.Path
		if q := f.Values().Encode(); q != "" {
			want += "?" + q
		}
		if got := m.URL(f); got != want {
			t.Errorf("URL(%+v) = %q, want %q", f, got, want)
		}
	}
}
