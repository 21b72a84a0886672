// Package audit is the portal's record of who did what. Enterprise Manager only
// ever sees the portal's service account, so this log is the trail the
// organisation relies on: every action attempt is written durably before EM is
// called and completed afterwards, and sign-ins, sign-in failures, sign-outs
// and policy reloads are recorded too.
package audit

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what an entry records.
type Kind string

const (
	KindAction       Kind = "action"
	KindSignIn       Kind = "signin"
	KindSignInFailed Kind = "signin_failed"
	KindSignOut      Kind = "signout"
	KindPolicyReload Kind = "policy_reload"
	KindBreakGlass   Kind = "breakglass"
)

// Kinds lists every kind, in display order.
func Kinds() []Kind {
	return []Kind{KindAction, KindSignIn, KindSignInFailed, KindSignOut, KindPolicyReload, KindBreakGlass}
}

// Result is how an entry ended.
type Result string

const (
	ResultPending   Result = "pending"   // written before EM was called; not completed yet
	ResultPerformed Result = "performed" // done (for actions: EM accepted it)
	ResultRefused   Result = "refused"   // the portal refused: a duplicate, or nothing to do
	ResultDenied    Result = "denied"    // not allowed (policy, wrong password)
	ResultFailed    Result = "failed"    // EM (or the step itself) failed
	ResultUnknown   Result = "unknown"   // sent, but the outcome could not be learnt
)

// Results lists every result, in display order.
func Results() []Result {
	return []Result{ResultPending, ResultPerformed, ResultRefused, ResultDenied, ResultFailed, ResultUnknown}
}

// Entry is one audit record. Times are UTC.
type Entry struct {
	ID   int64     `json:"id"`
	At   time.Time `json:"time"`
	Kind Kind      `json:"kind"`

	// Who: the user key is issuer|subject, never the e-mail.
	UserKey   string   `json:"user_key,omitempty"`
	UserName  string   `json:"user_name,omitempty"`
	UserEmail string   `json:"user_email,omitempty"`
	Groups    []string `json:"groups"`

	// From where: the client address as the trusted proxies report it.
	IP        string `json:"client_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Embedded  bool   `json:"embedded"`

	// What.
	Action  string `json:"action,omitempty"`
	JobID   string `json:"job_id,omitempty"`
	JobUID  string `json:"job_uid,omitempty"`
	JobName string `json:"job_name,omitempty"`
	Server  string `json:"backup_server,omitempty"`

	// How it ended.
	Result      Result    `json:"result"`
	Message     string    `json:"message,omitempty"`
	TaskID      string    `json:"em_task_id,omitempty"`
	SessionID   string    `json:"backup_session_id,omitempty"`
	Final       string    `json:"session_result,omitempty"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// Filter selects entries. The zero Filter selects everything, newest first.
type Filter struct {
	Person string // a user key (exact), or part of a display name or e-mail
	Job    string // a job id or UID (exact), or part of a job name
	JobID  string // exactly this job id (the job page's history)
	Action string
	Result Result
	Kind   Kind
	From   time.Time // inclusive
	To     time.Time // exclusive
	Before *Cursor   // keyset paging: only entries older than this
	Limit  int       // 0: no limit (Export); Query caps it
}

// Cursor is a position in the newest-first order.
type Cursor struct {
	At time.Time
	ID int64
}

// String encodes the cursor for a URL.
func (c Cursor) String() string {
	return strconv.FormatInt(c.At.UnixMicro(), 10) + "-" + strconv.FormatInt(c.ID, 10)
}

// ParseCursor decodes Cursor.String.
func ParseCursor(s string) (*Cursor, error) {
	at, id, ok := strings.Cut(s, "-")
	if !ok {
		return nil, errors.New("audit: malformed cursor")
	}
	us, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n < 0 {
		return nil, errors.New("audit: malformed cursor")
	}
	return &Cursor{At: time.UnixMicro(us).UTC(), ID: n}, nil
}

// Page is one page of entries, newest first.
type Page struct {
	Entries []Entry
	Next    *Cursor // where the next (older) page starts; nil when there is none
}

// MaxPage is the most entries Query returns at once.
const MaxPage = 500

func parseID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("audit: bad entry id %q", id)
	}
	return n, nil
}

// micro truncates to the stored precision, so an entry reads back equal.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Bounds of an entry's free text: a client chooses its User-Agent, and names
// and messages may quote what it sent, so an anonymous flood must not grow
// the log by kilobytes a row.
const (
	MaxTextBytes = 256 // each free-text field (user agent, names, message)
	MaxGroups    = 64  // groups kept of one user (the rest is counted)
)

// bounded returns e with every free-text field cut to MaxTextBytes (on a
// UTF-8 boundary, marked with "…") and at most MaxGroups groups.
func (e Entry) bounded() Entry {
	for _, f := range []*string{&e.UserAgent, &e.UserName, &e.UserEmail, &e.Message, &e.JobName, &e.Server, &e.IP} {
		*f = truncateText(*f, MaxTextBytes)
	}
	e.Groups = slices.Clone(e.Groups) // the caller's slice stays as it was
	if len(e.Groups) > MaxGroups {
		more := len(e.Groups) - MaxGroups
		e.Groups = append(e.Groups[:MaxGroups], fmt.Sprintf("(%d more)", more))
	}
	for i, g := range e.Groups {
		e.Groups[i] = truncateText(g, MaxTextBytes)
	}
	return e
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
