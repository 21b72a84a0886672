package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/views"
)

// listRow is one row of the jobs table as a person reads it.
type listRow struct {
	id, name, platform, server, kind, schedule, result string
	lastRun, nextRun                                   time.Time
	actions                                            []string
}

func listRows(t *testing.T, r *response) []listRow {
	t.Helper()
	var out []listRow
	r.testid("job-row").Each(func(_ int, s *goquery.Selection) {
		cell := func(id string) *goquery.Selection { return s.Find(`[data-testid="` + id + `"]`) }
		when := func(id string) time.Time {
			v, ok := cell(id).Find("time").Attr("datetime")
			if !ok {
				return time.Time{}
			}
			tm, err := time.Parse(time.RFC3339, v)
			if err != nil {
				t.Fatalf("%s datetime %q: %v", id, v, err)
			}
			return tm
		}
		row := listRow{
			id:       s.AttrOr("data-job-id", ""),
			name:     strings.TrimSpace(cell("job-name").Text()),
			platform: strings.TrimSpace(cell("job-platform").Text()),
			server:   strings.TrimSpace(cell("job-server").Text()),
			kind:     strings.TrimSpace(cell("job-kind").Text()),
			schedule: strings.TrimSpace(cell("job-schedule").Text()),
			result:   cell("job-last-result").Find("[data-result]").AttrOr("data-result", "?"),
			lastRun:  when("job-last-run"),
			nextRun:  when("job-next-run"),
		}
		cell("job-actions").Find("[data-action]").Each(func(_ int, a *goquery.Selection) {
			row.actions = append(row.actions, a.AttrOr("data-action", ""))
		})
		out = append(out, row)
	})
	return out
}

func rowIDs(rows []listRow) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	return ids
}

func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func simIDs(jobs []emsim.JobSummary, keep func(emsim.JobSummary) bool) []string {
	var out []string
	for _, j := range jobs {
		if keep(j) {
			out = append(out, j.ID)
		}
	}
	slices.Sort(out)
	return out
}

// TestJobListPage: the full page and the htmx fragment of the list, and that an
// administrator sees exactly EM's fleet.
func TestJobListPage(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	fleet := p.sim.Jobs()

	full := c.get("/jobs")
	wantStatus(t, "GET /jobs", full, http.StatusOK)
	mustContain(t, "full page", full.Body, "<html", `data-testid="job-filter"`, `data-testid="site-header"`)
	rows := listRows(t, full)
	if len(rows) != len(fleet) {
		t.Fatalf("admin sees %d rows, EM has %d jobs", len(rows), len(fleet))
	}
	if got, want := sortedIDs(rowIDs(rows)), simIDs(fleet, func(emsim.JobSummary) bool { return true }); !slices.Equal(got, want) {
		t.Fatalf("row ids differ from EM's jobs:\n got %v\nwant %v", got, want)
	}
	if cnt := full.testid("job-count").Text(); !strings.Contains(cnt, strconv.Itoa(len(fleet))) {
		t.Errorf("job count %q does not say %d", cnt, len(fleet))
	}
	byID := map[string]emsim.JobSummary{}
	for _, j := range fleet {
		byID[j.ID] = j
	}
	for _, r := range rows {
		j := byID[r.id]
		if r.name != j.Name || r.server != j.Server {
			t.Errorf("row %s shows %q on %q, EM says %q on %q", r.id, r.name, r.server, j.Name, j.Server)
		}
		wantPlatform := map[string]string{"AgentForWindows": "Windows", "AgentForLinux": "Linux"}[j.Platform]
		if r.platform != wantPlatform {
			t.Errorf("row %q platform %q, want %q", r.name, r.platform, wantPlatform)
		}
		// EM states no kind (issue 11): the list shows none, not a guess.
		if r.kind != "" {
			t.Errorf("row %q shows kind %q, which EM does not state", r.name, r.kind)
		}
	}

	frag := c.get("/jobs?platform=Linux&sort=server&desc=1&page=1", htmx("job-table", "/jobs"))
	wantStatus(t, "htmx /jobs", frag, http.StatusOK)
	mustNotContain(t, "job-table fragment", frag.Body, "<html", "<body", `data-testid="site-header"`)
	if frag.testid("job-table").Length() != 1 || len(listRows(t, frag)) == 0 {
		t.Fatalf("fragment has no job table with rows:\n%s", truncate(frag.Body, 1500))
	}
	// The address bar gets the canonical URL: defaults (page 1) dropped.
	if got := frag.Header.Get("HX-Push-Url"); got != "/jobs?desc=1&platform=Linux&sort=server" {
		t.Errorf("HX-Push-Url = %q", got)
	}
	// A boosted request wants the whole page.
	boosted := c.get("/jobs", htmx("", "/jobs"), header("HX-Boosted", "true"))
	mustContain(t, "boosted /jobs", boosted.Body, "<html")
}

// TestJobListFilters: every filter narrows the list to what EM says matches.
func TestJobListFilters(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	fleet := p.sim.Jobs()
	all := listRows(t, c.get("/jobs?size=100"))
	fromList := func(keep func(listRow) bool) []string {
		var ids []string
		for _, r := range all {
			if keep(r) {
				ids = append(ids, r.id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	erin := p.jobNamed("Erin's laptop")

	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"name, any case", "q=kAFKA", simIDs(fleet, func(j emsim.JobSummary) bool { return strings.Contains(strings.ToLower(j.Name), "kafka") })},
		{"name with markup", "q=" + url.QueryEscape("<critical>"), simIDs(fleet, func(j emsim.JobSummary) bool { return strings.Contains(j.Name, "<critical>") })},
		{"computer", "q=erin-laptop.corp", []string{erin.ID}},
		{"platform Windows", "platform=Windows", simIDs(fleet, func(j emsim.JobSummary) bool { return j.Platform == "AgentForWindows" })},
		{"platform Linux", "platform=Linux", simIDs(fleet, func(j emsim.JobSummary) bool { return j.Platform == "AgentForLinux" })},
		{"server", "server=vbr-munich.corp.example", simIDs(fleet, func(j emsim.JobSummary) bool { return j.Server == "vbr-munich.corp.example" })},
		{"schedule enabled", "schedule=enabled", simIDs(fleet, func(j emsim.JobSummary) bool { return j.ScheduleEnabled })},
		{"schedule disabled", "schedule=disabled", fromList(func(r listRow) bool { return r.schedule == "Disabled" })},
		{"result Failed", "result=Failed", fromList(func(r listRow) bool { return r.result == views.ResultFailed })},
		{"result Success", "result=Success", fromList(func(r listRow) bool { return r.result == views.ResultSuccess })},
		{"result Warning", "result=Warning", fromList(func(r listRow) bool { return r.result == views.ResultWarning })},
		{"combined", "platform=Windows&server=vbr-berlin.corp.example&schedule=enabled", simIDs(fleet, func(j emsim.JobSummary) bool {
			return j.Platform == "AgentForWindows" && j.Server == "vbr-berlin.corp.example" && j.ScheduleEnabled
		})},
		{"no match", "q=no-such-job-anywhere", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want != nil && len(tt.want) == len(fleet) {
				t.Fatalf("filter %q would not narrow anything in this fleet", tt.query)
			}
			if tt.name != "no match" && len(tt.want) == 0 {
				t.Fatalf("fleet has no job for filter %q", tt.query)
			}
			r := c.get("/jobs?size=100&"+tt.query, htmx("job-table", "/jobs"))
			wantStatus(t, tt.query, r, http.StatusOK)
			got := sortedIDs(jobIDs(r))
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: got %d jobs %v, want %d %v", tt.query, len(got), got, len(tt.want), tt.want)
			}
			if len(tt.want) == 0 && r.testid("empty").Length() != 1 {
				t.Errorf("%s: no 'no job matches' message", tt.query)
			}
		})
	}
}

// TestJobListSort: every column sorts both ways, ties by name.
func TestJobListSort(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	byName := rowIDs(listRows(t, c.get("/jobs?size=100")))

	rank := map[string]int{views.ResultSuccess: 0, views.ResultWarning: 1, views.ResultFailed: 2, views.ResultNone: 3, "": 3}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	cmps := map[string]func(a, b listRow) int{
		"name":     func(a, b listRow) int { return 0 },
		"platform": func(a, b listRow) int { return strings.Compare(a.platform, b.platform) },
		"server":   func(a, b listRow) int { return strings.Compare(strings.ToLower(a.server), strings.ToLower(b.server)) },
		"schedule": func(a, b listRow) int { return b2i(a.schedule == "Enabled") - b2i(b.schedule == "Enabled") },
		"result":   func(a, b listRow) int { return rank[a.result] - rank[b.result] },
		"lastrun":  func(a, b listRow) int { return a.lastRun.Compare(b.lastRun) },
		"nextrun":  func(a, b listRow) int { return a.nextRun.Compare(b.nextRun) },
	}
	for _, col := range views.SortColumns() {
		t.Run(col, func(t *testing.T) {
			cmp, ok := cmps[col]
			if !ok {
				t.Fatalf("no comparison for column %q", col)
			}
			asc := listRows(t, c.get("/jobs?size=100&sort="+col, htmx("job-table", "/jobs")))
			desc := listRows(t, c.get("/jobs?size=100&desc=1&sort="+col, htmx("job-table", "/jobs")))
			if len(asc) != len(byName) || len(desc) != len(byName) {
				t.Fatalf("sorting changed the number of rows: %d/%d, want %d", len(asc), len(desc), len(byName))
			}
			for i := 1; i < len(asc); i++ {
				a, b := asc[i-1], asc[i]
				if c := cmp(a, b); c > 0 || c == 0 && strings.ToLower(a.name) > strings.ToLower(b.name) {
					t.Errorf("ascending by %s: %q before %q", col, a.name, b.name)
				}
			}
			for i := 1; i < len(desc); i++ {
				a, b := desc[i-1], desc[i]
				if c := cmp(a, b); c < 0 || c == 0 && strings.ToLower(a.name) < strings.ToLower(b.name) {
					t.Errorf("descending by %s: %q before %q", col, a.name, b.name)
				}
			}
			rev := rowIDs(desc)
			slices.Reverse(rev)
			if !slices.Equal(rowIDs(asc), rev) {
				t.Errorf("descending by %s is not the ascending order reversed", col)
			}
			if col != "name" && slices.Equal(rowIDs(asc), byName) {
				t.Errorf("sorting by %s gives the name order: not sorted at all?", col)
			}
			if col == "name" && !slices.Equal(rowIDs(asc), byName) {
				t.Errorf("sort=name differs from the default order")
			}
		})
	}
}

// TestJobListPaging: pages hold the right slice of the list; out-of-range pages
// clamp to the nearest page.
func TestJobListPaging(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	all := jobIDs(c.get("/jobs?size=100"))
	if len(all) != fleetSize {
		t.Fatalf("all jobs: %d", len(all))
	}
	const size = 10
	pages := (len(all) + size - 1) / size
	tests := []struct {
		page     string
		wantPage int
	}{
		{"1", 1}, {"2", 2}, {strconv.Itoa(pages), pages}, {"99", pages}, {"0", 1}, {"-3", 1}, {"abc", 1},
	}
	for _, tt := range tests {
		t.Run("page="+tt.page, func(t *testing.T) {
			r := c.get("/jobs?size=10&page="+url.QueryEscape(tt.page), htmx("job-table", "/jobs"))
			wantStatus(t, "page "+tt.page, r, http.StatusOK)
			lo := (tt.wantPage - 1) * size
			want := all[lo:min(lo+size, len(all))]
			if got := jobIDs(r); !slices.Equal(got, want) {
				t.Errorf("page=%s: got %v, want rows %d..%d %v", tt.page, got, lo, lo+len(want), want)
			}
			if cur := strings.TrimSpace(r.testid("page-current").Text()); !strings.HasSuffix(cur, strconv.Itoa(tt.wantPage)) {
				t.Errorf("page=%s: current page marker %q, want %d", tt.page, cur, tt.wantPage)
			}
			if tt.wantPage < pages {
				next, _ := r.testid("page-next").Attr("href")
				if !strings.Contains(next, "page="+strconv.Itoa(tt.wantPage+1)) || !strings.Contains(next, "size=10") {
					t.Errorf("page=%s: next link %q", tt.page, next)
				}
			}
		})
	}
	// The default page size shows everything of this small fleet on one page.
	if n := len(jobIDs(c.get("/jobs"))); n != fleetSize {
		t.Errorf("default page shows %d of %d jobs", n, fleetSize)
	}
}

// TestJobPage: the job page shows what EM holds, with hostile text inert.
func TestJobPage(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")

	t.Run("details", func(t *testing.T) {
		erin := p.jobNamed("Erin's laptop")
		r := c.get("/jobs/" + erin.ID)
		wantStatus(t, "job page", r, http.StatusOK)
		checks := map[string]string{
			"job-title":    erin.Name,
			"job-uid":      erin.UID,
			"job-id":       erin.ID,
			"job-platform": "Windows",
			"job-server":   erin.Server,
			"server-name":  erin.Server,
		}
		if r.testid("job-kind").Length() != 0 {
			t.Error("the job page shows a kind EM does not state")
		}
		for id, want := range checks {
			if got := strings.TrimSpace(r.testid(id).First().Text()); got != want {
				t.Errorf("%s = %q, want %q", id, got, want)
			}
		}
		if d := r.testid("job-description").Text(); !strings.Contains(d, "Personal laptop of Erin") {
			t.Errorf("description = %q", d)
		}
		// Daily at 12:30 CET, written in words.
		lines := r.testid("schedule-lines").Text()
		if !strings.Contains(lines, "12:30") || !strings.Contains(strings.ToLower(lines), "day") {
			t.Errorf("schedule in words = %q", lines)
		}
		var includes []string
		r.testid("include-name").Each(func(_ int, s *goquery.Selection) { includes = append(includes, strings.TrimSpace(s.Text())) })
		if !slices.Equal(includes, erin.Computers) {
			t.Errorf("includes = %v, want %v", includes, erin.Computers)
		}
		if ret := r.testid("retention").Text(); !strings.Contains(ret, "Keep") || !strings.Contains(ret, "14") {
			t.Errorf("retention = %q", ret)
		}
		if v := r.testid("server-version").Text(); v == "" {
			t.Errorf("no backup server version")
		}
		if n := r.testid("session-row").Length(); n != 10 {
			t.Errorf("%d session rows on the first page, want 10", n)
		}
		if r.testid("job-last-result").Find("[data-result]").AttrOr("data-result", "") != views.ResultSuccess {
			t.Errorf("last result is not Success: %s", r.testid("job-last-result").Text())
		}
	})

	t.Run("disabled schedule", func(t *testing.T) {
		var id string
		for _, j := range p.sim.Jobs() {
			if !j.ScheduleEnabled && !j.Policy && j.Name == "PostgreSQL primary & replica" {
				id = j.ID
			}
		}
		if id == "" {
			t.Skip("fleet changed: no disabled server-managed PostgreSQL job")
		}
		r := c.get("/jobs/" + id)
		if r.testid("schedule-disabled").Length() != 1 {
			t.Errorf("disabled schedule not said:\n%s", r.testid("schedule").Text())
		}
	})

	t.Run("hostile text is inert", func(t *testing.T) {
		var checked int
		for _, j := range p.sim.Jobs() {
			if !strings.ContainsAny(j.Name, "<&\"") {
				continue
			}
			r := c.get("/jobs/" + j.ID)
			wantStatus(t, j.Name, r, http.StatusOK)
			if got := r.testid("job-title").Text(); got != j.Name {
				t.Errorf("title %q, want %q", got, j.Name)
			}
			// The raw markup never carries the name unescaped.
			if strings.ContainsAny(j.Name, "<&") {
				mustNotContain(t, "page of "+j.Name, r.Body, ">"+j.Name+"<")
			}
			if strings.Contains(j.Name, "<") {
				tag := j.Name[strings.Index(j.Name, "<"):]
				tag = tag[:strings.Index(tag, ">")+1]
				mustNotContain(t, "page of "+j.Name, r.Body, tag)
				mustContain(t, "page of "+j.Name, r.Body, strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(tag))
			}
			if d := r.testid("job-description").Text(); strings.Contains(d, "<") {
				tag := d[strings.Index(d, "<"):]
				tag = tag[:strings.Index(tag, ">")+1]
				mustNotContain(t, "description of "+j.Name, r.Body, tag)
			}
			checked++
		}
		if checked == 0 {
			t.Fatal("fleet has no job with <, & or quotes in its name")
		}
		// Some description has markup in it; find one and check it too.
		found := false
		for _, j := range p.sim.Jobs() {
			r := c.get("/jobs/" + j.ID)
			d := r.testid("job-description").Text()
			if !strings.Contains(d, "<") {
				continue
			}
			found = true
			tag := d[strings.Index(d, "<"):]
			tag = tag[:strings.Index(tag, ">")+1]
			mustNotContain(t, "page of "+j.Name, r.Body, tag)
			mustContain(t, "page of "+j.Name, r.Body, strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(tag))
			break
		}
		if !found {
			t.Fatal("fleet has no description with markup in it")
		}
	})

	t.Run("sessions paging and computers", func(t *testing.T) {
		erin := p.jobNamed("Erin's laptop")
		first := c.get("/jobs/" + erin.ID)
		second := c.get("/jobs/"+erin.ID+"?spage=2", htmx("sessions-"+erin.ID, "/jobs/"+erin.ID))
		wantStatus(t, "spage=2", second, http.StatusOK)
		mustNotContain(t, "sessions fragment", second.Body, "<html", `data-testid="job-card"`)
		if cur := second.testid("spage-current").Text(); !strings.HasSuffix(strings.TrimSpace(cur), "2") {
			t.Errorf("session page marker %q, want 2", cur)
		}
		ids := func(r *response) []string {
			var out []string
			r.testid("session-row").Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr("data-session-id", "")) })
			return out
		}
		p1, p2 := ids(first), ids(second)
		if len(p2) == 0 || slices.ContainsFunc(p2, func(id string) bool { return slices.Contains(p1, id) }) {
			t.Errorf("page 2 sessions %v overlap page 1 %v", p2, p1)
		}
		// Past the last page: the last page, not an empty history.
		pages := first.testid("spage-link").Last().Text()
		last := c.get("/jobs/" + erin.ID + "?spage=999")
		if cur := strings.TrimSpace(last.testid("spage-current").Text()); !strings.HasSuffix(cur, strings.TrimSpace(pages)) || last.testid("session-row").Length() == 0 {
			t.Errorf("spage=999: current %q of %q with %d sessions", cur, pages, last.testid("session-row").Length())
		}
		// The computers of a session load lazily from the URL the row carries.
		lazy, ok := first.testid("session-children-lazy").First().Attr("hx-get")
		if !ok {
			t.Fatalf("no lazy computers link in the sessions table")
		}
		if want := "/jobs/" + erin.ID + "/sessions/" + p1[0] + "/computers"; lazy != want {
			t.Errorf("lazy computers URL %q, want %q", lazy, want)
		}
		kids := c.get(lazy, htmx("", "/jobs/"+erin.ID))
		wantStatus(t, "computers", kids, http.StatusOK)
		mustNotContain(t, "computers fragment", kids.Body, "<html")
		if got := strings.TrimSpace(kids.testid("session-child-name").Text()); !strings.Contains(got, "erin-laptop.corp.example") {
			t.Errorf("session computers = %q", got)
		}
		// The same URL without htmx is a page of its own.
		mustContain(t, "computers page", c.get(lazy).Body, "<html", "erin-laptop.corp.example")
		// A session of another job is not this job's.
		other := p.jobNamed("Domain controllers")
		wantStatus(t, "foreign session", c.get("/jobs/"+other.ID+"/sessions/"+p1[0]+"/computers"), http.StatusNotFound)
		wantStatus(t, "bad session id", c.get("/jobs/"+erin.ID+"/sessions/nope/computers"), http.StatusBadRequest)
	})

	t.Run("card fragment", func(t *testing.T) {
		erin := p.jobNamed("Erin's laptop")
		r := c.get("/jobs/"+erin.ID+"/card", htmx("job-card-"+erin.ID, "/jobs/"+erin.ID))
		wantStatus(t, "card", r, http.StatusOK)
		mustNotContain(t, "card fragment", r.Body, "<html", `data-testid="sessions"`)
		if id, _ := r.testid("job-card").Attr("data-job-id"); id != erin.ID {
			t.Errorf("card is for %q", id)
		}
		// The job page answers the card's target with the card alone, too.
		r = c.get("/jobs/"+erin.ID, htmx("job-card-"+erin.ID, "/jobs/"+erin.ID))
		mustNotContain(t, "job page as card", r.Body, "<html", `data-testid="sessions"`)
		mustContain(t, "job page as card", r.Body, `data-testid="job-card"`)
	})
}

// TestDeepLinkConfirm: /jobs/{id}?action=retry opens the confirmation when retry
// is possible and allowed, and never calls EM.
func TestDeepLinkConfirm(t *testing.T) {
	t.Parallel()
	p := newPortal(t)
	c := p.signIn("alice")
	failed := listRows(t, c.get("/jobs?result=Failed&size=100"))
	var retryable, succeeded listRow
	for _, r := range failed {
		if slices.Contains(r.actions, "retry") {
			retryable = r
			break
		}
	}
	if retryable.id == "" {
		t.Fatal("no failed job offers retry")
	}
	for _, r := range listRows(t, c.get("/jobs?result=Success&size=100")) {
		if !p.isPolicy(r.id) {
			succeeded = r
			break
		}
	}
	before := p.actionCalls()

	r := c.get("/jobs/" + retryable.id + "?action=retry")
	wantStatus(t, "deep link", r, http.StatusOK)
	panel := r.testid("confirm-panel")
	if panel.Length() != 1 {
		t.Fatalf("no confirmation on the deep-linked page")
	}
	if a, _ := panel.Find("form").Attr("action"); a != "/jobs/"+retryable.id+"/actions/retry" {
		t.Errorf("confirmation posts to %q", a)
	}
	if tok := panel.Find(`input[name="csrf"]`).AttrOr("value", ""); tok == c.csrf || csrfSecret(t, tok) != csrfSecret(t, c.csrf) {
		t.Errorf("confirmation form carries token %q, want the session's, masked anew", tok)
	}
	// Retry after a success is not possible: no confirmation.
	if r := c.get("/jobs/" + succeeded.id + "?action=retry"); r.testid("confirm-panel").Length() != 0 {
		t.Errorf("retry confirmation offered for a job whose last run succeeded")
	}
	// Unknown actions are ignored.
	if r := c.get("/jobs/" + retryable.id + "?action=delete"); r.testid("confirm-panel").Length() != 0 {
		t.Errorf("confirmation for an unknown action")
	}
	// Someone who may not retry gets no confirmation either.
	audrey := p.signIn("audrey")
	if r := audrey.get("/jobs/" + retryable.id + "?action=retry"); r.testid("confirm-panel").Length() != 0 {
		t.Errorf("auditor got a retry confirmation")
	}
	if n := p.actionCalls(); n != before {
		t.Errorf("deep links made %d EM action calls", n-before)
	}
}
