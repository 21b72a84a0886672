package views

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

const (
	timeLayout = "2006-01-02 15:04 MST"
	asOfLayout = "2006-01-02 15:04:05 MST"
	dash       = "—"
)

// htmxConfig keeps htmx within a CSP without 'unsafe-inline'/'unsafe-eval':
// no injected <style>, no eval (hx-on, js: values, trigger filters) and no
// executed <script> in swapped content. History is not cached in
// localStorage (job data on shared helpdesk PCs); back/forward reloads.
// A request gets 30 s (longer than the portal's own deadline, whose answer
// says more) before htmx gives up with htmx:timeout, which app.js reports.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,` +
	`"historyCacheSize":0,"refreshOnHistoryMiss":true,"selfRequestsOnly":true,"timeout":30000}`

// backgroundHeaders marks polling requests so handlers can tell them from
// user activity (e.g. not extend an idle session).
const backgroundHeaders = `{"X-Background":"1"}`

func pageTitle(t string) string {
	if t == "" {
		return "AgentDesk"
	}
	return t + " · AgentDesk"
}

// csrfHeaders is the JSON for hx-headers on <body>. json.Marshal escapes
// <, > and &; templ escapes the attribute, so no token can break out. The
// object is written around the marshalled token: every page has one.
func csrfHeaders(token string) string {
	b, err := json.Marshal(token)
	if err != nil {
		return "{}"
	}
	return `{"X-CSRF-Token":` + string(b) + `}`
}

// domID turns an id from EM into a fragment safe in an element id and in a
// CSS selector such as hx-target="#status-<id>". Job ids are GUIDs, so this
// normally changes nothing.
func domID(prefix, id string) string {
	if safeID(id) {
		return prefix + id
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(id))
	b.WriteString(prefix)
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func safeID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func sel(prefix, id string) string { return "#" + domID(prefix, id) }

// hxURL sanitizes a handler-built URL used in hx-get/hx-post the same way
// templ sanitizes href, so a javascript: value can never reach htmx.
func hxURL(u string) string { return string(templ.URL(u)) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return dash
	}
	return t.Format(timeLayout)
}

func isoTime(t time.Time) string { return t.Format(time.RFC3339) }

func fmtDuration(d time.Duration) string {
	if d <= 0 {
		return dash
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%d h %02d min", h, m)
	case m > 0:
		return fmt.Sprintf("%d min %02d s", m, s)
	default:
		return fmt.Sprintf("%d s", s)
	}
}

func clampPct(p int) int { return min(max(p, 0), 100) }

func pct(p int) string { return strconv.Itoa(clampPct(p)) + "%" }

// resultClass and resultLabel pair a colour with words: status is never
// conveyed by colour alone.
func resultClass(r string) string {
	switch r {
	case ResultSuccess:
		return "status status-success"
	case ResultWarning:
		return "status status-warning"
	case ResultFailed:
		return "status status-failed"
	default:
		return "status status-none"
	}
}

func resultLabel(r string) string {
	switch r {
	case ResultSuccess, ResultWarning, ResultFailed:
		return r
	case ResultNone:
		return "No result"
	case "":
		return "Never run"
	default:
		return r
	}
}

func resultIcon(r string) string {
	switch r {
	case ResultSuccess:
		return "✓"
	case ResultWarning:
		return "!"
	case ResultFailed:
		return "✕"
	default:
		return "–"
	}
}

func scheduleLabel(configured, enabled bool) string {
	switch {
	case !configured:
		return "Not scheduled"
	case enabled:
		return "Enabled"
	default:
		return "Disabled"
	}
}

func scheduleClass(configured, enabled bool) string {
	if configured && enabled {
		return "status status-enabled"
	}
	return "status status-disabled"
}

func colLabel(col string) string {
	switch col {
	case "name":
		return "Name"
	case "platform":
		return "Platform"
	case "server":
		return "Backup server"
	case "kind":
		return "Kind"
	case "schedule":
		return "Schedule"
	case "result":
		return "Last result"
	case "lastrun":
		return "Last run"
	case "nextrun":
		return "Next run"
	}
	return col
}

func sortMark(aria string) string {
	switch aria {
	case "ascending":
		return "▲"
	case "descending":
		return "▼"
	}
	return "↕"
}

func listSummary(m JobList) string {
	n := m.Total
	var s string
	switch n {
	case 0:
		s = "No jobs"
	case 1:
		s = "1 job"
	default:
		s = strconv.Itoa(n) + " jobs"
	}
	if m.Filter.Active() {
		s += " match the filters"
	}
	if m.Pages > 1 {
		s += ", page " + strconv.Itoa(m.page()) + " of " + strconv.Itoa(m.Pages)
	}
	return s
}

func sortCaption(m JobList) string {
	dir := "ascending"
	if m.Filter.Desc {
		dir = "descending"
	}
	return "sorted by " + strings.ToLower(colLabel(m.sortCol())) + ", " + dir
}

// withQuery appends k=v to a handler-built URL that may already have a query.
func withQuery(u, k string, v int) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + k + "=" + strconv.Itoa(v)
}

func itoa(n int) string { return strconv.Itoa(n) }

func flashClass(kind string) string {
	switch kind {
	case "success", "warning", "error":
		return "alert alert-" + kind
	}
	return "alert alert-info"
}

func (l Layout) nav() []NavLink {
	if len(l.Nav) > 0 {
		return l.Nav
	}
	return []NavLink{{Label: "Jobs", URL: l.BasePath + "/jobs"}}
}

func (l Layout) signOutURL() string {
	if l.SignOutURL != "" {
		return l.SignOutURL
	}
	return l.BasePath + "/auth/signout"
}

func (l Layout) homeURL() string {
	if l.BasePath == "" {
		return "/"
	}
	return l.BasePath + "/"
}

func (m SignIn) loginURL(basePath string) string {
	if m.LoginURL != "" {
		return m.LoginURL
	}
	return basePath + "/auth/login"
}

func confirmButtonClass(a ActionButton) string {
	if a.Danger {
		return "danger"
	}
	return "primary"
}

func errorTitle(e ErrorView) string {
	if e.Title != "" {
		return e.Title
	}
	switch {
	case e.Status == 404:
		return "Not found"
	case e.Status == 403:
		return "Not allowed"
	case e.Status >= 500:
		return "Something went wrong"
	}
	return "Something went wrong"
}

func serverOptions(m JobList) []KV {
	out := make([]KV, 0, len(m.Servers)+1)
	out = append(out, KV{"", "All servers"})
	for _, s := range m.Servers {
		out = append(out, KV{s, s})
	}
	return out
}

func statusLabel(m ActionState) string {
	if m.Label == "" {
		return "In progress"
	}
	return m.Label + " in progress"
}

func countLabel(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func sessionsCaption(m JobDetail) string {
	s := "Backup sessions, newest first"
	if m.SessionsPages > 1 {
		s += ", page " + strconv.Itoa(max(m.SessionsPage, 1)) + " of " + strconv.Itoa(m.SessionsPages)
	}
	return s
}

// sessionRunning: EM reports Result "None" until a session ends.
func sessionRunning(s SessionRow) bool {
	return s.End.IsZero() && (s.Result == "" || s.Result == ResultNone) && s.State != PlainEM(EMSessionState, "Stopped")
}

// withoutHeldEnable drops the enable button from a job's action group when the
// schedule-hold banner offers it ("Enable schedule now"): one button per action.
func withoutHeldEnable(actions []ActionButton, hold *HoldBanner) []ActionButton {
	if hold == nil || hold.Enable == nil {
		return actions
	}
	out := make([]ActionButton, 0, len(actions))
	for _, a := range actions {
		if a.Action != "enable" {
			out = append(out, a)
		}
	}
	return out
}

// childName is a per-computer session's computer, or its session name when
// the computer cannot be told from it.
func childName(s SessionRow) string {
	if s.Computer != "" {
		return s.Computer
	}
	return s.Name
}
