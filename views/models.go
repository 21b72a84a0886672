// Package views renders AgentDesk's HTML with templ: full pages, and the
// fragments htmx swaps in. It holds no logic beyond presentation and imports
// nothing of AgentDesk's: handlers map emclient and policy data into the plain
// view models below.
//
// Every URL in a model is built by the handler (already including BasePath);
// views never invent routes, except the few defaults documented on Layout.
// Times are rendered in their own time.Location: convert them to the
// portal's display zone before handing them over.
package views

import (
	"time"
)

// Last results of a job or session, as EM reports them.
const (
	ResultSuccess = "Success"
	ResultWarning = "Warning"
	ResultFailed  = "Failed"
	ResultNone    = "None" // never ran, or still running
)

// Job kinds. EM has no field for this; handlers infer it.
const (
	// Job kinds, shown only when Enterprise Manager states one (no documented
	// version does today).
	KindJob    = "Server-managed job"
	KindPolicy = "Agent policy"
)

// Platforms.
const (
	PlatformWindows = "Windows"
	PlatformLinux   = "Linux"
)

// Actions a user may be offered (ActionButton.Action, ActionState.Action).
const (
	ActionStart   = "start"
	ActionStop    = "stop"
	ActionRetry   = "retry"
	ActionEnable  = "enable"
	ActionDisable = "disable"
)

// States of an action the portal started (ActionState.State).
const (
	StateRunning  = "running"  // EM task not finished: keep polling
	StateFinished = "finished" // done; Message says how it ended
	StateFailed   = "failed"   // EM refused or the task failed
	StateUnknown  = "unknown"  // EM not reachable right now: keep polling
	StateRefused  = "refused"  // the portal refused (lock held, already in desired state, ...)
	// StateUndetermined: followed to the end without learning what became of
	// the action (EM never answered, no session appeared); Message says so.
	StateUndetermined = "undetermined"
)

// Layout is what every full page needs.
type Layout struct {
	Title    string // page title without the product name ("Jobs", "Erin's laptop")
	BasePath string // "" or a prefix like "/backup" (no trailing slash) for the defaults below

	// Content-hash asset URLs (static.Assets.Path("app.css") etc.).
	CSSURL  string
	JSURL   string
	UIURL   string // ui.js: local times, row confirmation dialog, remembered columns
	HTMXURL string
	IconURL string // optional favicon (static.Assets.Path("favicon.svg"))

	CSPNonce  string // nonce of the script-src CSP directive for this response
	CSRFToken string // sent by htmx as X-CSRF-Token on every request, and as form field "csrf"

	User *User     // nil when signed out
	Nav  []NavLink // header navigation; empty means one link "Jobs" to BasePath+"/jobs"

	// SignOutURL receives the sign-out POST (field "csrf"); "" means
	// BasePath+"/auth/signout" (the portal's route).
	SignOutURL string

	DemoBanner bool   // show "Demo: simulated Enterprise Manager" banner
	Flash      *Flash // one-time message shown above the content

	// EMDownSince, when set, shows "Backup server unreachable since …": the EM
	// client has stopped calling Enterprise Manager after repeated failures.
	EMDownSince time.Time

	// Embed is set on /embed/ pages (embedPage); see embed.go.
	Embed *EmbedFrame
}

// User is the signed-in person, for the header.
type User struct {
	DisplayName string
	Email       string
	Roles       []string // shown as text, e.g. "helpdesk-berlin"
}

// NavLink is one item of the header navigation.
type NavLink struct {
	Label   string
	URL     string
	Current bool // marks aria-current="page"
}

// Flash is a one-time message, e.g. after a redirect.
type Flash struct {
	Kind    string // "info", "success", "warning" or "error"
	Message string
}

// KV is a labelled value; for JobDetail.Links, Key is the rel and Value the href.
type KV struct {
	Key   string
	Value string
}

// ActionButton is one action a user may take on a job. Render only what the
// policy allows: views show exactly the buttons they are given.
type ActionButton struct {
	Action     string // ActionStart, ActionStop, ActionRetry, ActionEnable, ActionDisable
	Label      string // "Start", "Stop", "Retry", "Enable schedule", "Disable schedule"
	ConfirmURL string // GET: the confirmation (ConfirmPanel for htmx, ConfirmPage otherwise)
	PostURL    string // POST target of the confirmation form; only in a confirmation
	Confirm    string // what will happen, e.g. "Starts the backup on all 12 computers."; only in a confirmation
	Danger     bool   // styles the confirm button as destructive (stop)
}

// JobRow is one line of the jobs list.
type JobRow struct {
	ID                 string // EM job id (GUID); used in element ids
	Name               string
	URL                string // the job page
	Platform           string // PlatformWindows or PlatformLinux
	Server             string // backup server name
	Kind               string // KindJob or KindPolicy when EM states it, else ""; not a list column
	ScheduleConfigured bool
	ScheduleEnabled    bool
	LastResult         string    // ResultSuccess/Warning/Failed/None, "" = never ran
	LastRunAt          time.Time // zero when never ran
	NextRun            time.Time // zero when none
	Running            bool
	Progress           int // 0..100, meaningful while Running
	Actions            []ActionButton
	// RowURL returns this row again (JobRowView); with Poll ("2s") set, the
	// row refreshes itself that often while the job runs or an action is in
	// progress. Both are "" when the job has settled. (app.js refreshes a
	// settled row after an action from the job link's address + "/row".)
	RowURL string
	Poll   string
	// Live: the job runs, or the portal acted on it a moment ago. The row's
	// action regions then survive its refreshes (hx-preserve).
	Live bool
}

// JobDetail is the job page.
type JobDetail struct {
	ID          string
	UID         string // "urn:veeam:AgentBackupJob:<id>"
	Name        string
	JobType     string // EM JobType, e.g. "EpAgentBackup"
	Platform    string
	Kind        string // shown only when not "" (EM states no kind today)
	Description string

	URL     string // this page, e.g. "/jobs/<id>"; sessions paging appends "?spage=N"
	CardURL string // GET returns JobCard; polled every Poll while the job is live (omit to disable)
	// Poll is how often the card refreshes itself ("1s") while the job runs or
	// an action is in progress; "" when it has settled.
	Poll    string
	JobsURL string // the list, for the breadcrumb; "" means no breadcrumb link

	ScheduleConfigured bool
	ScheduleEnabled    bool
	NextRun            time.Time
	Schedule           []string // plain words, e.g. "Every day at 16:00 (UTC+1)"
	ScheduleRaw        []KV     // raw EM values, shown collapsed

	Includes  []Include
	JobGuest  []KV // job-level guest processing
	Retention []KV
	Server    BackupServer

	Sessions      []SessionRow
	SessionsPage  int // 1-based
	SessionsPages int

	Running    bool
	Progress   int
	LastResult string    // ResultSuccess/Warning/Failed/None, "" = never ran
	LastRunAt  time.Time // zero when never ran

	Actions []ActionButton
	Why     []string     // why the user may do what they may do
	Status  *ActionState // an action started from the portal that is still being followed
	Confirm *Confirm     // a confirmation opened by a deep link (/jobs/{id}?action=retry); never runs by itself
	// LinkNote explains why a deep link's action was not opened (not allowed,
	// not possible now); shown above the card.
	LinkNote string
	Hold     *HoldBanner // the schedule is disabled for a while; nil otherwise

	AsOf  time.Time
	Links []KV // EM links: Key = rel, Value = href (shown as text, never followed)

	// The job's audit section, for users who may read the audit log;
	// HistoryURL (the audit page filtered to the job) "" hides it. The
	// entries are read only when the section is opened, from
	// HistoryLoadURL (JobHistory), so a page view costs no audit query.
	HistoryURL     string
	HistoryLoadURL string
}

// Include is one object a job protects.
type Include struct {
	Name        string
	DisplayName string
	Kind        string // "Computer" or "Protection group" as HierarchyObjRef says, "" when it does not
	Guest       []KV   // per-object guest processing overrides
}

// BackupServer describes the Veeam Backup & Replication server of a job.
type BackupServer struct {
	Name        string
	Version     string
	Port        int // 0 = unknown
	Description string
}

// SessionRow is one backup session; Children are per-computer task sessions.
type SessionRow struct {
	ID       string
	Name     string
	State    string // in words (PlainEM): "Running", "Finished", ...
	Result   string // ResultSuccess/Warning/Failed/None
	Start    time.Time
	End      time.Time // zero while running
	Duration time.Duration
	Progress int
	IsRetry  bool
	// Per-computer sessions: the computer (the FQDN part of EM's child
	// session name) and, for a warning or failure, the reason EM gives.
	Computer string
	Reason   string
	Children []SessionRow
	// ChildrenURL loads the per-computer sessions when the row is expanded, so
	// the page costs one EM round trip; used when Children is empty.
	ChildrenURL string
}

// Confirm is the confirmation step of an action.
type Confirm struct {
	JobID     string
	JobName   string
	Action    ActionButton
	Desired   string // ActionEnable/Disable: "enabled" or "disabled", posted as field "desired"
	CancelURL string // where Cancel goes without JavaScript (the job page)
	CSRFToken string // posted as field "csrf"
	// Durations, for a disable, offers "for how long" (posted as field
	// "duration"; the first option is the default). Empty: no choice.
	Durations []KV
	// Already says that this action was sent a moment ago (Back to an old
	// confirmation): "Start was already sent by Alice Admin at 14:02 UTC:
	// Backup finished: Success." Empty: nothing recent.
	Already string
}

// ActionState is the progress of an action the portal started.
type ActionState struct {
	JobID    string
	Action   string
	Label    string // "Start", ...
	State    string // StateRunning, StateFinished, StateFailed, StateUnknown, StateRefused
	Message  string // human words, e.g. "Backup started on 12 computers."
	Progress int    // 0..100 while running; 0 hides the bar
	TaskID   string // EM task, e.g. "task-42" (shown for support)
	PollURL  string // GET returns the next ActionStatus; polled every second while running/unknown
	CardURL  string // when finished/failed: GET returns JobCard, swapped into #job-card-<JobID>
	RowURL   string // list page: when set instead of CardURL, GET returns JobRowView, swapped into #job-row-<JobID>
	By       string // who holds the job's action lock, for "Already being started by <By>."

	// ClearConfirm also empties #confirm-<JobID> (out-of-band swap). Set it in
	// the response to the POST only, not in poll responses, so a confirmation
	// the user opened meanwhile survives polling.
	ClearConfirm bool
}

// ErrorView is an error in human words. Never put a stack trace or an
// upstream response body into Message.
type ErrorView struct {
	Status    int    // HTTP status, shown small
	Title     string // "This job does not exist"
	Message   string // what happened and what to do
	RetryURL  string // optional "Try again" link
	RequestID string // for the helpdesk ticket
	// EMMessage is Enterprise Manager's own error message, when EM answered
	// with one; shown quoted, as text.
	EMMessage string
}

// SignIn is the signed-out page.
type SignIn struct {
	LoginURL    string // GET starts the sign-in; "" means BasePath+"/auth/login"
	ReturnTo    string // sent as field "return_to"; the handler must validate it on return
	Unavailable bool   // the identity provider is not reachable: the button is disabled
	Message     string // optional explanation ("You have been signed out.")
	// BreakGlassURL receives the emergency local administrator's form (POST,
	// field "csrf"); "" hides it (the break-glass account is off).
	BreakGlassURL string
}
