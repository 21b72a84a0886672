package emsim

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

func q(params ...string) string {
	var b strings.Builder
	b.WriteString("/api/query?")
	for i := 0; i+1 < len(params); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(params[i] + "=" + url.QueryEscape(params[i+1]))
	}
	return b.String()
}

// quoteFilter writes a filter string value with embedded quotes doubled.
func quoteFilter(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func TestQueryAgentBackupJobFilters(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	jobs := e.s.Jobs()
	count := func(pred func(JobSummary) bool) int {
		n := 0
		for _, j := range jobs {
			if pred(j) {
				n++
			}
		}
		return n
	}
	var quoted, amp string
	for _, j := range jobs {
		if strings.Contains(j.Name, `"`) && quoted == "" {
			quoted = j.Name
		}
		if strings.Contains(j.Name, "&") && amp == "" {
			amp = j.Name
		}
	}
	if quoted == "" || amp == "" {
		t.Fatal("fleet lacks names with quotes and &")
	}
	tests := []struct {
		name   string
		filter string
		want   int
	}{
		{"erin", `Name=="Erin's laptop"`, 1},
		{"embedded quotes", "Name==" + quoteFilter(quoted), 1},
		{"ampersand", "Name==" + quoteFilter(amp), 1},
		{"case-insensitive field and value", `name=="ERIN'S LAPTOP"`, 1},
		{"platform", "Platform==AgentForWindows", count(func(j JobSummary) bool { return j.Platform == "AgentForWindows" })},
		{"not equal", "Platform!=AgentForWindows", count(func(j JobSummary) bool { return j.Platform != "AgentForWindows" })},
		{"bool", "ScheduleEnabled==false", count(func(j JobSummary) bool { return !j.ScheduleEnabled })},
		{"and/or/parens", `(Platform==AgentForLinux,ScheduleEnabled==False);BackupServerName=="vbr-berlin.corp.example"`,
			count(func(j JobSummary) bool {
				return (j.Platform == "AgentForLinux" || !j.ScheduleEnabled) && j.Server == "vbr-berlin.corp.example"
			})},
		{"and binds tighter than or", `Name=="Erin's laptop",Platform==AgentForLinux;Platform==AgentForWindows`, 1},
		{"uid by urn", "UID==" + jobs[3].UID, 1},
		{"uid as urn:veeam:Job", "UID==urn:veeam:Job:" + jobs[3].ID, 1},
		{"unquoted spaces ignored", " Platform == AgentForWindows ", count(func(j JobSummary) bool { return j.Platform == "AgentForWindows" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(q("type", "agentbackupjob", "filter", tc.filter), tok)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			res := decode[queryResult](t, r)
			if res.Refs == nil || len(res.Refs.Refs) != tc.want {
				t.Fatalf("got %+v refs, want %d", res.Refs, tc.want)
			}
			if res.PagingInfo.PageSize != 100 || res.PagingInfo.PageNum != 1 {
				t.Errorf("paging %+v", res.PagingInfo)
			}
		})
	}
}

func TestQueryBadRequests(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	for _, params := range [][]string{
		{"type", "AgentBackupJob", "filter", "Name="},
		{"type", "AgentBackupJob", "filter", "Nope==1"},
		{"type", "AgentBackupJob", "filter", `Name=="unterminated`},
		{"type", "AgentBackupJob", "filter", "(Name==a"},
		{"type", "AgentBackupJob", "filter", "Name==a)"},
		{"type", "AgentBackupJob", "filter", "ScheduleEnabled==maybe"},
		{"type", "BackupJobSession", "filter", "Result==Bogus"},
		{"type", "BackupJobSession", "filter", "CreationTime>yesterday"},
		{"type", "AgentBackupJob", "sortAsc", "Nope"},
		{"type", "AgentBackupJob", "pageSize", "0"},
		{"type", "AgentBackupJob", "page", "x"},
		{"type", "NoSuchType"},
	} {
		r := e.get(q(params...), tok)
		if r.status != 400 || r.root != "Error" {
			t.Errorf("%v: %d %s", params, r.status, r.body)
		}
	}
}

func TestQuerySessionsEnumsDatesSort(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	all := decode[queryResult](t, e.get(q("type", "BackupJobSession", "format", "Entities", "pageSize", "100000"), tok)).Entities.BackupJobSessions.Sessions
	if len(all) == 0 {
		t.Fatal("no sessions")
	}
	cut := e.clock.Now().Add(-48 * time.Hour)
	rank := map[string]int{"None": 0, "Success": 1, "Warning": 2, "Failed": 3}
	var badRuns, recent, parentsOfJob int
	var erin *job
	for _, j := range e.s.fleet.jobs {
		if j.name == erinJobName {
			erin = j
		}
	}
	for _, s := range all {
		if rank[s.Result] >= rank["Warning"] {
			badRuns++
		}
		if !s.CreationTimeUTC.Before(cut) {
			recent++
		}
		if s.JobUID == erin.uid() {
			parentsOfJob++
		}
	}
	tests := []struct {
		filter string
		want   int
	}{
		{"Result>=Warning", badRuns},
		{"result>=warning", badRuns},
		{`CreationTime>="` + cut.Format(time.RFC3339Nano) + `"`, recent},
		{`JobUid=="` + erin.uid() + `";JobType==AgentBackup`, parentsOfJob},
		{"State==Stopped", len(all)},
	}
	for _, tc := range tests {
		res := decode[queryResult](t, e.get(q("type", "BackupJobSession", "format", "Entities", "pageSize", "100000", "filter", tc.filter), tok))
		if got := len(res.Entities.BackupJobSessions.Sessions); got != tc.want {
			t.Errorf("%s: %d sessions, want %d", tc.filter, got, tc.want)
		}
	}
	res := decode[queryResult](t, e.get(q("type", "BackupJobSession", "format", "Entities", "sortDesc", "creationtime", "pageSize", "50"), tok))
	ss := res.Entities.BackupJobSessions.Sessions
	if !sort.SliceIsSorted(ss, func(a, b int) bool { return ss[a].CreationTimeUTC.After(ss[b].CreationTimeUTC.Time) }) {
		t.Error("sortDesc=CreationTime not descending")
	}
	refs := decode[queryResult](t, e.get(q("type", "AgentBackupJob", "sortAsc", "Name"), tok)).Refs.Refs
	if !sort.SliceIsSorted(refs, func(a, b int) bool { return strings.ToLower(refs[a].Name) < strings.ToLower(refs[b].Name) }) {
		t.Error("sortAsc=Name not ascending")
	}
}

func TestQueryPaging(t *testing.T) {
	e := newEnv(t, Config{Jobs: 250})
	tok := e.logon("svc", "secret")
	t.Run("default page size 100", func(t *testing.T) {
		res := decode[queryResult](t, e.get(q("type", "AgentBackupJob"), tok))
		if len(res.Refs.Refs) != 100 || res.PagingInfo.PageSize != 100 || res.PagingInfo.PagesCount != 3 {
			t.Fatalf("%d refs, paging %+v", len(res.Refs.Refs), res.PagingInfo)
		}
	})
	filter := `Platform==AgentForWindows,Name=="a ""b"" & c"`
	want := 0
	for _, j := range e.s.Jobs() {
		if j.Platform == "AgentForWindows" {
			want++
		}
	}
	r := e.get(q("type", "AgentBackupJob", "format", "Entities", "sortAsc", "Name", "filter", filter, "pageSize", "7", "page", "2"), tok)
	if !bytes.Contains(r.body, []byte("&amp;pageSize=7&amp;page=")) {
		t.Errorf("paging links not &amp;-escaped: %.400s", r.body[bytes.Index(r.body, []byte("<PagingInfo")):])
	}
	res := decode[queryResult](t, r)
	pi := res.PagingInfo
	pages := (want + 6) / 7
	if pi.PageNum != 2 || pi.PageSize != 7 || pi.PagesCount != pages || len(res.Entities.AgentBackupJobs.Jobs) != 7 {
		t.Fatalf("paging %+v with %d jobs, want %d pages", pi, len(res.Entities.AgentBackupJobs.Jobs), pages)
	}
	var rels []string
	for _, l := range pi.Links {
		rels = append(rels, l.Rel)
	}
	if got := strings.Join(rels, ","); got != "First,Previous,Next,Last" {
		t.Fatalf("links %s", got)
	}
	next, _ := findLink(pi.Links, "Next", "")
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	if got := parseQuery(u.RawQuery); got["filter"] != filter || got["page"] != "3" || got["sortasc"] != "Name" || got["format"] != "Entities" {
		t.Fatalf("Next link does not echo the query: %v", got)
	}
	if strings.Contains(u.RawQuery, " ") || strings.Contains(u.RawQuery, `"`) {
		t.Errorf("filter not percent-encoded: %s", u.RawQuery)
	}
	// Following Next to the end visits every match exactly once.
	seen := map[string]bool{}
	path := e.pathOf(res.PagingInfo.Links[0].Href) // First
	for i := 0; path != "" && i < 100; i++ {
		page := decode[queryResult](t, e.get(path, tok))
		for _, j := range page.Entities.AgentBackupJobs.Jobs {
			if seen[j.UID] {
				t.Fatalf("job %s seen twice", j.UID)
			}
			seen[j.UID] = true
		}
		path = ""
		if n, ok := findLink(page.PagingInfo.Links, "Next", ""); ok {
			path = e.pathOf(n)
		}
	}
	if len(seen) != want {
		t.Fatalf("visited %d jobs, want %d", len(seen), want)
	}
}

func TestQueryTasksAndServers(t *testing.T) {
	e := newEnv(t, Config{})
	tok := e.logon("svc", "secret")
	_, tb := e.post("/api/agents/jobs/"+e.s.fleet.jobs[0].id+"?action=start", tok)
	e.waitTask(tok, e.pathOf(tb.Href))
	e.post("/api/agents/jobs/"+e.s.fleet.jobs[1].id+"?action=toggleScheduleEnabled", tok)
	res := decode[queryResult](t, e.get(q("type", "task", "filter", "State==Finished;Operation==StartJob"), tok))
	if res.Resources == nil || res.Resources.Tasks == nil || len(res.Resources.Tasks.Tasks) != 1 {
		t.Fatalf("%+v", res)
	}
	if _, ok := findLink(res.Resources.Tasks.Tasks[0].Links, "Related", ""); ok {
		t.Error("finished StartJob task with a Related link")
	}
	sv := decode[queryResult](t, e.get(q("type", "BackupServer", "format", "Entities", "filter", `Name=="vbr-munich.corp.example"`), tok))
	if len(sv.Entities.BackupServers.Servers) != 1 {
		t.Fatalf("%+v", sv.Entities)
	}
}

func BenchmarkQueryAgentJobs10k(b *testing.B) {
	s := New(Config{Jobs: 10000})
	login := httptest.NewRequest("POST", "/api/sessionMngr/?v=latest", nil)
	login.SetBasicAuth("svc", "secret")
	lw := httptest.NewRecorder()
	s.ServeHTTP(lw, login)
	tok := lw.Header().Get(tokenName)
	if lw.Code != 201 || tok == "" {
		b.Fatalf("logon: %d", lw.Code)
	}
	path := q("type", "AgentBackupJob", "format", "Entities", "filter", "Platform==AgentForWindows;ScheduleEnabled==true", "sortAsc", "Name", "pageSize", "100", "page", "3")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set(tokenName, tok)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}
