// Package paths builds the portal's own addresses, below its base path, for
// the links, forms and htmx attributes the handlers put into view models and
// for the redirects they send. handlers/routes.go declares the routes these
// addresses reach; a test there checks that each address built here is
// routed to the handler it is meant for, base path included.
//
// Ids are path-escaped: a job id is a validated GUID by the time it gets
// here, but an address must not change shape whatever it is given.
package paths

import (
	"net/url"

	"github.com/agentdesk/agentdesk/jobs"
)

// Paths builds addresses below one base path.
type Paths struct{ base string }

// New returns the builder for a portal served below base: "" (the root) or a
// path such as "/backup", without a trailing slash.
func New(base string) Paths { return Paths{base: base} }

// Base is the base path itself ("" at the root).
func (p Paths) Base() string { return p.base }

// View is the view a job's polled fragments belong to: a fragment refreshes
// itself in the shape of the view it is shown in.
type View string

// The views of a job. JobView, the job page and its card, needs no parameter.
const (
	JobView  View = ""     // the job page
	RowView  View = "row"  // a row of the jobs list
	MineView View = "mine" // a card of "My backups"
)

// ViewParam is the query parameter that carries a View.
const ViewParam = "view"

// ViewOf is the view a request's query names; unknown values are JobView.
func ViewOf(q url.Values) View {
	switch v := View(q.Get(ViewParam)); v {
	case RowView, MineView:
		return v
	}
	return JobView
}

// InView is addr, an address built here, shown in view v: its view
// parameter set (or removed for JobView), the rest kept.
func InView(addr string, v View) string {
	u, err := url.Parse(addr)
	if err != nil {
		return addr // not built here; leave it as it is
	}
	q := u.Query()
	if v == JobView {
		q.Del(ViewParam)
	} else {
		q.Set(ViewParam, string(v))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (p Paths) with(path string, q url.Values) string {
	if len(q) == 0 {
		return p.base + path
	}
	return p.base + path + "?" + q.Encode()
}

// jobInView is a job's address ending in tail, shown in view v: what
// with(path, view=v) would give, in one concatenation.
func (p Paths) jobInView(id, tail string, v View) string {
	if v == JobView {
		return p.base + jobsDir + url.PathEscape(id) + tail
	}
	return p.base + jobsDir + url.PathEscape(id) + tail + "?" + ViewParam + "=" + url.QueryEscape(string(v))
}

// jobsDir is the start of a job's addresses, before its escaped id. Each
// address below is one concatenation (one allocation): a list of 50 rows
// builds several per row.
const jobsDir = "/jobs/"

// Local is the address of rel, a path (and query) relative to the base path
// such as a checked return_to ("/jobs/…?spage=2"). rel is used as is: it is
// already an address, not an id to escape.
func (p Paths) Local(rel string) string { return p.base + rel }

// Home is the portal's start page ("My backups" or the jobs list).
func (p Paths) Home() string { return p.base + "/" }

// Jobs is the jobs list.
func (p Paths) Jobs() string { return p.base + "/jobs" }

// Job is a job's page.
func (p Paths) Job(id string) string { return p.base + jobsDir + url.PathEscape(id) }

// JobCard is a job's card, the fragment refreshed while it runs, in view v.
func (p Paths) JobCard(id string, v View) string { return p.jobInView(id, "/card", v) }

// JobRow is a job's row of the jobs list.
func (p Paths) JobRow(id string) string { return p.base + jobsDir + url.PathEscape(id) + "/row" }

// JobHistory is a job's latest audit entries, loaded when its section opens.
func (p Paths) JobHistory(id string) string {
	return p.base + jobsDir + url.PathEscape(id) + "/history"
}

// JobStatus is the status of the action on a job, polled while it runs, in view v.
func (p Paths) JobStatus(id string, v View) string { return p.jobInView(id, "/status", v) }

// JobConfirm is the confirmation of action a on a job.
func (p Paths) JobConfirm(id string, a jobs.Action) string {
	return p.base + jobsDir + url.PathEscape(id) + "/confirm/" + url.PathEscape(string(a))
}

// JobAction is where action a on a job is posted.
func (p Paths) JobAction(id string, a jobs.Action) string {
	return p.base + jobsDir + url.PathEscape(id) + "/actions/" + url.PathEscape(string(a))
}

// SessionComputers is the computers of one session of a job.
func (p Paths) SessionComputers(jobID, sessionID string) string {
	return p.base + jobsDir + url.PathEscape(jobID) + "/sessions/" + url.PathEscape(sessionID) + "/computers"
}

// Audit is the audit log filtered by q (nil: unfiltered).
func (p Paths) Audit(q url.Values) string { return p.with("/audit", q) }

// AuditCSV is the export of the audit log filtered by q.
func (p Paths) AuditCSV(q url.Values) string { return p.with("/audit.csv", q) }

// JobAudit is the audit log of one job.
func (p Paths) JobAudit(id string) string { return p.Audit(url.Values{"job": {id}}) }

// Status is the status page.
func (p Paths) Status() string { return p.base + "/status" }

// StatusSessions is where the status page's "end all sessions" form posts.
func (p Paths) StatusSessions() string { return p.base + "/status/sessions" }

// returnTo adds the return_to parameter: a path below the base, "" for none.
func (p Paths) returnTo(path, returnTo string) string {
	if returnTo == "" {
		return p.base + path
	}
	return p.with(path, url.Values{"return_to": {returnTo}})
}

// SignIn is the sign-in page, which returns to returnTo (a path below the
// base path; "" for the default) once the person has signed in.
func (p Paths) SignIn(returnTo string) string { return p.returnTo("/auth/signin", returnTo) }

// Login starts the sign-in at the identity provider, returning to returnTo.
func (p Paths) Login(returnTo string) string { return p.returnTo("/auth/login", returnTo) }

// Callback is where the identity provider returns to.
func (p Paths) Callback() string { return p.base + "/auth/callback" }

// SignOut is where the sign-out form posts.
func (p Paths) SignOut() string { return p.base + "/auth/signout" }

// BreakGlass is where the break-glass sign-in form posts.
func (p Paths) BreakGlass() string { return p.base + "/auth/breakglass" }

// CSPReport is where browsers post Content-Security-Policy violation reports.
func (p Paths) CSPReport() string { return p.base + "/csp-report" }

// EmbedJob is a job's card for an iframe.
func (p Paths) EmbedJob(id string) string { return p.base + "/embed" + jobsDir + url.PathEscape(id) }

// EmbedMine is "My backups" for an iframe.
func (p Paths) EmbedMine() string { return p.base + "/embed/my-backups" }

// EmbedHandoff is where a framed card redeems its sign-in hand-off code.
func (p Paths) EmbedHandoff() string { return p.base + "/embed/handoff" }

// Prefixes of groups of routes, for middleware that treats a group alike.
// Each ends with a slash, so "/authority" is not under AuthPrefix.

// AuthPrefix is the prefix of the sign-in and sign-out routes.
func (p Paths) AuthPrefix() string { return p.base + "/auth/" }

// EmbedPrefix is the prefix of the pages made for iframes.
func (p Paths) EmbedPrefix() string { return p.base + "/embed/" }

// StaticPrefix is the prefix of the static assets.
func (p Paths) StaticPrefix() string { return p.base + "/static/" }
