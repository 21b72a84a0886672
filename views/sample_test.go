package views

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// Strings an EM administrator could type into a job name or description.
var hostile = []string{
	`<script>alert(1)</script>`,
	`" onmouseover="x`,
	`' onfocus='x' autofocus '`,
	`hx-get="/evil"`,
	`<img src=x onerror=alert(2)>`,
	`&amp; Tom & Jerry's "backup"`,
	`Sicherung für Büro – 東京 ☃`,
	`</table><div hx-get="/evil" hx-trigger="load">`,
}

var (
	berlin   = time.FixedZone("CET", 3600)
	sampleAt = time.Date(2026, 3, 14, 9, 26, 53, 0, berlin)
)

const (
	jobID  = "6fa3c1d2-0b1e-4a57-9c3d-2f1e0a9b8c7d"
	jobID2 = "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
	token  = `tok"en<&>'`
)

func sampleLayout() Layout {
	return Layout{
		Title:      "Jobs",
		BasePath:   "/backup",
		CSSURL:     "/backup/static/app.11111111.css",
		JSURL:      "/backup/static/app.22222222.js",
		UIURL:      "/backup/static/ui.44444444.js",
		HTMXURL:    "/backup/static/htmx.min.33333333.js",
		IconURL:    "/backup/static/favicon.44444444.svg",
		CSPNonce:   "bm9uY2U",
		CSRFToken:  token,
		User:       &User{DisplayName: "Hanna Helpdesk", Email: "hanna@corp.example", Roles: []string{"helpdesk-berlin"}},
		DemoBanner: true,
	}
}

func actionsFor(id string, policy bool) []ActionButton {
	base := "/backup/jobs/" + id
	confirm := "Starts the backup of the computer now."
	if policy {
		confirm = "Starts the backup on all 12 computers."
	}
	return []ActionButton{
		{Action: ActionStart, Label: "Start", ConfirmURL: base + "/confirm/start", PostURL: base + "/start", Confirm: confirm},
		{Action: ActionDisable, Label: "Disable schedule", ConfirmURL: base + "/confirm/disable", PostURL: base + "/schedule", Confirm: "The job no longer runs by itself until the schedule is enabled again."},
	}
}

func sampleRow(id, name string, i int) JobRow {
	r := JobRow{
		ID:                 id,
		Name:               name,
		URL:                "/backup/jobs/" + id,
		Platform:           PlatformWindows,
		Server:             "vbr-berlin.corp.example",
		ScheduleConfigured: true,
		ScheduleEnabled:    i%3 != 0,
		LastResult:         []string{ResultSuccess, ResultWarning, ResultFailed, ResultNone}[i%4],
		LastRunAt:          sampleAt.Add(-time.Duration(i) * time.Hour),
		NextRun:            sampleAt.Add(time.Duration(i+1) * time.Hour),
		Actions:            actionsFor(id, i%2 == 1),
	}
	if i%2 == 1 {
		r.Platform, r.Server = PlatformLinux, "vbr-munich.corp.example"
	}
	if i == 2 {
		r.Running, r.Progress = true, 42
		r.RowURL, r.Poll, r.Live = r.URL+"/row", "2s", true
	}
	return r
}

func sampleList(n int) JobList {
	m := JobList{
		Path:    "/backup/jobs",
		Filter:  JobFilter{Q: "erin", Platform: PlatformWindows, Schedule: "enabled", Sort: "lastrun", Desc: true, Page: 2, PageSize: 25},
		Servers: []string{"vbr-berlin.corp.example", "vbr-munich.corp.example"},
		Total:   n * 7,
		Pages:   7,
		AsOf:    sampleAt,
	}
	for i := range n {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		m.Rows = append(m.Rows, sampleRow(id, fmt.Sprintf("Job %d – Büro & Co", i), i))
	}
	return m
}

func sampleDetail(name, desc string) JobDetail {
	return JobDetail{
		ID:                 jobID,
		UID:                "urn:veeam:AgentBackupJob:" + jobID,
		Name:               name,
		JobType:            "EpAgentBackup",
		Platform:           PlatformWindows,
		Description:        desc,
		URL:                "/backup/jobs/" + jobID,
		CardURL:            "/backup/jobs/" + jobID + "/card",
		JobsURL:            "/backup/jobs",
		ScheduleConfigured: true,
		ScheduleEnabled:    true,
		NextRun:            sampleAt.Add(7 * time.Hour),
		Schedule:           []string{"Every day at 16:00", "Times are in UTC+1, as Enterprise Manager gives them", "Retries: 3 times every 10 minutes"},
		ScheduleRaw:        []KV{{"Daily.Time", "16:00:00"}, {"RetryTimes", "3"}},
		Includes: []Include{
			{Name: "erin-laptop.corp.example", DisplayName: "Erin's laptop", Kind: "Computer"},
			{Name: "Berlin laptops", DisplayName: desc, Kind: "Protection group", Guest: []KV{{"VSS", "Require success"}}},
			{Name: "Manually added", DisplayName: "Manually added"}, // no HierarchyObjRef: no kind shown
		},
		JobGuest:      []KV{{"Application-aware processing", "On"}},
		Retention:     []KV{{"Restore points", "14"}},
		Server:        BackupServer{Name: "vbr-berlin.corp.example", Version: "12.3.1.1139", Port: 9392, Description: desc},
		SessionsPage:  2,
		SessionsPages: 4,
		Sessions: []SessionRow{
			{ID: "s1", Name: name, State: "Running", Result: ResultNone, Start: sampleAt.Add(-5 * time.Minute), Progress: 42,
				Children: []SessionRow{
					{ID: "c1", Name: name + " - erin-laptop.corp.example@2026-03-14 06:26:00", Computer: "erin-laptop.corp.example", State: "Running", Result: ResultNone, Progress: 42, Duration: 5 * time.Minute},
					{ID: "c2", Name: name + " - nb-ber-0002.corp.example@2026-03-14 06:26:03", Computer: "nb-ber-0002.corp.example", State: "Finished", Result: ResultFailed, Duration: 83 * time.Second,
						End: sampleAt, Reason: `Error: Not enough space on the backup repository "Repo-01" <D:\>.`},
				}},
			{ID: "s2", Name: name, State: "Finished", Result: ResultFailed, Start: sampleAt.Add(-25 * time.Hour), End: sampleAt.Add(-24 * time.Hour), Duration: time.Hour},
			{ID: "s3", Name: name, State: "Finished", Result: ResultWarning, IsRetry: true, Start: sampleAt.Add(-23 * time.Hour), End: sampleAt.Add(-23*time.Hour + 83*time.Second), Duration: 83 * time.Second},
		},
		Running:    true,
		Poll:       "2s",
		Progress:   42,
		LastResult: ResultFailed,
		LastRunAt:  sampleAt.Add(-24 * time.Hour),
		Actions:    actionsFor(jobID, true),
		Why:        []string{"You can start this job because you are in helpdesk-berlin."},
		AsOf:       sampleAt,
		Links:      []KV{{"Alternate", "https://em.corp.example:9398/api/agents/jobs/" + jobID}},
	}
}

func render(t testing.TB, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

func parse(t testing.TB, html string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

func byTestID(doc *goquery.Document, id string) *goquery.Selection {
	return doc.Find(`[data-testid="` + id + `"]`)
}
