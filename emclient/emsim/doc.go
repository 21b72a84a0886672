// Package emsim is an in-memory Veeam Backup Enterprise Manager that speaks the
// EM REST API (v1_5 to v1_7) element for element, as far as AgentDesk uses it:
// logon sessions, agent backup jobs and their actions, job sessions, backup
// servers, tasks and the query service. It is the demo's backend and the peer of
// every test; New builds a deterministic fleet from Config.Seed.
//
// Where the EM documentation is silent, emsim behaves as follows.
//
// Logon and tokens
//   - POST /api/sessionMngr/ requires ?v=latest, v1_5, v1_6 or v1_7; anything
//     else (including no v) is 400. Account names match case-insensitively,
//     passwords exactly. UserName is shown as EMSIM\<name>.
//   - The token is base64(SessionId). A request carrying the cookie
//     X-RestSvcSessionId is judged by the cookie alone; the header is then ignored.
//   - Idle sessions expire after Config.IdleTimeout (sliding). Any logon session
//     may be listed, read or deleted by any logged-on account.
//
// Errors
//   - Every error is an Error element with Message, StatusCode, Status (the
//     reason phrase without spaces, e.g. "NotFound") and a
//     FirstChanceExceptionMessage repeating Message (the real 9.5 error carries
//     one). A malformed GUID in a path is 400, an unknown one 404, an unknown
//     path 404, a wrong method 405 with Allow.
//   - Only GET /api/ and the logon need no token; everything else is 401 without
//     a valid one. Only a PortalAdministrator may POST actions (403 "Access denied").
//
// Jobs, sessions and actions
//   - Every agent job has JobType AgentBackup and, whatever its state, the
//     eight links of the documented entity (Up, Alternate, Down includes,
//     ToggleScheduleEnabled, Down backupSessions, Start, Stop, Retry).
//     HierarchyObjRef of includes always uses the urn:AgentForWindows: prefix
//     (VeeamAgent for a computer, AgentProtectionGroup for a group), also for
//     Linux jobs.
//   - A run is a parent session (JobType AgentBackup) plus one child session per
//     computer (AgentManagement, JobName "<Job> - <computer FQDN>", an Up link
//     Name "Parent session" to the parent, linked to a per-computer child job id
//     that /api/agents/jobs does not list: GET on it is 404). Children are
//     listed by GET /api/backupSessions/{parent}/agentManagementSessions (the
//     parent's Alternate BackupJobSessionReferenceList link) and, as in the
//     documented /agents/backupSessions list, among all sessions.
//     Session names use UTC: "<JobName>@yyyy-MM-dd HH:mm:ss.ffffff". JobUid is
//     urn:veeam:AgentBackupJob:<id>.
//   - State is computed from timestamps on every read: Starting for the first
//     tenth of SessionSpeed, then Working (Progress 0..99), then Stopped with
//     Result Success, Warning or Failed (deterministic from the seed, the job and
//     its run number) and Progress 100. Result is None while running.
//     FailureMessage carries the warning or failure text. Every session entity
//     carries a Stop link, stopped or not, as the documented entity does.
//   - Action outcomes are decided when the POST arrives; the task then shows
//     Running for SessionSpeed/20, OperationFinished for as long again, then
//     Finished. No task carries a Related link: the documented finished start
//     and retry tasks have only Delete, so a client finds the session a start
//     created by querying the job's sessions.
//   - start while a run is active, stop while none is, retry of an agent
//     policy, retry while running or when the last run did not fail are
//     refused with a message such as `Job "X" is already running.`,
//     `Job "X" is not running.` or `Job "X" cannot be retried: its last session
//     did not fail.` By default the action is accepted (202) and its task
//     finishes with Success="false" and that message; with Config.Refusal (or
//     SetRefusal) set to a status, the POST is answered with that status and
//     an Error body instead. The documentation allows both.
//   - stop moves the running session (and its children) to Stopping for
//     SessionSpeed/20, then Stopped with Result Failed and FailureMessage
//     "Job has been stopped by user EMSIM\<name>.". POST /api/backupSessions/{id}?action=stop
//     does the same for a parent session (Operation StopJobSession).
//   - toggleScheduleEnabled flips ScheduleEnabled immediately; the task
//     (Operation UpdateJob) finishes with "Ok". NextRun is omitted while the
//     schedule is disabled or not configured, and for continuous schedules.
//   - Tasks are numbered task-1, task-2 ... across the server and belong to the
//     logon session that created them; other sessions get 404, and they vanish
//     with their session.
//   - Session lists (/agents/backupSessions, /backupSessions, query) cover the
//     last 30 days, newest first. Large fleets (more than 300 jobs) keep only
//     the last two scheduled runs per job.
//
// Query service
//   - Types AgentBackupJob, BackupJobSession, BackupServer and Task
//     (case-insensitive). Filters: ==, !=, <, >, <=, >=; ';' is AND and binds
//     tighter than ',' (OR); parentheses group. Field names and enum/bool values
//     are case-insensitive; strings compare case-insensitively; UID fields compare
//     by GUID (a bare GUID or any urn:veeam:<Type>:<guid> matches); enums compare
//     by declared index (Result: None < Success < Warning < Failed); dates must be
//     RFC 3339. A field without value (EndTime of a running session) matches only !=.
//   - Without pageSize the page size is 100 and results are cut at 100 (with a
//     Next link), as real servers report PageSize 100.
//
// Faults (SetFaults): Paths limits every fault to matching paths, Methods to
// matching HTTP methods (e.g. only the POST of an action). Latency+Jitter
// delay the answer; BlackHole never answers until the request context ends;
// Status and Unauthorized answer every matching call except GET /api/ (the logon
// included; use Paths to spare it); Garbage answers 200 with a body that is not
// XML; HugeBody streams a document of that many bytes (one long comment in a
// HugeRoot element, default EntityReferences); ResetAfterRead carries the
// request out (an action takes effect) and then drops the connection without an
// answer (via http.ErrAbortHandler, so use it over a real server); SlowBody
// sends the real answer in ten parts spread over that time.
//
// Stats.Requests is keyed "METHOD pattern" with the pattern relative to /api,
// e.g. "GET /agents/jobs/{id}" or "POST /sessionMngr/". Stats.ActionCalls is keyed
// by ActionKey(jobID, action) and counts actions EM accepted with a task (valid
// token, role, known job), whether or not the task succeeds; an action refused
// with an HTTP status (Config.Refusal) is not counted.
//
// Responses are XML only (Accept: application/json is answered with XML).
package emsim
