package emclient

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

const bench10k = 10000

// bench10kBody is one query answer of 10,000 agent jobs as EM writes them.
func bench10kBody(b *testing.B) []byte {
	const n = bench10k
	jobs := make([]AgentBackupJob, n)
	next := Time{time.Date(2025, 8, 15, 20, 0, 0, 0, time.UTC)}
	for i := range jobs {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		href := "https://em.example.com:9398/api/agents/jobs/" + id
		jobs[i] = AgentBackupJob{
			Type: "AgentBackupJob", Href: href + "?format=Entity", Name: fmt.Sprintf("Job %d & <co>", i), UID: "urn:veeam:AgentBackupJob:" + id,
			Links: Links{
				{Rel: "Up", Type: "BackupServerReference", Href: "https://em.example.com:9398/api/backupServers/x", Name: "vbr-berlin.corp.example"},
				{Rel: "Alternate", Type: "JobReference", Href: href},
				{Rel: "Start", Href: href + "?action=start"}, {Rel: "Stop", Href: href + "?action=stop"}, {Rel: "Retry", Href: href + "?action=retry"},
			},
			JobType: "AgentBackup", Platform: "AgentForWindows", Description: "nightly", ScheduleConfigured: true, ScheduleEnabled: i%7 != 0,
			NextRun: &next,
			JobScheduleOptions: &JobScheduleOptions{Standart: &ScheduleOptions{
				RetryOptions: &RetryOptions{RetryTimes: 3, RetryTimeout: 10, RetrySpecified: true},
				OptionsDaily: &OptionsDaily{Enabled: true, Kind: "Everyday", Days: []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"},
					Time: TimeOfDay{Raw: "22:00:00.0000000+01:00"}, TimeOffsetUtc: 1},
			}},
			JobInfo: &AgentJobInfo{
				Includes:              []ObjectInAgentBackupJob{{Type: "ObjectInAgentBackupJob", Href: href + "/includes/1", ObjectInJobID: id, Name: "pc", DisplayName: "pc"}},
				SimpleRetentionPolicy: &SimpleRetentionPolicy{RetainCycles: 7, RetainLimitType: "Cycles"},
			},
		}
	}
	body, err := xml.Marshal(QueryResult{Entities: &QueryEntities{AgentBackupJobs: &AgentBackupJobs{Jobs: jobs}},
		PagingInfo: PagingInfo{PagesCount: 1, PageSize: n, PageNum: 1}})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkDecodeQueryResult10k decodes the answer into the full model, as
// the list did before the row decoder.
func BenchmarkDecodeQueryResult10k(b *testing.B) {
	const n = bench10k
	body := bench10kBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var res QueryResult
		if err := decode(body, &res); err != nil {
			b.Fatal(err)
		}
		if len(res.Entities.AgentBackupJobs.Jobs) != n {
			b.Fatalf("decoded %d jobs", len(res.Entities.AgentBackupJobs.Jobs))
		}
	}
}

// BenchmarkJobRows10k decodes the same answer into list rows (the list's
// decoder), keeping every row as the list does.
func BenchmarkJobRows10k(b *testing.B) {
	body := bench10kBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rows := make([]JobRow, 0, bench10k)
		rq := &rowQuery[JobRow]{plural: "AgentBackupJobs", entity: "AgentBackupJob", decode: decodeJobRow,
			fn: func(r *JobRow) error { rows = append(rows, *r); return nil }}
		if err := decodeTokens(bytes.NewReader(body), rq); err != nil {
			b.Fatal(err)
		}
		if len(rows) != bench10k {
			b.Fatalf("decoded %d rows", len(rows))
		}
	}
}

// reportCPU reports the process's CPU time per op (user + system, GC
// included), which other processes on a shared machine disturb far less
// than ns/op: call it before the loop, and the function it returns after.
func reportCPU(b *testing.B) func() {
	cpu := func() int64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0
		}
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

// BenchmarkJobPageDecode is what a cold job page decodes: the documented job
// entity and a page of ten sessions, through the tagged types with
// encoding/xml's reflection (tagged: how AgentJob and the job's session page
// read them before) and through the token walks that read them now (hand).
//
//	go test -run '^$' -bench JobPageDecode -benchmem ./emclient/
func BenchmarkJobPageDecode(b *testing.B) {
	dir := emexamples.Dir(b)
	job, err := os.ReadFile(filepath.Join(dir, "agent_job_entity.xml"))
	if err != nil {
		b.Fatal(err)
	}
	job = emexamples.AmpFix(job)
	sess, err := os.ReadFile(filepath.Join(dir, "backup_job_session_entity_docs.xml"))
	if err != nil {
		b.Fatal(err)
	}
	one := xmlDecl.ReplaceAll(emexamples.AmpFix(sess), []byte("$1"))
	page := []byte(`<?xml version="1.0" encoding="utf-8"?><QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><BackupJobSessions>` +
		strings.Repeat(string(one), 10) + `</BackupJobSessions></Entities><PagingInfo PageNum="1" PageSize="10" PagesCount="3"/></QueryResult>`)
	b.Run("job/tagged", func(b *testing.B) {
		b.SetBytes(int64(len(job)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			var j AgentBackupJob
			if err := decode(job, &j); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("job/hand", func(b *testing.B) {
		b.SetBytes(int64(len(job)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			var j AgentBackupJob
			if err := decodeTokens(bytes.NewReader(job), (*agentJobEntity)(&j)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sessions10/tagged", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			var r QueryResult
			if err := decode(page, &r); err != nil || len(r.Entities.BackupJobSessions.Sessions) != 10 {
				b.Fatal(err)
			}
		}
	})
	b.Run("sessions10/hand", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			n := 0
			rq := &rowQuery[SessionRow]{plural: "BackupJobSessions", entity: "BackupJobSession", decode: decodeSessionRow,
				fn: func(*SessionRow) error { n++; return nil }}
			if err := decodeTokens(bytes.NewReader(page), rq); err != nil || n != 10 {
				b.Fatal(err)
			}
		}
	})
}
