package emclient

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
	"github.com/agentdesk/agentdesk/emclient/internal/xmltok"
)

// decodeRows runs a row decoder over a document held in memory.
func decodeRows[T any](t *testing.T, body []byte, plural, entity string, decode func(*xmltok.Decoder, *T) error) ([]T, PagingInfo) {
	t.Helper()
	var rows []T
	rq := &rowQuery[T]{plural: plural, entity: entity, decode: decode, fn: func(r *T) error { rows = append(rows, *r); return nil }}
	if err := decodeTokens(bytes.NewReader(body), rq); err != nil {
		t.Fatalf("row decode: %v", err)
	}
	return rows, rq.paging
}

var xmlDecl = regexp.MustCompile(`(?s)^.*?(<[A-Za-z])`)

// inQueryResult wraps a documented entity (its comment and declaration cut) in
// a query answer of one page, with elements no EM version documents at every
// level the row decoder walks.
func inQueryResult(entity []byte, plural string) []byte {
	e := xmlDecl.ReplaceAll(entity, []byte("$1"))
	// Unknown elements inside the entity, before its end tag.
	i := bytes.LastIndex(e, []byte("</"))
	e = append(e[:i:i], append([]byte(`<FutureField><Deep a="1">x<Deeper/></Deep></FutureField>`), e[i:]...)...)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Unknown><X/></Unknown><Entities><Other><AgentBackupJob Name="not in the plural asked"/></Other><`)
	b.WriteString(plural + `><Stray>text</Stray>`)
	b.Write(e)
	b.WriteString(`</` + plural + `></Entities><PagingInfo PageNum="1" PageSize="100" PagesCount="1"><Links><Link Rel="First" Href="x"/></Links></PagingInfo><Trailing/></QueryResult>`)
	return b.Bytes()
}

// TestJobRowExample reads the documented agent job through the list decoder
// and checks every field against the full model's decode of the same bytes.
func TestJobRowExample(t *testing.T) {
	dir := emexamples.Dir(t)
	b := loadExample(t, dir, "agent_job_entity.xml")
	var full AgentBackupJob
	if err := decode(b, &full); err != nil {
		t.Fatal(err)
	}
	body := inQueryResult(b, "AgentBackupJobs")
	rows, paging := decodeRows(t, body, "AgentBackupJobs", "AgentBackupJob", decodeJobRow)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1 (the job in another wrapper must not count)", len(rows))
	}
	r := rows[0]
	if paging.PagesCount != 1 || paging.PageNum != 1 || !paging.Links.Has("First") {
		t.Errorf("paging = %+v", paging)
	}
	eqs := []struct{ name, got, want string }{
		{"UID", r.UID, full.UID}, {"Name", r.Name, full.Name}, {"Platform", r.Platform, full.Platform},
		{"Description", r.Description, full.Description},
	}
	for _, e := range eqs {
		if e.got != e.want || e.want == "" {
			t.Errorf("%s = %q, want %q", e.name, e.got, e.want)
		}
	}
	if r.ScheduleConfigured != full.ScheduleConfigured || r.ScheduleEnabled != full.ScheduleEnabled {
		t.Errorf("schedule = %v/%v, want %v/%v", r.ScheduleConfigured, r.ScheduleEnabled, full.ScheduleConfigured, full.ScheduleEnabled)
	}
	if full.NextRun == nil || !r.NextRun.Equal(full.NextRun.Time) {
		t.Errorf("NextRun = %v, want %v", r.NextRun, full.NextRun)
	}
	if len(r.Links) != len(full.Links) {
		t.Fatalf("%d links, want %d", len(r.Links), len(full.Links))
	}
	for i, l := range full.Links {
		if r.Links[i].Rel != l.Rel || r.Links[i].Type != l.Type {
			t.Errorf("link %d = %+v, want %+v", i, r.Links[i], l)
		}
	}
	want, _ := full.Links.Find("Up", "BackupServerReference")
	if got, _ := r.Links.Find("Up", "BackupServerReference"); got != want || want.Name == "" {
		t.Errorf("server link = %+v, want %+v", got, want)
	}
	for _, rel := range []string{"Start", "Stop", "Retry", "ToggleScheduleEnabled"} {
		if !r.Links.Has(rel) {
			t.Errorf("the row lost the %s link", rel)
		}
	}
	if full.JobInfo == nil || len(r.Includes) != len(full.JobInfo.Includes) || len(r.Includes) == 0 {
		t.Fatalf("includes = %+v, want those of %+v", r.Includes, full.JobInfo)
	}
	for i, inc := range full.JobInfo.Includes {
		if w := (IncludeRow{Name: inc.Name, DisplayName: inc.DisplayName, HierarchyObjRef: inc.HierarchyObjRef}); r.Includes[i] != w {
			t.Errorf("include %d = %+v, want %+v", i, r.Includes[i], w)
		}
	}
}

// TestSessionRowExample does the same for the documented session entity.
func TestSessionRowExample(t *testing.T) {
	dir := emexamples.Dir(t)
	b := loadExample(t, dir, "backup_job_session_entity_docs.xml")
	var full BackupJobSession
	if err := decode(b, &full); err != nil {
		t.Fatal(err)
	}
	rows, _ := decodeRows(t, inQueryResult(b, "BackupJobSessions"), "BackupJobSessions", "BackupJobSession", decodeSessionRow)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	r := rows[0]
	want := SessionRow{
		UID: full.UID, Name: full.Name, JobUID: full.JobUID, JobName: full.JobName, JobType: full.JobType,
		Created: full.CreationTimeUTC.Time, State: full.State, Result: full.Result, Progress: full.Progress,
		FailureMessage: full.FailureMessage, IsRetry: full.IsRetry,
	}
	if full.EndTimeUTC != nil {
		want.Ended = full.EndTimeUTC.Time
	}
	if l, ok := full.Links.Find("Up", "BackupJobSessionReference"); ok {
		want.ParentHref = l.Href
	}
	if r != want || want.UID == "" || want.Created.IsZero() {
		t.Errorf("row = %+v\nwant  %+v", r, want)
	}
}

// TestRowsOfDocumentedQueryAnswers: every documented query answer (other
// types, references, resources) reads without error, yields no job rows and
// the same paging as the full model.
func TestRowsOfDocumentedQueryAnswers(t *testing.T) {
	dir := emexamples.Dir(t)
	for _, name := range []string{"query_agentprotectiongroups.xml", "query_backuptasksession_paged.xml", "query_tasks_resources.xml"} {
		t.Run(name, func(t *testing.T) {
			b := loadExample(t, dir, name)
			var full QueryResult
			if err := decode(b, &full); err != nil {
				t.Fatal(err)
			}
			rows, paging := decodeRows(t, b, "AgentBackupJobs", "AgentBackupJob", decodeJobRow)
			if len(rows) != 0 {
				t.Errorf("%d job rows from a %s answer", len(rows), name)
			}
			if paging.PageNum != full.PagingInfo.PageNum || paging.PagesCount != full.PagingInfo.PagesCount || len(paging.Links) != len(full.PagingInfo.Links) {
				t.Errorf("paging = %+v, want %+v", paging, full.PagingInfo)
			}
		})
	}
}

func TestRowsRejectWhatTheFullModelRejects(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"wrong root", `<EntityReferences/>`},
		{"bad bool", `<QueryResult><Entities><AgentBackupJobs><AgentBackupJob><ScheduleEnabled>yes please</ScheduleEnabled></AgentBackupJob></AgentBackupJobs></Entities></QueryResult>`},
		{"bad time", `<QueryResult><Entities><AgentBackupJobs><AgentBackupJob><NextRun>soon</NextRun></AgentBackupJob></AgentBackupJobs></Entities></QueryResult>`},
		{"cut short", `<QueryResult><Entities><AgentBackupJobs><AgentBackupJob Name="a"><Links>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rq := &rowQuery[JobRow]{plural: "AgentBackupJobs", entity: "AgentBackupJob", decode: decodeJobRow, fn: func(*JobRow) error { return nil }}
			if err := decodeTokens(strings.NewReader(tc.body), rq); err == nil {
				t.Fatal("decoded without error")
			}
		})
	}
	stop := errors.New("stop")
	rq := &rowQuery[JobRow]{plural: "AgentBackupJobs", entity: "AgentBackupJob", decode: decodeJobRow, fn: func(*JobRow) error { return stop }}
	err := decodeTokens(strings.NewReader(`<QueryResult><Entities><AgentBackupJobs><AgentBackupJob/><AgentBackupJob/></AgentBackupJobs></Entities></QueryResult>`), rq)
	if !errors.Is(err, stop) || rq.fnErr != stop {
		t.Fatalf("fn's error: got %v", err)
	}
}

// FuzzRows: the row decoder never panics, and whatever the full model reads as
// a page of jobs the row decoder reads too, the same jobs in the same order.
func FuzzRows(f *testing.F) {
	if dir := emexamples.Find(); dir != "" {
		for _, name := range []string{"agent_job_entity.xml", "backup_job_session_entity_docs.xml"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				f.Add(inQueryResult(emexamples.AmpFix(b), "AgentBackupJobs"))
			}
		}
	}
	f.Add([]byte(`<QueryResult><Entities><AgentBackupJobs><AgentBackupJob UID="u" Name="n"><ScheduleEnabled> true </ScheduleEnabled></AgentBackupJob></AgentBackupJobs></Entities><PagingInfo PagesCount="2"/></QueryResult>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rows []JobRow
		rq := &rowQuery[JobRow]{plural: "AgentBackupJobs", entity: "AgentBackupJob", decode: decodeJobRow,
			fn: func(r *JobRow) error { rows = append(rows, *r); return nil }}
		rowErr := decodeTokens(bytes.NewReader(b), rq)
		var full QueryResult
		if decode(b, &full) != nil || full.Entities == nil || full.Entities.AgentBackupJobs == nil {
			return
		}
		jobs := full.Entities.AgentBackupJobs.Jobs
		if rowErr != nil {
			t.Fatalf("the full model reads %d jobs, the rows fail: %v", len(jobs), rowErr)
		}
		if len(rows) != len(jobs) {
			t.Fatalf("%d rows, full model %d jobs", len(rows), len(jobs))
		}
		for i := range jobs {
			if rows[i].UID != jobs[i].UID || rows[i].Name != jobs[i].Name || rows[i].ScheduleEnabled != jobs[i].ScheduleEnabled {
				t.Fatalf("row %d = %+v, full model %+v", i, rows[i], jobs[i])
			}
		}
	})
}

// TestSessionRowParent: a per-computer session's row names its parent by the
// Up link of type BackupJobSessionReference, whatever comes before it; a
// parent session's row names none.
func TestSessionRowParent(t *testing.T) {
	const parent = "https://em:9398/api/backupSessions/d46e39e0-1131-4585-91a7-e828ce7eafae"
	body := `<QueryResult><Entities><BackupJobSessions>` +
		`<BackupJobSession UID="child"><Links><Link Rel="Up" Type="BackupServerReference" Href="srv"/><Link Rel="Alternate" Type="BackupJobSessionReference" Href="self"/>` +
		`<Link Rel="Up" Type="BackupJobSessionReference" Href="` + parent + `"><Extra/></Link><Link Rel="Up" Type="BackupJobSessionReference" Href="second"/></Links></BackupJobSession>` +
		`<BackupJobSession UID="parent"><Links><Link Rel="Up" Type="JobReference" Href="job"/></Links></BackupJobSession>` +
		`</BackupJobSessions></Entities></QueryResult>`
	rows, _ := decodeRows(t, []byte(body), "BackupJobSessions", "BackupJobSession", decodeSessionRow)
	if len(rows) != 2 || rows[0].ParentHref != parent || rows[1].ParentHref != "" {
		t.Fatalf("rows = %+v; want the child's parent %s and none for the parent", rows, parent)
	}
	var full QueryResult
	if err := decode([]byte(body), &full); err != nil {
		t.Fatal(err)
	}
	if l, _ := full.Entities.BackupJobSessions.Sessions[0].Links.Find("Up", "BackupJobSessionReference"); l.Href != rows[0].ParentHref {
		t.Fatalf("full model's parent %q, row's %q", l.Href, rows[0].ParentHref)
	}
}
