package views

import "time"

// AuditRow is one audit entry. Everything in it came from people or EM and is
// shown as text.
type AuditRow struct {
	ID          string
	At          time.Time
	Kind        string // "action", "signin", ...
	KindLabel   string // "Action", "Sign-in", ...
	Who         string // display name, else e-mail, else user key
	UserKey     string // issuer|subject
	Email       string
	Groups      []string
	IP          string
	UserAgent   string
	Embedded    bool
	Action      string
	JobName     string
	JobURL      string // "" when the entry has no job
	Server      string
	Result      string // pending, performed, refused, denied, failed, unknown
	Message     string
	TaskID      string
	SessionID   string
	Final       string // the backup session's result
	CompletedAt time.Time
}

// AuditFilter is the audit page's filter form, as typed.
type AuditFilter struct {
	Person string
	Job    string
	Action string
	Result string
	Kind   string
	From   string // yyyy-mm-dd, inclusive
	To     string // yyyy-mm-dd, inclusive
}

// Active reports whether any filter is set.
func (f AuditFilter) Active() bool { return f != AuditFilter{} }

// AuditList is the audit page (/audit).
type AuditList struct {
	Path     string // the page, e.g. "/audit"; the filter form's action
	Filter   AuditFilter
	Rows     []AuditRow
	NextURL  string // older entries; "" on the last page
	FirstURL string // the newest page with the same filters; "" on it
	CSVURL   string // the export with the same filters
	Actions  []KV   // filter options: Key = value, Value = label
	Results  []KV
	Kinds    []KV
	Error    string // a filter that could not be used, in words
}

// auditActionWords says what an audited action did, as a person would.
var auditActionWords = map[string]string{
	"start": "Started a backup", "stop": "Stopped a backup", "retry": "Retried a backup",
	"enable": "Enabled the schedule", "disable": "Disabled the schedule",
}

// auditWhat is the entry's "What" column: the action in words, else the kind
// of entry ("Sign-in").
func auditWhat(r AuditRow) string {
	if r.Action == "" {
		return r.KindLabel
	}
	if w, ok := auditActionWords[r.Action]; ok {
		return w
	}
	return r.KindLabel + ": " + r.Action
}

// auditOutcomes are the audit results in words; the stored value stays in
// data-result and in the export.
var auditOutcomes = map[string]string{
	"pending": "In progress", "performed": "Done", "refused": "Not sent",
	"denied": "Not allowed", "failed": "Failed", "unknown": "Outcome unknown",
}

func auditOutcome(result string) string {
	if w, ok := auditOutcomes[result]; ok {
		return w
	}
	return result
}
