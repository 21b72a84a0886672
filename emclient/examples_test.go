package emclient

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/emclient/emexamples"
)

// templatePlaceholders fills job_edit_schedule_daily_request_template.xml with
// the example values its .src sidecar documents, so that the ints decode.
var templatePlaceholders = strings.NewReplacer(
	"{0}", "02:00:00", "{1}", "3", "{2}", "5", "{3}", "true",
	"{4}", "<Days>Sunday</Days><Days>Saturday</Days>",
)

func rootName(b []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, nil
		}
	}
}

// vmJob decodes the VMware job examples (root Job), which the portal never
// reads; they are used here for their schedule tree, shared with agent jobs.
type vmJob struct {
	XMLName            xml.Name            `xml:"Job"`
	Name               string              `xml:"Name,attr"`
	UID                string              `xml:"UID,attr"`
	Links              Links               `xml:"Links>Link"`
	JobType            string              `xml:"JobType"`
	Platform           string              `xml:"Platform"`
	JobScheduleOptions *JobScheduleOptions `xml:"JobScheduleOptions"`
}

// byRoot maps a root element to a fresh decoding target, and whether the type
// models the resource fully (checked for loss).
var byRoot = map[string]struct {
	new  func() any
	full bool
}{
	"AgentBackupJob":       {func() any { return new(AgentBackupJob) }, true},
	"BackupJobSession":     {func() any { return new(BackupJobSession) }, true},
	"Task":                 {func() any { return new(Task) }, true},
	"BackupServer":         {func() any { return new(BackupServer) }, true},
	"LogonSession":         {func() any { return new(LogonSession) }, true},
	"EntityReferences":     {func() any { return new(EntityReferences) }, true},
	"QueryResult":          {func() any { return new(QueryResult) }, true},
	"LogonSessions":        {func() any { return new(LogonSessions) }, true},
	"EnterpriseManager":    {func() any { return new(EnterpriseManager) }, true},
	"Agents":               {func() any { return new(AgentsService) }, true},
	"DiscoveredComputer":   {func() any { return new(DiscoveredComputer) }, true},
	"AgentProtectionGroup": {func() any { return new(AgentProtectionGroup) }, true},
	"Error":                {func() any { return new(ErrorBody) }, true},
	"Job":                  {func() any { return new(vmJob) }, false},
}

func loadExample(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	b = emexamples.AmpFix(b)
	if strings.Contains(name, "_template") {
		b = []byte(templatePlaceholders.Replace(string(b)))
	}
	return b
}

// TestExamplesDecode decodes every documented XML body into its type and checks
// that nothing the types model is lost.
func TestExamplesDecode(t *testing.T) {
	dir := emexamples.Dir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s (%v)", dir, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b := loadExample(t, dir, name)
			root, err := rootName(b)
			if err != nil {
				t.Fatalf("not XML: %v", err)
			}
			kind, ok := byRoot[root]
			if !ok {
				t.Fatalf("no type mapped for root element %s", root)
			}
			v := kind.new()
			if err := decode(b, v); err != nil {
				t.Fatalf("decode %s: %v", root, err)
			}
			if kind.full {
				out, err := xml.Marshal(v)
				if err != nil {
					t.Fatalf("marshal: %v", err)
				}
				assertNoLoss(t, b, out)
			}
			if check, ok := exampleChecks[name]; ok {
				check(t, v)
			}
		})
	}
	for name := range exampleChecks {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("example %s has checks but is missing: %v", name, err)
		}
	}
}

// leaves lists "path=text" for every element with non-empty text and
// "path/@attr=value" for every attribute (namespace declarations aside).
func leaves(b []byte) (map[string]int, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	got := map[string]int{}
	var path []string
	var text []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			path = append(path, tok.Name.Local)
			text = append(text, "")
			p := strings.Join(path, "/")
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				got[p+"/@"+a.Name.Local+"="+a.Value]++
			}
		case xml.CharData:
			if len(text) > 0 {
				text[len(text)-1] += string(tok)
			}
		case xml.EndElement:
			if s := strings.TrimSpace(text[len(text)-1]); s != "" {
				got[strings.Join(path, "/")+"="+s]++
			}
			path, text = path[:len(path)-1], text[:len(text)-1]
		}
	}
}

func assertNoLoss(t *testing.T, orig, remarshalled []byte) {
	t.Helper()
	want, err := leaves(orig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := leaves(remarshalled)
	if err != nil {
		t.Fatalf("re-marshalled output is not XML: %v", err)
	}
	var lost []string
	for k, n := range want {
		if got[k] < n {
			lost = append(lost, fmt.Sprintf("%s (x%d, kept %d)", k, n, got[k]))
		}
	}
	slices.Sort(lost)
	for _, l := range lost {
		t.Errorf("lost after decode+marshal: %s", l)
	}
}

var exampleChecks = map[string]func(*testing.T, any){
	"agent_job_entity.xml": func(t *testing.T, v any) {
		j := v.(*AgentBackupJob)
		eq(t, "Name", j.Name, "Server Backup")
		eq(t, "UID", j.UID, "urn:veeam:AgentBackupJob:a6deb158-b26c-4140-8b26-5a3cc344e8ec")
		eq(t, "JobType", j.JobType, "AgentBackup")
		eq(t, "Platform", j.Platform, "AgentForWindows")
		eq(t, "Description", j.Description, "Backup of physical server")
		eq(t, "ScheduleConfigured", j.ScheduleConfigured, true)
		eq(t, "ScheduleEnabled", j.ScheduleEnabled, true)
		if j.NextRun == nil {
			t.Fatal("NextRun lost")
		}
		eq(t, "NextRun", j.NextRun.Format("2006-01-02T15:04:05Z07:00"), "2020-02-12T15:00:00Z")
		eq(t, "links", len(j.Links), 8)
		for _, rel := range []string{"Up", "Alternate", "Down", "ToggleScheduleEnabled", "Start", "Stop", "Retry"} {
			if !j.Links.Has(rel) {
				t.Errorf("link Rel=%s missing", rel)
			}
		}
		up, _ := j.Links.Find("Up", "BackupServerReference")
		eq(t, "Up link name", up.Name, "srv12.tech.local")
		down, _ := j.Links.Find("Down", "BackupJobSessionReferenceList")
		eq(t, "sessions link", down.Href, "https://srv12.tech.local:9398/api/agents/jobs/a6deb158-b26c-4140-8b26-5a3cc344e8ec/backupSessions")

		if j.JobScheduleOptions == nil || j.JobScheduleOptions.Standart == nil {
			t.Fatal("JobScheduleOptions/Standart lost")
		}
		s := j.JobScheduleOptions.Standart
		eq(t, "RetryOptions", *s.RetryOptions, RetryOptions{RetryTimes: 3, RetryTimeout: 10, RetrySpecified: true})
		eq(t, "WaitForBackupCompletion", s.WaitForBackupCompletion, true)
		eq(t, "BackupCompetitionWaitingPeriodMin", s.BackupCompetitionWaitingPeriodMin, 180)
		d := s.OptionsDaily
		eq(t, "daily enabled", d.Enabled, true)
		eq(t, "daily kind", d.Kind, "Everyday")
		eq(t, "daily days", d.Days, []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"})
		eq(t, "daily time", d.Time.Raw, "16:00:00.0000000+01:00")
		h, m, sec, off, hasOff, err := d.Time.Clock()
		if err != nil || h != 16 || m != 0 || sec != 0 || off != 3600 || !hasOff {
			t.Errorf("daily Clock = %d %d %d %d %v %v", h, m, sec, off, hasOff, err)
		}
		eq(t, "daily offset", d.TimeOffsetUtc, 2)
		mo := s.OptionsMonthly
		eq(t, "monthly enabled", mo.Enabled, false)
		eq(t, "monthly time", mo.Time.Raw, "22:00:00.0000000+01:00")
		eq(t, "monthly offset", mo.TimeOffsetUtc, 2)
		eq(t, "DayNumberInMonth", mo.DayNumberInMonth, "Fourth")
		eq(t, "DayOfWeek", mo.DayOfWeek, "Saturday")
		eq(t, "months", len(mo.Months), 12)
		eq(t, "month 12", mo.Months[11], "December")
		eq(t, "DayOfMonth", mo.DayOfMonth, 1)
		p := s.OptionsPeriodically
		eq(t, "periodic", [3]any{p.Enabled, p.Kind, p.FullPeriod}, [3]any{false, "Hours", 1})
		allHours := strings.TrimSuffix(strings.Repeat("1,", 24), ",")
		for name, tp := range map[string]TimePeriods{
			"periodically": p.Schedule, "continuous": s.OptionsContinuous.Schedule, "window": s.OptionsBackupWindow.TimePeriods,
		} {
			eq(t, name+" days", len(tp.Days), 7)
			eq(t, name+" day 0", tp.Days[0], DayHours{Name: "Sunday", Hours: allHours})
			eq(t, name+" day 6 name", tp.Days[6].Name, "Saturday")
		}
		eq(t, "continuous enabled", s.OptionsContinuous.Enabled, false)
		eq(t, "window enabled", s.OptionsBackupWindow.Enabled, false)
		if s.OptionsDaisyChaining == nil {
			t.Fatal("OptionsDaisyChaining lost")
		}
		eq(t, "PreviousJobUid", s.OptionsDaisyChaining.PreviousJobUID, "")

		ji := j.JobInfo
		if ji == nil {
			t.Fatal("JobInfo lost")
		}
		eq(t, "includes", len(ji.Includes), 1)
		inc := ji.Includes[0]
		eq(t, "include id", inc.ObjectInJobID, "51616f00-6107-48a9-95ba-1cee9ed6a86e")
		eq(t, "include name", [2]string{inc.Name, inc.DisplayName}, [2]string{"Windows Servers", "Windows Servers"})
		eq(t, "include href", inc.Href, "https://srv12.tech.local:9398/api/agents/jobs/a6deb158-b26c-4140-8b26-5a3cc344e8ec/includes/51616f00-6107-48a9-95ba-1cee9ed6a86e")
		g := inc.GuestProcessingOptions
		if g == nil || g.VssSnapshotOptions == nil || g.WindowsGuestFSIndexingOptions == nil || g.LinuxGuestFSIndexingOptions == nil || g.SqlBackupOptions == nil {
			t.Fatalf("include GuestProcessingOptions incomplete: %+v", g)
		}
		eq(t, "vss", *g.VssSnapshotOptions, VssSnapshotOptions{VssSnapshotMode: "RequireSuccess"})
		eq(t, "win indexing mode", g.WindowsGuestFSIndexingOptions.FileSystemIndexingMode, "ExceptSpecifiedFolders")
		eq(t, "win excluded", g.WindowsGuestFSIndexingOptions.ExcludedIndexingFolders.Paths,
			[]string{"%windir%", "%ProgramFiles%", "%ProgramFiles(x86)%", "%ProgramW6432%", "%TEMP%"})
		eq(t, "win included", len(g.WindowsGuestFSIndexingOptions.IncludedIndexingFolders.Paths), 0)
		eq(t, "linux excluded", g.LinuxGuestFSIndexingOptions.ExcludedIndexingFolders.Paths,
			[]string{"/cdrom", "/dev", "/media", "/mnt", "/proc", "/tmp", "/lost+found"})
		eq(t, "sql", *g.SqlBackupOptions, SqlBackupOptions{TransactionLogsProcessing: "OnlyOnSuccessJob", BackupLogsFrequencyMin: 15, UseDbBackupRetention: true, RetainDays: 15})
		if ji.GuestProcessingOptions == nil || ji.GuestProcessingOptions.WindowsGuestFSIndexingOptions == nil {
			t.Fatal("job GuestProcessingOptions lost")
		}
		eq(t, "job win indexing", ji.GuestProcessingOptions.WindowsGuestFSIndexingOptions.FileSystemIndexingMode, "EveryFolders")
		gfs := ji.GfsRetentionPolicy
		if gfs == nil || gfs.Weekly == nil || gfs.Monthly == nil || gfs.Yearly == nil {
			t.Fatalf("GFS lost: %+v", gfs)
		}
		eq(t, "gfs enabled", gfs.Enabled, false)
		eq(t, "gfs weekly", *gfs.Weekly, GfsPeriod{RetentionPeriod: 1, SelectedDay: "Sunday"})
		eq(t, "gfs monthly", *gfs.Monthly, GfsPeriod{RetentionPeriod: 1, SelectedWeek: "First"})
		eq(t, "gfs yearly", *gfs.Yearly, GfsPeriod{RetentionPeriod: 1, SelectedMonth: "January"})
		eq(t, "simple retention", *ji.SimpleRetentionPolicy, SimpleRetentionPolicy{RetainCycles: 5, RetainDaysToKeep: 7, RetainLimitType: "Cycles"})
	},
	"job_edit_schedule_daily_request_template.xml": func(t *testing.T, v any) {
		s := v.(*vmJob).JobScheduleOptions.Standart
		eq(t, "retry", *s.RetryOptions, RetryOptions{RetryTimes: 3, RetryTimeout: 5, RetrySpecified: true})
		eq(t, "days", s.OptionsDaily.Days, []string{"Sunday", "Saturday"})
		h, m, sec, _, hasOff, err := s.OptionsDaily.Time.Clock()
		if err != nil || h != 2 || m != 0 || sec != 0 || hasOff {
			t.Errorf("Clock = %d %d %d %v %v", h, m, sec, hasOff, err)
		}
		eq(t, "monthly enabled", s.OptionsMonthly.Enabled, false)
	},
	"job_entity_vmware.xml": func(t *testing.T, v any) {
		j := v.(*vmJob)
		eq(t, "platform", j.Platform, "VMware")
		eq(t, "daily time", j.JobScheduleOptions.Standart.OptionsDaily.Time.Raw, "14:00:00.0000000+01:00")
	},
	"agent_jobs_refs.xml": func(t *testing.T, v any) {
		r := v.(*EntityReferences)
		eq(t, "refs", len(r.Refs), 3)
		eq(t, "ref 0", [3]string{r.Refs[0].Name, r.Refs[0].Type, IDFromUID(r.Refs[0].UID)},
			[3]string{"Agent Backup Job 1", "AgentBackupJobReference", "92346ee0-5191-4556-a9c6-ed1a38cdc71b"})
		alt, ok := r.Refs[0].Links.Find("Alternate", "Job")
		eq(t, "alternate", [2]any{ok, alt.Href}, [2]any{true, "http://local.host:9399/api/agents/jobs/92346ee0-5191-4556-a9c6-ed1a38cdc71b?format=Entity"})
	},
	"agent_backup_sessions_refs.xml": func(t *testing.T, v any) {
		r := v.(*EntityReferences)
		if len(r.Refs) < 2 {
			t.Fatalf("refs = %d", len(r.Refs))
		}
		var child bool
		for _, ref := range r.Refs {
			if l, ok := ref.Links.Find("Up", "BackupJobSessionReference"); ok && l.Name == "Parent session" {
				child = true
			}
		}
		eq(t, "child session with parent link", child, true)
	},
	"backup_job_session_entity_docs.xml": func(t *testing.T, v any) {
		s := v.(*BackupJobSession)
		eq(t, "JobUid", s.JobUID, "urn:veeam:Job:4856ab37-2235-45e8-affe-d515878b01a9")
		eq(t, "times", [2]string{s.CreationTimeUTC.Format("15:04:05"), s.EndTimeUTC.Format("15:04:05")}, [2]string{"05:22:52", "05:40:48"})
		eq(t, "state", [4]any{s.State, s.Result, s.Progress, s.IsRetry}, [4]any{"Stopped", "Success", 100, false})
		eq(t, "related", s.Links.Has("Related"), true)
	},
	"task_running_202.xml": func(t *testing.T, v any) {
		tk := v.(*Task)
		eq(t, "task", [3]any{tk.TaskID, tk.State, tk.Result == nil}, [3]any{"task-1", TaskRunning, true})
		eq(t, "finished", tk.Finished(), false)
	},
	"task_operation_finished.xml": func(t *testing.T, v any) {
		tk := v.(*Task)
		eq(t, "state", tk.State, TaskOperationFinished)
		eq(t, "finished", tk.Finished(), false)
		eq(t, "delete link", tk.Links.Has("Delete"), true)
	},
	"task_finished_agent_start.xml": func(t *testing.T, v any) {
		tk := v.(*Task)
		eq(t, "task", [4]any{tk.State, tk.Operation, tk.Result.Success, tk.Result.Message},
			[4]any{TaskFinished, "StartJob", true, `Job "Agent Backup" triggered to start.`})
	},
	"task_finished_agent_stop.xml": func(t *testing.T, v any) {
		eq(t, "op", v.(*Task).Operation, "StopAgentJob")
	},
	"task_finished_agent_retry.xml": func(t *testing.T, v any) {
		eq(t, "op", v.(*Task).Operation, "RetryAgentJob")
	},
	"task_finished_agent_togglescheduleenabled.xml": func(t *testing.T, v any) {
		tk := v.(*Task)
		eq(t, "op", [2]string{tk.Operation, tk.Result.Message}, [2]string{"UpdateJob", "Ok"})
	},
	"query_tasks_resources.xml": func(t *testing.T, v any) {
		q := v.(*QueryResult)
		if q.Resources == nil || q.Resources.Tasks == nil {
			t.Fatal("Resources/Tasks lost")
		}
		eq(t, "tasks", len(q.Resources.Tasks.Tasks), 3)
		eq(t, "related session id", relatedSessionID(&q.Resources.Tasks.Tasks[0]), "35c24055-bdee-4e43-b655-a42de408d2ec")
		eq(t, "replica session is not a backup session", relatedSessionID(&q.Resources.Tasks.Tasks[1]), "")
		eq(t, "paging", [3]int{q.PagingInfo.PagesCount, q.PagingInfo.PageSize, q.PagingInfo.PageNum}, [3]int{1, 15, 1})
		eq(t, "next", q.PagingInfo.Links.Has("Next"), false)
	},
	"query_backuptasksession_paged.xml": func(t *testing.T, v any) {
		q := v.(*QueryResult)
		eq(t, "paging", [3]int{q.PagingInfo.PagesCount, q.PagingInfo.PageSize, q.PagingInfo.PageNum}, [3]int{7, 3, 1})
		next, ok := q.PagingInfo.Links.Find("Next", "")
		eq(t, "next", [2]any{ok, next.Href}, [2]any{true, "https://localhost:9398/api/query?type=BackupTaskSession&format=Entities&sortDesc=CreationTime&pageSize=3&page=2&filter=Result==Failed;VmDisplayName==dbserver01"})
		ss := q.Entities.BackupTaskSessions.Sessions
		eq(t, "sessions", len(ss), 3)
		eq(t, "vm", [3]string{ss[0].VMDisplayName, ss[0].Result, ss[0].CreationTimeUTC.Format("15:04:05.000")}, [3]string{"dbserver01", "Failed", "01:04:29.560"})
	},
	"query_agentprotectiongroups.xml": func(t *testing.T, v any) {
		q := v.(*QueryResult)
		eq(t, "groups", len(q.Entities.AgentProtectionGroups.Groups), 2)
		eq(t, "page size", q.PagingInfo.PageSize, 100)
	},
	"logon_session_v13.xml": func(t *testing.T, v any) {
		ls := v.(*LogonSession)
		eq(t, "session", [2]string{ls.UserName, ls.SessionID}, [2]string{`SRV12\Administrator`, "15a3fc97-0325-4119-b789-5c0367c6c565"})
		agents, ok := ls.Links.Find("Down", "AgentsService")
		eq(t, "agents link", [2]any{ok, agents.Href}, [2]any{true, "https://srv12.tech.local:9398/api/agents"})
	},
	"backup_server_entity.xml": func(t *testing.T, v any) {
		s := v.(*BackupServer)
		eq(t, "server", [3]any{s.Name, s.Port, s.Version}, [3]any{"srv02.tech.local", 9392, "8.0"})
	},
	"entrypoint_v13.xml": func(t *testing.T, v any) {
		em := v.(*EnterpriseManager)
		eq(t, "versions", len(em.SupportedVersions), 3)
		eq(t, "v1_7", em.SupportedVersions[2].Name, "v1_7")
	},
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestErrorBodies covers EM's Error element (the examples hold only a JSON one).
func TestErrorBodies(t *testing.T) {
	body := `<?xml version="1.0" encoding="utf-8"?><Error Message="Object reference not set to an instance of an object." StatusCode="500" xmlns="http://www.veeam.com/ent/v1.0"><FirstChanceExceptionMessage>boom</FirstChanceExceptionMessage><Unknown/></Error>`
	var eb ErrorBody
	if err := decode([]byte(body), &eb); err != nil {
		t.Fatal(err)
	}
	eq(t, "error", [3]any{eb.Message, eb.StatusCode, eb.FirstChanceExceptionMessage}, [3]any{"Object reference not set to an instance of an object.", 500, "boom"})

	for _, tc := range []struct {
		name, body, want string
		status           int
	}{
		{"xml", body, "Object reference not set to an instance of an object.", 500},
		{"html", "<html><body>Service Unavailable</body></html>", "Service Unavailable", 503},
		{"empty", "", "Not Found", 404},
		{"text", "oops", "Forbidden", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := apiError("GET", "/x", tc.status, []byte(tc.body))
			eq(t, "message", e.Message, tc.want)
		})
	}
}
