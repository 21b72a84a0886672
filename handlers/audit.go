package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/audit"
	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/views"
)

const (
	auditPageSize   = 50
	jobHistorySize  = 20
	auditDateLayout = "2006-01-02"
)

var kindLabels = map[audit.Kind]string{
	audit.KindAction: "Action", audit.KindSignIn: "Sign-in", audit.KindSignInFailed: "Failed sign-in",
	audit.KindSignOut: "Sign-out", audit.KindPolicyReload: "Policy reload", audit.KindBreakGlass: "Break-glass sign-in",
}

// mayAudit reports whether the signed-in user may read the audit log.
func (h *Handler) mayAudit(c echo.Context) bool {
	return h.svc.Audit != nil && h.grant(c).CanAudit()
}

// showAudit is the audit log page. For users who may not read it, it does not
// exist.
func (h *Handler) showAudit(c echo.Context) error {
	if !h.mayAudit(c) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	form, f, problem := parseAuditFilter(c.QueryParams())
	if b := c.QueryParam("before"); b != "" {
		cur, err := audit.ParseCursor(b)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "The page link is not valid. Start again from the audit page.")
		}
		f.Before = cur
	}
	f.Limit = auditPageSize
	page, err := h.svc.Audit.Query(c.Request().Context(), f)
	if err != nil {
		return err
	}
	path := h.paths().Audit(nil)
	q := auditQuery(form)
	m := views.AuditList{
		Path: path, Filter: form, Error: problem,
		CSVURL:  h.paths().AuditCSV(q),
		Actions: []views.KV{{Key: "", Value: "Any action"}},
		Results: []views.KV{{Key: "", Value: "Any outcome"}},
		Kinds:   []views.KV{{Key: "", Value: "Any kind"}},
	}
	for _, a := range []jobs.Action{jobs.Start, jobs.Stop, jobs.Retry, jobs.Enable, jobs.Disable} {
		m.Actions = append(m.Actions, views.KV{Key: string(a), Value: actionLabels[a]})
	}
	for _, r := range audit.Results() {
		m.Results = append(m.Results, views.KV{Key: string(r), Value: string(r)})
	}
	for _, k := range audit.Kinds() {
		m.Kinds = append(m.Kinds, views.KV{Key: string(k), Value: kindLabels[k]})
	}
	for _, e := range page.Entries {
		m.Rows = append(m.Rows, h.auditRow(e))
	}
	if page.Next != nil {
		next := auditQuery(form)
		next.Set("before", page.Next.String())
		m.NextURL = h.paths().Audit(next)
	}
	if f.Before != nil {
		m.FirstURL = h.paths().Audit(q)
	}
	return h.render(c, http.StatusOK, views.AuditPage(h.layout(c, "Audit log"), m), views.AuditTable(m))
}

// exportAudit streams every entry the filters select as CSV.
func (h *Handler) exportAudit(c echo.Context) error {
	if !h.mayAudit(c) {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	_, f, _ := parseAuditFilter(c.QueryParams())
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="agentdesk-audit-`+time.Now().UTC().Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	if err := h.svc.Audit.ExportCSV(c.Request().Context(), w, f); err != nil {
		// The status is sent; all that is left is to stop and log.
		h.logFor(c).Error("audit export interrupted", "err", err)
	}
	return nil
}

// parseAuditFilter reads the filter form. Values it cannot use are dropped and
// reported in words; they never widen the selection silently, since the
// page says what was ignored.
func parseAuditFilter(v url.Values) (views.AuditFilter, audit.Filter, string) {
	form := views.AuditFilter{
		Person: strings.TrimSpace(v.Get("person")), Job: strings.TrimSpace(v.Get("job")),
		Action: v.Get("action"), Result: v.Get("result"), Kind: v.Get("kind"),
		From: v.Get("from"), To: v.Get("to"),
	}
	f := audit.Filter{Person: form.Person, Job: form.Job}
	var problems []string
	if form.Action != "" {
		if a, ok := jobs.ParseAction(form.Action); ok {
			f.Action = string(a)
		} else {
			problems, form.Action = append(problems, "unknown action"), ""
		}
	}
	if form.Result != "" {
		if slices.Contains(audit.Results(), audit.Result(form.Result)) {
			f.Result = audit.Result(form.Result)
		} else {
			problems, form.Result = append(problems, "unknown outcome"), ""
		}
	}
	if form.Kind != "" {
		if slices.Contains(audit.Kinds(), audit.Kind(form.Kind)) {
			f.Kind = audit.Kind(form.Kind)
		} else {
			problems, form.Kind = append(problems, "unknown kind"), ""
		}
	}
	if form.From != "" {
		if d, err := time.Parse(auditDateLayout, form.From); err == nil {
			f.From = d
		} else {
			problems, form.From = append(problems, "the From date is not a date"), ""
		}
	}
	if form.To != "" {
		if d, err := time.Parse(auditDateLayout, form.To); err == nil {
			f.To = d.AddDate(0, 0, 1) // the whole day
		} else {
			problems, form.To = append(problems, "the To date is not a date"), ""
		}
	}
	msg := ""
	if len(problems) > 0 {
		msg = "Ignored: " + strings.Join(problems, ", ") + "."
	}
	return form, f, msg
}

func auditQuery(f views.AuditFilter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"person": f.Person, "job": f.Job, "action": f.Action, "result": f.Result, "kind": f.Kind, "from": f.From, "to": f.To} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func (h *Handler) auditRow(e audit.Entry) views.AuditRow {
	r := views.AuditRow{
		ID: itoa64(e.ID), At: e.At, Kind: string(e.Kind), KindLabel: kindLabels[e.Kind],
		UserKey: e.UserKey, Email: e.UserEmail, Groups: e.Groups, IP: e.IP, UserAgent: e.UserAgent, Embedded: e.Embedded,
		Action: e.Action, JobName: e.JobName, Server: e.Server,
		Result: string(e.Result), Message: e.Message, TaskID: e.TaskID, SessionID: e.SessionID, Final: e.Final,
		CompletedAt: e.CompletedAt,
	}
	if r.KindLabel == "" {
		r.KindLabel = string(e.Kind)
	}
	switch {
	case e.UserName != "":
		r.Who = e.UserName
	case e.UserEmail != "":
		r.Who = e.UserEmail
	case e.UserKey != "":
		r.Who = e.UserKey
	case e.Kind == audit.KindPolicyReload:
		r.Who = "AgentDesk"
	default:
		r.Who = "unknown"
	}
	if emclient.ValidID(e.JobID) {
		r.JobURL = h.paths().Job(e.JobID)
	}
	return r
}

// jobHistory is the job's latest audit entries, newest first.
func (h *Handler) jobHistory(ctx context.Context, j *jobs.Job) ([]views.AuditRow, error) {
	page, err := h.svc.Audit.Query(ctx, audit.Filter{JobID: j.ID, Limit: jobHistorySize})
	if err != nil {
		return nil, fmt.Errorf("job history: %w", err)
	}
	rows := make([]views.AuditRow, 0, len(page.Entries))
	for _, e := range page.Entries {
		rows = append(rows, h.auditRow(e))
	}
	return rows, nil
}

// auditURLForJob is the audit page filtered to one job.
func (h *Handler) auditURLForJob(id string) string {
	return h.paths().JobAudit(id)
}

// record writes a sign-in, sign-out or break-glass entry with where the request
// came from. The log counts and logs a failure; callers refuse a sign-in that
// could not be recorded, and go on with what cannot be refused (a sign-out, a
// failure).
func (h *Handler) record(c echo.Context, e audit.Entry) error {
	if h.svc.Audit == nil {
		return nil
	}
	e.IP, e.UserAgent = c.RealIP(), c.Request().UserAgent()
	return h.svc.Audit.Record(c.Request().Context(), e)
}

// who fills the person of an entry from an identity.
func who(e audit.Entry, id *auth.Identity) audit.Entry {
	e.UserKey, e.UserName, e.UserEmail, e.Groups = id.Key(), id.Name, id.Email, id.Groups
	return e
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
