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
