package views

import (
	"strings"
	"testing"
	"time"
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

// TestGoldenRows pins the exact markup of list rows, including the edge cases
// the sample pages do not reach.
func TestGoldenRows(t *testing.T) {
	var b strings.Builder
	for _, r := range edgeRows() {
		b.WriteString(render(t, JobRowView(r)))
		b.WriteString("\n")
	}
	checkGolden(t, "jobrows_edge.golden.html", b.String())
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
