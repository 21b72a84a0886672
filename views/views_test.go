package views

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// allowedScripts is what the layout itself loads.
const allowedScripts = 3 // app.js, ui.js, htmx

// checkNoInjection asserts that rendering hostile text created no script,
// no event-handler attribute and no htmx attribute pointing at "/evil".
func checkNoInjection(t *testing.T, doc *goquery.Document, wantScripts int) {
	t.Helper()
	if n := doc.Find("script").Length(); n != wantScripts {
		t.Errorf("%d <script> elements, want %d", n, wantScripts)
	}
	if n := doc.Find("img").Length(); n != 0 {
		t.Errorf("%d <img> elements were created", n)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") {
				t.Errorf("<%s> has event handler attribute %s=%q", goquery.NodeName(s), a.Key, a.Val)
			}
			urlish := strings.HasPrefix(a.Key, "hx-") || a.Key == "href" || a.Key == "action" || a.Key == "src"
			if urlish && strings.Contains(a.Val, "/evil") {
				t.Errorf("<%s> attribute %s=%q carries hostile URL", goquery.NodeName(s), a.Key, a.Val)
			}
			if a.Key == "hx-trigger" && a.Val == "load" && s.AttrOr("data-testid", "") != "refresh-loader" {
				t.Errorf("unexpected hx-trigger=load on <%s>", goquery.NodeName(s))
			}
		}
	})
}

func TestHostileTextRendersAsText(t *testing.T) {
	for _, h := range hostile {
		t.Run(h, func(t *testing.T) {
			// jobs list: name, server and the page title carry the string
			m := sampleList(3)
			m.Rows[1].Name = h
			m.Rows[1].Server = h
			m.Filter.Q = h
			m.Servers = append(m.Servers, h)
			l := sampleLayout()
			l.Title = h
			l.User.DisplayName = h
			l.Flash = &Flash{Kind: h, Message: h}
			html := render(t, JobListPage(l, m))
			doc := parse(t, html)
			checkNoInjection(t, doc, allowedScripts)
			if got := doc.Find(`[data-testid="job-row"]`).Eq(1).Find(`[data-testid="job-name"]`).Text(); got != h {
				t.Errorf("job-name text = %q, want %q", got, h)
			}
			if got := doc.Find(`[data-testid="job-row"]`).Eq(1).Find(`[data-testid="job-server"]`).Text(); got != h {
				t.Errorf("job-server text = %q", got)
			}
			if got, _ := doc.Find("#filter-q").Attr("value"); got != h {
				t.Errorf("search value = %q", got)
			}
			if got := doc.Find("title").Text(); got != h+" · AgentDesk" {
				t.Errorf("title = %q", got)
			}
			if got := byTestID(doc, "user-name").Text(); got != h {
				t.Errorf("user-name = %q", got)
			}
			if got := byTestID(doc, "flash").Text(); got != h {
				t.Errorf("flash = %q", got)
			}
			if strings.Contains(html, "<script>alert") || strings.Contains(html, `" onmouseover="x`) {
				t.Error("raw hostile markup in output")
			}

			// job page: name, description, include names, sessions, links
			d := sampleDetail(h, h)
			d.Why = []string{h}
			d.Links = []KV{{h, h}}
			d.Includes[0].Name = h
			d.Sessions[0].Children[0].Computer = h
			d.Sessions[0].Children[1].Reason = h
			d.Sessions[0].State = h
			d.Schedule = []string{h}
			d.ScheduleRaw = []KV{{h, h}}
			doc = parse(t, render(t, JobPage(l, d)))
			checkNoInjection(t, doc, allowedScripts)
			for _, id := range []string{"job-title", "job-description", "include-name", "session-child-name", "session-child-reason", "em-link", "server-description"} {
				if got := byTestID(doc, id).First().Text(); got != h {
					t.Errorf("%s text = %q, want %q", id, got, h)
				}
			}
			if got := doc.Find(".breadcrumb [aria-current=page]").Text(); got != h {
				t.Errorf("breadcrumb = %q", got)
			}

			// confirmation, status and error fragments
			c := Confirm{JobID: jobID, JobName: h, Action: ActionButton{Action: ActionStart, Label: "Start", PostURL: "/backup/jobs/x/start", Confirm: h}, CancelURL: "/backup/jobs/x", CSRFToken: h}
			doc = parse(t, render(t, ConfirmPanel(c)))
			checkNoInjection(t, doc, 0)
			if got := byTestID(doc, "confirm-text").Text(); got != h {
				t.Errorf("confirm-text = %q", got)
			}
			if got, _ := doc.Find(`input[name="csrf"]`).Attr("value"); got != h {
				t.Errorf("csrf value = %q", got)
			}
			doc = parse(t, render(t, ActionStatus(ActionState{JobID: jobID, Label: "Start", State: StateRefused, Message: h, By: h})))
			checkNoInjection(t, doc, 0)
			if got := byTestID(doc, "status-by").Text(); got != "Started by "+h+"." {
				t.Errorf("status-by = %q", got)
			}
			doc = parse(t, render(t, ErrorFragment(ErrorView{Status: 502, Title: h, Message: h, RequestID: h})))
			checkNoInjection(t, doc, 0)
			if got := byTestID(doc, "error-message").Text(); got != h {
				t.Errorf("error-message = %q", got)
			}
		})
	}
}

func TestHostileURLsAreNeutralised(t *testing.T) {
	m := sampleList(1)
	m.Rows[0].URL = "javascript:alert(1)"
	m.Rows[0].Actions[0].ConfirmURL = "javascript:alert(2)"
	doc := parse(t, render(t, JobTable(m)))
	if href, _ := byTestID(doc, "job-name").Find("a").Attr("href"); strings.HasPrefix(href, "javascript") {
		t.Errorf("job link href = %q", href)
	}
	a := byTestID(doc, "action-start")
	for _, attr := range []string{"href", "hx-get"} {
		if v, _ := a.Attr(attr); strings.HasPrefix(v, "javascript") {
			t.Errorf("action %s = %q", attr, v)
		}
	}
}

func TestCSRFHeaderIsValidJSON(t *testing.T) {
	doc := parse(t, render(t, JobListPage(sampleLayout(), sampleList(1))))
	raw, ok := doc.Find("body").Attr("hx-headers")
	if !ok {
		t.Fatal("body has no hx-headers")
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		t.Fatalf("hx-headers %q: %v", raw, err)
	}
	if h["X-CSRF-Token"] != token {
		t.Errorf("X-CSRF-Token = %q, want %q", h["X-CSRF-Token"], token)
	}
	if got, _ := byTestID(doc, "signout-form").Find(`input[name="csrf"]`).Attr("value"); got != token {
		t.Errorf("sign-out csrf = %q", got)
	}
}

func TestLayout(t *testing.T) {
	l := sampleLayout()
	doc := parse(t, render(t, JobListPage(l, sampleList(2))))

	if lang, _ := doc.Find("html").Attr("lang"); lang != "en" {
		t.Errorf("lang = %q", lang)
	}
	var cfg map[string]any
	content, _ := doc.Find(`meta[name="htmx-config"]`).Attr("content")
	if err := json.Unmarshal([]byte(content), &cfg); err != nil {
		t.Fatalf("htmx-config %q: %v", content, err)
	}
	for _, k := range []string{"includeIndicatorStyles", "allowEval", "allowScriptTags"} {
		if cfg[k] != false {
			t.Errorf("htmx-config %s = %v, want false", k, cfg[k])
		}
	}
	scripts := doc.Find("script")
	wantSrc := []string{l.JSURL, l.UIURL, l.HTMXURL}
	scripts.Each(func(i int, s *goquery.Selection) {
		if n, _ := s.Attr("nonce"); n != l.CSPNonce {
			t.Errorf("script %d nonce = %q", i, n)
		}
		if src, _ := s.Attr("src"); src != wantSrc[i] {
			t.Errorf("script %d src = %q, want %q", i, src, wantSrc[i])
		}
		if strings.TrimSpace(s.Text()) != "" {
			t.Errorf("inline script content %q", s.Text())
		}
	})
	if href, _ := doc.Find(`link[rel="stylesheet"]`).Attr("href"); href != l.CSSURL {
		t.Errorf("stylesheet = %q", href)
	}
	if doc.Find("[style]").Length() != 0 || doc.Find("style").Length() != 0 {
		t.Error("inline styles would need style-src 'unsafe-inline'")
	}
	if href, _ := byTestID(doc, "skip-link").Attr("href"); href != "#main" || doc.Find("main#main").Length() != 1 {
		t.Error("skip link must point at main#main")
	}
	if doc.Find("header").Length() != 1 || doc.Find(`nav[aria-label="Main"]`).Length() != 1 {
		t.Error("missing header or main navigation landmark")
	}
	if href, _ := byTestID(doc, "nav-link").Attr("href"); href != "/backup/jobs" {
		t.Errorf("default nav link = %q", href)
	}
	if doc.Find("h1").Length() != 1 {
		t.Errorf("%d h1 elements", doc.Find("h1").Length())
	}
	if action, _ := byTestID(doc, "signout-form").Attr("action"); action != "/backup/auth/signout" {
		t.Errorf("sign-out action = %q", action)
	}
	if m, _ := byTestID(doc, "signout-form").Attr("method"); m != "post" {
		t.Errorf("sign-out method = %q", m)
	}
	if byTestID(doc, "theme-toggle").Text() == "" || byTestID(doc, "demo-banner").Length() != 1 {
		t.Error("theme toggle needs a text label; demo banner missing")
	}
	if doc.Find("#messages").Length() != 1 || doc.Find(`#announcer[aria-live="polite"]`).Length() != 1 {
		t.Error("message and announcer regions missing")
	}

	l.User, l.DemoBanner = nil, false
	doc = parse(t, render(t, SignInPage(l, SignIn{ReturnTo: "/backup/jobs?q=a", Message: "You have been signed out."})))
	if byTestID(doc, "user-menu").Length() != 0 || byTestID(doc, "nav-link").Length() != 0 || byTestID(doc, "demo-banner").Length() != 0 {
		t.Error("signed-out page shows user menu, navigation or banner")
	}
	f := byTestID(doc, "signin-form")
	if a, _ := f.Attr("action"); a != "/backup/auth/login" {
		t.Errorf("sign-in action = %q", a)
	}
	if v, _ := f.Find(`input[name="return_to"]`).Attr("value"); v != "/backup/jobs?q=a" {
		t.Errorf("return_to = %q", v)
	}
	if _, disabled := byTestID(doc, "signin-button").Attr("disabled"); disabled {
		t.Error("sign-in button disabled while the IdP is available")
	}
	doc = parse(t, render(t, SignInPage(l, SignIn{Unavailable: true})))
	if _, disabled := byTestID(doc, "signin-button").Attr("disabled"); !disabled || byTestID(doc, "signin-unavailable").Length() != 1 {
		t.Error("unavailable IdP must disable the button and say why")
	}
}

func TestFullPageVersusFragment(t *testing.T) {
	full := render(t, JobListPage(sampleLayout(), sampleList(3)))
	frag := render(t, JobTable(sampleList(3)))
	if !strings.HasPrefix(full, "<!doctype html>") {
		t.Errorf("full page starts with %.30q", full)
	}
	for _, tag := range []string{"<html", "<head", "<body", "<main", "<header"} {
		if strings.Contains(frag, tag) {
			t.Errorf("fragment contains %s", tag)
		}
	}
	if !strings.HasPrefix(frag, `<div id="job-table"`) {
		t.Errorf("fragment root is %.40q, want the #job-table region", frag)
	}
	if !strings.Contains(full, frag) {
		t.Error("the full page must embed exactly the fragment htmx swaps in")
	}

	d := sampleDetail("Erin's laptop", "")
	full = render(t, JobPage(sampleLayout(), d))
	card := render(t, JobCard(d))
	if !strings.HasPrefix(card, `<section id="job-card-`+jobID+`"`) {
		t.Errorf("card root is %.60q", card)
	}
	if !strings.Contains(full, card) {
		t.Error("job page must embed JobCard")
	}
	sessions := render(t, JobSessions(d))
	if !strings.Contains(full, sessions) || !strings.HasPrefix(sessions, `<section id="sessions-`+jobID+`"`) {
		t.Error("job page must embed JobSessions as #sessions-<id>")
	}
	doc := parse(t, full)
	if doc.Find("#confirm-"+jobID).Length() != 1 || doc.Find("#status-"+jobID).Length() != 1 {
		t.Error("job page needs the confirm and status regions")
	}
	if doc.Find("#job-card-"+jobID+" #confirm-"+jobID).Length() != 0 {
		t.Error("confirm region must live outside the card so card refreshes keep it")
	}
}

func TestSortLinksKeepFilters(t *testing.T) {
	m := sampleList(2)
	m.Filter = JobFilter{Q: "a b&c=d", Platform: PlatformLinux, Server: "vbr-munich.corp.example", Schedule: "disabled", Result: ResultFailed, Sort: "server", Page: 3, PageSize: 25}
	doc := parse(t, render(t, JobTable(m)))
	wantKept := map[string]string{"q": "a b&c=d", "platform": "Linux", "server": "vbr-munich.corp.example", "schedule": "disabled", "result": "Failed", "size": "25"}

	for _, col := range sortColumns {
		a := byTestID(doc, "sort-"+col)
		href, _ := a.Attr("href")
		if hx, _ := a.Attr("hx-get"); hx != href {
			t.Errorf("%s: hx-get %q != href %q", col, hx, href)
		}
		u, err := url.Parse(href)
		if err != nil || u.Path != "/backup/jobs" {
			t.Fatalf("%s: href %q", col, href)
		}
		q := u.Query()
		for k, v := range wantKept {
			if q.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", col, k, q.Get(k), v)
			}
		}
		if q.Has("page") {
			t.Errorf("%s: sorting must go back to page 1, got page=%s", col, q.Get("page"))
		}
		wantSort := col
		if col == DefaultSort {
			wantSort = ""
		}
		if q.Get("sort") != wantSort {
			t.Errorf("%s: sort = %q", col, q.Get("sort"))
		}
		// The current ascending column flips; "Last run" starts newest first.
		wantDesc := col == "server" || col == "lastrun"
		if q.Has("desc") != wantDesc {
			t.Errorf("%s: desc = %v, want %v", col, q.Has("desc"), wantDesc)
		}
		th := a.Closest("th")
		aria, has := th.Attr("aria-sort")
		if (col == "server") != has || (has && aria != "ascending") {
			t.Errorf("%s: aria-sort = %q (present %v)", col, aria, has)
		}
	}

	// hidden inputs take sort and size along when the filter form changes
	if v, _ := doc.Find(`input[name="sort"][form="job-filter"]`).Attr("value"); v != "server" {
		t.Errorf("hidden sort input = %q", v)
	}
	if v, _ := doc.Find(`input[name="size"][form="job-filter"]`).Attr("value"); v != "25" {
		t.Errorf("hidden size input = %q", v)
	}

	// pager links keep filters and sort
	pager := byTestID(doc, "pager")
	if pager.Length() != 1 {
		t.Fatal("no pager")
	}
	links := pager.Find("a")
	if links.Length() == 0 {
		t.Fatal("no page links")
	}
	links.Each(func(_ int, a *goquery.Selection) {
		href, _ := a.Attr("href")
		u, _ := url.Parse(href)
		q := u.Query()
		for k, v := range wantKept {
			if q.Get(k) != v {
				t.Errorf("page link %q: %s = %q", href, k, q.Get(k))
			}
		}
		if q.Get("sort") != "server" {
			t.Errorf("page link %q lost the sort", href)
		}
		if v, _ := a.Attr("hx-push-url"); v != "true" {
			t.Errorf("page link %q does not push the URL", href)
		}
	})
	if href, _ := byTestID(doc, "page-next").Attr("href"); !strings.Contains(href, "page=4") {
		t.Errorf("next = %q", href)
	}
	if href, _ := byTestID(doc, "page-prev").Attr("href"); !strings.Contains(href, "page=2") {
		t.Errorf("prev = %q", href)
	}
	if got := byTestID(doc, "page-current").Text(); got != "Page 3" {
		t.Errorf("current page = %q", got)
	}
}

func TestParseJobFilterRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  JobFilter
	}{
		{"empty", "", JobFilter{Sort: "name", Page: 1}},
		{"all", "q=x+y&platform=Linux&server=s&schedule=enabled&result=None&sort=nextrun&desc=1&page=4&size=50",
			JobFilter{Q: "x y", Platform: "Linux", Server: "s", Schedule: "enabled", Result: "None", Sort: "nextrun", Desc: true, Page: 4, PageSize: 50}},
		{"junk dropped", "platform=Mac&schedule=maybe&result=%3Cb%3E&sort=password&page=-3&size=x",
			JobFilter{Sort: "name", Page: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			got := ParseJobFilter(v)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseJobFilter = %+v, want %+v", got, tt.want)
			}
			if back := ParseJobFilter(got.Values()); !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip = %+v, want %+v", back, got)
			}
		})
	}
}

func TestPageWindow(t *testing.T) {
	tests := []struct {
		cur, pages int
		want       []int
	}{
		{1, 1, []int{1}},
		{1, 3, []int{1, 2, 3}},
		{5, 10, []int{1, 0, 3, 4, 5, 6, 7, 0, 10}},
		{1, 10, []int{1, 2, 3, 0, 10}},
		{10, 10, []int{1, 0, 8, 9, 10}},
	}
	for _, tt := range tests {
		if got := pageWindow(tt.cur, tt.pages); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("pageWindow(%d, %d) = %v, want %v", tt.cur, tt.pages, got, tt.want)
		}
	}
}

func TestJobTableRows(t *testing.T) {
	m := sampleList(4)
	doc := parse(t, render(t, JobTable(m)))
	rows := byTestID(doc, "job-row")
	if rows.Length() != 4 {
		t.Fatalf("%d rows", rows.Length())
	}
	r := rows.Eq(2) // running, Windows, schedule enabled, Failed
	want := map[string]string{
		"job-platform": "Windows", "job-server": "vbr-berlin.corp.example",
		"job-schedule": "Enabled", "job-next-run": "2026-03-14 12:26 CET", "job-last-run": "2026-03-14 07:26 CET",
	}
	for id, w := range want {
		if got := strings.TrimSpace(r.Find(`[data-testid="` + id + `"]`).Text()); got != w {
			t.Errorf("%s = %q, want %q", id, got, w)
		}
	}
	// EM states no job kind: the list has no kind column (issue 11).
	if n := doc.Find(`[data-testid="job-kind"], [data-testid="sort-kind"]`).Length(); n != 0 {
		t.Errorf("%d kind cells or headers in the list", n)
	}
	if got := r.Find(`[data-testid="job-last-result"] [data-result]`).Text(); !strings.Contains(got, "Failed") {
		t.Errorf("last result = %q", got)
	}
	prog := r.Find(`[data-testid="job-running"] progress`)
	if v, _ := prog.Attr("value"); v != "42" || !strings.Contains(r.Find(`[data-testid="job-running"]`).Text(), "42%") {
		t.Errorf("progress value %q, text %q", v, r.Find(`[data-testid="job-running"]`).Text())
	}
	if rows.Eq(0).Find("progress").Length() != 0 {
		t.Error("idle job shows progress")
	}
	// schedule disabled: no next run, label in words
	r0 := rows.Eq(0)
	if got := strings.TrimSpace(r0.Find(`[data-testid="job-schedule"]`).Text()); got != "Disabled" {
		t.Errorf("schedule = %q", got)
	}
	if got := strings.TrimSpace(r0.Find(`[data-testid="job-next-run"]`).Text()); got != "—" {
		t.Errorf("next run of disabled schedule = %q", got)
	}
	// every header is a column header; the name cell is the row header
	doc.Find("thead th").Each(func(_ int, th *goquery.Selection) {
		if s, _ := th.Attr("scope"); s != "col" {
			t.Errorf("th %q scope = %q", th.Text(), s)
		}
	})
	if doc.Find("caption").Length() != 1 {
		t.Error("table needs a caption")
	}
	if byTestID(doc, "as-of").Find("time").AttrOr("datetime", "") != "2026-03-14T09:26:53+01:00" {
		t.Error("as-of time missing")
	}
}

func TestEmptyState(t *testing.T) {
	m := sampleList(0)
	m.Total, m.Pages = 0, 0
	doc := parse(t, render(t, JobTable(m)))
	if byTestID(doc, "empty").Length() != 1 || byTestID(doc, "jobs-table").Length() != 0 || byTestID(doc, "pager").Length() != 0 {
		t.Fatal("empty state not rendered")
	}
	if !strings.Contains(byTestID(doc, "empty").Text(), "No job matches") {
		t.Errorf("empty text = %q", byTestID(doc, "empty").Text())
	}
	m.Filter = JobFilter{}
	doc = parse(t, render(t, JobTable(m)))
	if !strings.Contains(byTestID(doc, "empty").Text(), "no jobs you can see") {
		t.Errorf("unfiltered empty text = %q", byTestID(doc, "empty").Text())
	}
}

func TestFilterForm(t *testing.T) {
	m := sampleList(1)
	m.Filter.Server = "vbr-munich.corp.example"
	doc := parse(t, render(t, JobListPage(sampleLayout(), m)))
	form := byTestID(doc, "job-filter")
	if method, _ := form.Attr("method"); method != "get" {
		t.Errorf("method = %q", method)
	}
	if a, _ := form.Attr("action"); a != "/backup/jobs" {
		t.Errorf("action = %q", a)
	}
	q := byTestID(doc, "filter-q")
	for attr, want := range map[string]string{
		"hx-get": "/backup/jobs", "hx-target": "#job-table", "hx-push-url": "true",
		"hx-trigger": "input changed delay:300ms, search", "hx-include": "closest form", "name": "q", "value": "erin",
	} {
		if got, _ := q.Attr(attr); got != want {
			t.Errorf("search %s = %q, want %q", attr, got, want)
		}
	}
	// every control has a label
	form.Find("input:not([type=hidden]), select").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("id")
		if id == "" || doc.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("control %q has no label", id)
		}
		if s.Is("select") {
			if tr, _ := s.Attr("hx-trigger"); tr != "change" {
				t.Errorf("select %s trigger = %q", id, tr)
			}
		}
	})
	if v := byTestID(doc, "filter-server").Find("option[selected]").AttrOr("value", ""); v != "vbr-munich.corp.example" {
		t.Errorf("selected server = %q", v)
	}
	if v := byTestID(doc, "filter-platform").Find("option[selected]").AttrOr("value", ""); v != "Windows" {
		t.Errorf("selected platform = %q", v)
	}
}

func TestActionsRenderOnlyGivenButtons(t *testing.T) {
	tests := []struct {
		name    string
		actions []ActionButton
	}{
		{"none", nil},
		{"start only", []ActionButton{{Action: ActionStart, Label: "Start", ConfirmURL: "/c/start", PostURL: "/p/start"}}},
		{"stop and enable", []ActionButton{
			{Action: ActionStop, Label: "Stop", ConfirmURL: "/c/stop", PostURL: "/p/stop", Danger: true},
			{Action: ActionEnable, Label: "Enable schedule", ConfirmURL: "/c/enable", PostURL: "/p/enable"},
		}},
	}
	all := []string{ActionStart, ActionStop, ActionRetry, ActionEnable, ActionDisable}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sampleDetail("Job", "")
			d.Actions = tt.actions
			m := sampleList(1)
			m.Rows[0].Actions = tt.actions
			for name, html := range map[string]string{"page": render(t, JobPage(sampleLayout(), d)), "table": render(t, JobTable(m))} {
				doc := parse(t, html)
				given := map[string]ActionButton{}
				for _, a := range tt.actions {
					given[a.Action] = a
				}
				for _, act := range all {
					sel := byTestID(doc, "action-"+act)
					a, ok := given[act]
					if !ok {
						if sel.Length() != 0 {
							t.Errorf("%s: %s rendered but not given", name, act)
						}
						continue
					}
					if sel.Length() != 1 {
						t.Fatalf("%s: %s missing", name, act)
					}
					if sel.Find(`[data-testid="action-label"]`).Text() != a.Label || sel.AttrOr("href", "") != a.ConfirmURL || sel.AttrOr("hx-get", "") != a.ConfirmURL {
						t.Errorf("%s: %s = %q href %q", name, act, sel.Text(), sel.AttrOr("href", ""))
					}
					id := d.ID
					if name == "table" {
						id = m.Rows[0].ID
					}
					if tgt := sel.Closest("[hx-target]").AttrOr("hx-target", ""); tgt != "#confirm-"+id || doc.Find(tgt).Length() != 1 {
						t.Errorf("%s: %s hx-target %q has no element", name, act, tgt)
					}
				}
				if len(tt.actions) == 0 && byTestID(doc, "actions").Length() != 0 {
					t.Errorf("%s: empty action list rendered", name)
				}
			}
		})
	}
}

func TestConfirmPanel(t *testing.T) {
	btn := ActionButton{Action: ActionEnable, Label: "Enable schedule", ConfirmURL: "/backup/jobs/" + jobID + "/confirm/enable",
		PostURL: "/backup/jobs/" + jobID + "/schedule", Confirm: "The job runs by itself again, next at 16:00."}
	c := Confirm{JobID: jobID, JobName: "Erin's laptop", Action: btn, Desired: "enabled", CancelURL: "/backup/jobs/" + jobID, CSRFToken: token}
	doc := parse(t, render(t, ConfirmPanel(c)))
	form := byTestID(doc, "confirm-form")
	for attr, want := range map[string]string{
		"method": "post", "action": btn.PostURL, "hx-post": btn.PostURL,
		"hx-target": "#status-" + jobID, "hx-swap": "outerHTML", "hx-disabled-elt": "find button",
	} {
		if got, _ := form.Attr(attr); got != want {
			t.Errorf("form %s = %q, want %q", attr, got, want)
		}
	}
	if v, _ := form.Find(`input[type=hidden][name=csrf]`).Attr("value"); v != token {
		t.Errorf("csrf = %q", v)
	}
	if v, _ := form.Find(`input[type=hidden][name=desired]`).Attr("value"); v != "enabled" {
		t.Errorf("desired = %q", v)
	}
	submit := byTestID(doc, "confirm-submit")
	if _, ok := submit.Attr("autofocus"); !ok || submit.Text() != "Enable schedule" || submit.AttrOr("type", "") != "submit" {
		t.Errorf("submit button: %q autofocus=%v", submit.Text(), ok)
	}
	if byTestID(doc, "confirm-text").Text() != btn.Confirm {
		t.Error("confirm sentence missing")
	}
	cancel := byTestID(doc, "confirm-cancel")
	if cancel.AttrOr("href", "") != c.CancelURL || cancel.AttrOr("data-dismiss", "") != "confirm-"+jobID {
		t.Errorf("cancel href %q dismiss %q", cancel.AttrOr("href", ""), cancel.AttrOr("data-dismiss", ""))
	}

	// no "desired" for start; danger styling for stop
	c.Action, c.Desired = ActionButton{Action: ActionStop, Label: "Stop", PostURL: "/p", Danger: true, Confirm: "The running backup is stopped now; the restore point will be partial."}, ""
	doc = parse(t, render(t, ConfirmPanel(c)))
	if doc.Find(`input[name=desired]`).Length() != 0 {
		t.Error("desired rendered for stop")
	}
	if !byTestID(doc, "confirm-submit").HasClass("danger") {
		t.Error("stop must be styled as dangerous")
	}

	// full page: breadcrumb back, the panel, and a status region for htmx
	doc = parse(t, render(t, ConfirmPage(sampleLayout(), c)))
	if byTestID(doc, "confirm-panel").Length() != 1 || doc.Find("#status-"+jobID).Length() != 1 || doc.Find("h1").Length() != 1 {
		t.Error("confirm page needs the panel, a status region and one h1")
	}
	if _, ok := doc.Find("#confirm-" + jobID).Attr("data-confirm-region"); ok {
		t.Error("on the stand-alone page Cancel must navigate, not dismiss")
	}
}

func TestActionStatus(t *testing.T) {
	base := ActionState{JobID: jobID, Action: ActionStart, Label: "Start", TaskID: "task-42",
		PollURL: "/backup/jobs/" + jobID + "/actions/task-42", CardURL: "/backup/jobs/" + jobID + "/card"}

	t.Run("running polls", func(t *testing.T) {
		m := base
		m.State, m.Progress, m.Message = StateRunning, 35, "Backup is starting."
		doc := parse(t, render(t, ActionStatus(m)))
		s := byTestID(doc, "action-status")
		for attr, want := range map[string]string{
			"id": "status-" + jobID, "hx-get": m.PollURL, "hx-trigger": "every 1s, wake", "hx-swap": "outerHTML",
			"role": "status", "aria-live": "polite", "data-state": StateRunning,
		} {
			if got, _ := s.Attr(attr); got != want {
				t.Errorf("%s = %q, want %q", attr, got, want)
			}
		}
		if _, ok := s.Attr("data-poll"); !ok {
			t.Error("missing data-poll (app.js pauses it while hidden)")
		}
		var h map[string]string
		if err := json.Unmarshal([]byte(s.AttrOr("hx-headers", "")), &h); err != nil || h["X-Background"] != "1" {
			t.Errorf("hx-headers = %q", s.AttrOr("hx-headers", ""))
		}
		if v := s.Find("progress").AttrOr("value", ""); v != "35" {
			t.Errorf("progress = %q", v)
		}
		if byTestID(doc, "refresh-loader").Length() != 0 {
			t.Error("card reload while still running")
		}
		if byTestID(doc, "confirm-region").Length() != 0 {
			t.Error("confirm cleared without ClearConfirm")
		}
	})

	t.Run("unknown keeps polling", func(t *testing.T) {
		m := base
		m.State = StateUnknown
		doc := parse(t, render(t, ActionStatus(m)))
		s := byTestID(doc, "action-status")
		if s.AttrOr("hx-get", "") != m.PollURL || !strings.Contains(s.AttrOr("hx-trigger", ""), "every 1s") {
			t.Error("unknown state must keep polling")
		}
		if !strings.Contains(s.Text(), "State unknown") || !strings.Contains(s.Text(), "Refreshing…") {
			t.Errorf("text = %q", s.Text())
		}
		// A timed-out action says that it may still happen.
		m.Message = "Enterprise Manager did not answer in time. The action may still happen; AgentDesk keeps checking."
		doc = parse(t, render(t, ActionStatus(m)))
		if got := byTestID(doc, "status-message").Text(); !strings.Contains(got, "may still happen") {
			t.Errorf("text = %q", got)
		}
	})

	t.Run("undetermined stops and reloads card", func(t *testing.T) {
		m := base
		m.State, m.Message = StateUndetermined, "EM did not confirm the action; check the job's sessions"
		doc := parse(t, render(t, ActionStatus(m)))
		s := byTestID(doc, "action-status")
		if _, ok := s.Attr("hx-get"); ok {
			t.Error("an undetermined outcome must stop polling")
		}
		if !strings.Contains(s.Text(), "outcome unknown") || !strings.Contains(s.Text(), m.Message) {
			t.Errorf("text = %q", s.Text())
		}
		if byTestID(doc, "refresh-loader").AttrOr("hx-get", "") != m.CardURL {
			t.Error("an undetermined outcome must reload the card")
		}
	})

	for _, st := range []string{StateFinished, StateFailed} {
		t.Run(st+" stops and reloads card", func(t *testing.T) {
			m := base
			m.State, m.Message = st, "Backup started on 12 computers."
			doc := parse(t, render(t, ActionStatus(m)))
			s := byTestID(doc, "action-status")
			if _, ok := s.Attr("hx-trigger"); ok || doc.Find("[data-poll]").Length() != 0 || doc.Find(`[hx-trigger*="every"]`).Length() != 0 {
				t.Error("finished status still polls")
			}
			if s.AttrOr("id", "") != "status-"+jobID {
				t.Error("finished status must keep its id for the next action")
			}
			l := byTestID(doc, "refresh-loader")
			for attr, want := range map[string]string{"hx-get": m.CardURL, "hx-trigger": "load", "hx-target": "#job-card-" + jobID, "hx-swap": "outerHTML"} {
				if got, _ := l.Attr(attr); got != want {
					t.Errorf("loader %s = %q, want %q", attr, got, want)
				}
			}
			if !strings.Contains(s.Text(), m.Message) {
				t.Errorf("message missing: %q", s.Text())
			}
			if alert := s.Find(`[role="alert"]`).Length(); (st == StateFailed) != (alert == 1) {
				t.Errorf("%s: %d alerts", st, alert)
			}
		})
	}

	t.Run("row refresh on the list", func(t *testing.T) {
		m := base
		m.State, m.RowURL = StateFinished, "/backup/jobs/"+jobID+"/row"
		doc := parse(t, render(t, ActionStatus(m)))
		l := byTestID(doc, "refresh-loader")
		if l.AttrOr("hx-get", "") != m.RowURL || l.AttrOr("hx-target", "") != "#job-row-"+jobID || l.Length() != 1 {
			t.Errorf("row loader = %q -> %q", l.AttrOr("hx-get", ""), l.AttrOr("hx-target", ""))
		}
	})

	t.Run("refused names the holder", func(t *testing.T) {
		m := base
		m.State, m.By = StateRefused, "Hanna Helpdesk"
		doc := parse(t, render(t, ActionStatus(m)))
		if doc.Find("[hx-trigger*=every]").Length() != 0 {
			t.Error("refused must not poll")
		}
		// It says the job's state changed: the card is refreshed to show it.
		if byTestID(doc, "refresh-loader").AttrOr("hx-get", "") != m.CardURL {
			t.Error("refused must reload the card")
		}
		if got := byTestID(doc, "status-by").Text(); got != "Started by Hanna Helpdesk." {
			t.Errorf("by = %q", got)
		}
	})

	t.Run("clear confirm out of band", func(t *testing.T) {
		m := base
		m.State, m.ClearConfirm = StateRunning, true
		doc := parse(t, render(t, ActionStatus(m)))
		c := doc.Find("#confirm-" + jobID)
		if c.AttrOr("hx-swap-oob", "") != "true" || strings.TrimSpace(c.Text()) != "" {
			t.Error("ClearConfirm must empty #confirm-<id> out of band")
		}
	})
}

func TestJobPage(t *testing.T) {
	d := sampleDetail("Berlin laptops", "Laptops of the Berlin office")
	doc := parse(t, render(t, JobPage(sampleLayout(), d)))

	if doc.Find("h1").Length() != 1 || byTestID(doc, "job-title").Text() != "Berlin laptops" {
		t.Error("one h1 with the job name")
	}
	// headings in order: no h3 before the first h2, nothing skips a level
	prev := 1
	doc.Find("main h1, main h2, main h3, main h4").Each(func(_ int, h *goquery.Selection) {
		lvl := int(goquery.NodeName(h)[1] - '0')
		if lvl > prev+1 {
			t.Errorf("heading %q jumps from h%d to h%d", h.Text(), prev, lvl)
		}
		prev = lvl
	})
	card := byTestID(doc, "job-card")
	if card.AttrOr("id", "") != "job-card-"+jobID {
		t.Errorf("card id = %q", card.AttrOr("id", ""))
	}
	p := byTestID(doc, "card-poller")
	if p.AttrOr("hx-get", "") != d.CardURL || p.AttrOr("hx-target", "") != "#job-card-"+jobID || !strings.Contains(p.AttrOr("hx-trigger", ""), "every") {
		t.Error("running job card must poll its CardURL")
	}
	if _, ok := p.Attr("data-poll"); !ok {
		t.Error("card poller needs data-poll")
	}
	if byTestID(doc, "why").Text() != d.Why[0] {
		t.Error("why missing")
	}
	if got := byTestID(doc, "schedule-lines").Find("li").Length(); got != len(d.Schedule) {
		t.Errorf("%d schedule lines", got)
	}
	if byTestID(doc, "schedule-raw").Is("details") == false {
		t.Error("raw schedule must be collapsed in <details>")
	}
	if byTestID(doc, "include-row").Length() != 3 || byTestID(doc, "include-kind").Eq(1).Text() != "Protection group" ||
		byTestID(doc, "include-kind").Eq(2).Text() != "" {
		t.Error("includes not rendered, or a kind shown that HierarchyObjRef does not state")
	}
	if byTestID(doc, "job-kind").Length() != 0 {
		t.Error("a job kind is shown though EM states none")
	}
	rows := byTestID(doc, "session-row")
	if rows.Length() != 3 {
		t.Fatalf("%d session rows", rows.Length())
	}
	if rows.Eq(0).Find(`[data-testid="session-children"] details summary`).Text() != "2 computers" ||
		byTestID(doc, "session-child-name").First().Text() != "erin-laptop.corp.example" {
		t.Error("child sessions must be in an expandable <details>, named by computer")
	}
	if got := byTestID(doc, "session-child-reason").Text(); !strings.Contains(got, `Not enough space on the backup repository "Repo-01"`) {
		t.Errorf("failed computer's reason = %q", got)
	}
	if byTestID(doc, "session-retry").Length() != 1 {
		t.Error("retry session not marked")
	}
	if got := strings.TrimSpace(rows.Eq(2).Find(`[data-testid="session-duration"]`).Text()); got != "1 min 23 s" {
		t.Errorf("duration = %q", got)
	}
	links := byTestID(doc, "spage-link")
	if links.Length() != 3 {
		t.Errorf("%d session page links", links.Length())
	}
	links.Each(func(_ int, a *goquery.Selection) {
		href := a.AttrOr("href", "")
		if !strings.HasPrefix(href, d.URL+"?spage=") || a.AttrOr("hx-get", "") != href ||
			a.AttrOr("hx-target", "") != "#sessions-"+jobID || a.AttrOr("hx-select", "") != "#sessions-"+jobID {
			t.Errorf("session page link %q -> %q", href, a.AttrOr("hx-target", ""))
		}
	})
	if byTestID(doc, "spage-current").Text() != "Page 2" {
		t.Error("current session page")
	}
	if byTestID(doc, "refresh").AttrOr("href", "") != d.URL || byTestID(doc, "as-of").Find("time").Length() != 1 {
		t.Error("as-of and refresh missing")
	}
	if byTestID(doc, "em-link").Parent().Is("a") || doc.Find(`a[href^="https://em."]`).Length() != 0 {
		t.Error("EM links are shown as text, never followed")
	}

	// an action in flight resumes polling on reload
	d.Status = &ActionState{JobID: jobID, State: StateRunning, PollURL: "/poll", Label: "Start"}
	d.Running = false
	doc = parse(t, render(t, JobPage(sampleLayout(), d)))
	if byTestID(doc, "action-status").AttrOr("hx-get", "") != "/poll" {
		t.Error("Status must render a polling status")
	}
	// ...and the card polls while the action is in progress, so it shows
	// Running and Stop as soon as EM reports them; a settled card does not.
	d.Poll = "1s"
	doc = parse(t, render(t, JobPage(sampleLayout(), d)))
	if !strings.Contains(byTestID(doc, "card-poller").AttrOr("hx-trigger", ""), "every 1s") {
		t.Error("a card with an action in progress must poll")
	}
	d.Poll, d.Status = "", nil
	doc = parse(t, render(t, JobPage(sampleLayout(), d)))
	if byTestID(doc, "card-poller").Length() != 0 {
		t.Error("a settled card must not poll")
	}
}

func TestErrorViews(t *testing.T) {
	e := ErrorView{Status: 503, Message: "Enterprise Manager does not answer. The jobs will be back when it does.", RetryURL: "/backup/jobs", RequestID: "req-7"}
	doc := parse(t, render(t, ErrorPage(sampleLayout(), e)))
	if doc.Find("h1").Text() != "Something went wrong" || byTestID(doc, "error-retry").AttrOr("href", "") != "/backup/jobs" ||
		byTestID(doc, "error-request-id").Text() != "req-7" || byTestID(doc, "error-status").Text() != "Error 503" {
		t.Error("error page content")
	}
	frag := render(t, ErrorFragment(e))
	doc = parse(t, frag)
	if _, ok := byTestID(doc, "error").Attr("data-error-fragment"); !ok {
		t.Error("app.js finds error fragments by data-error-fragment")
	}
	if strings.Contains(frag, "<html") || doc.Find("h2").Length() != 1 || doc.Find(`[role="alert"]`).Length() != 1 {
		t.Error("error fragment must be an alert with an h2, no document")
	}
}

func TestGoldenPages(t *testing.T) {
	tests := []struct {
		file string
		c    templ.Component
	}{
		{"joblist_page.golden.html", JobListPage(sampleLayout(), sampleList(4))},
		{"job_page.golden.html", JobPage(sampleLayout(), sampleDetail("Erin's laptop", "Laptop of Erin <erin@corp.example> & team"))},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			checkGolden(t, tt.file, render(t, tt.c))
		})
	}
}

func TestDomIDKeepsSelectorsSafe(t *testing.T) {
	tests := map[string]string{
		jobID:         "status-" + jobID,
		`a"b <c>#d.e`: "status-a_b__c__d_e",
		"ü":           "status-_",
		"":            "status-",
	}
	for in, want := range tests {
		if got := domID("status-", in); got != want {
			t.Errorf("domID(%q) = %q, want %q", in, got, want)
		}
	}
}
