package emclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

var entityFormat = url.Values{"format": {"Entity"}}

func checkID(kind, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("emclient: %s id %q is not a GUID: %w", kind, id, ErrInvalidID)
	}
	return nil
}

func checkTaskID(id string) error {
	if !validTaskID(id) {
		return fmt.Errorf("emclient: task id %q is not task-<n>: %w", id, ErrInvalidID)
	}
	return nil
}

func get(route, path string, q url.Values, out any) *call {
	return &call{method: http.MethodGet, route: route, path: path, query: q, out: out}
}

// getList is get for answers that grow with the fleet.
func getList(route, path string, q url.Values, out any) *call {
	cl := get(route, path, q, out)
	cl.list = true
	return cl
}

// EntryPoint reads GET /api/ (no logon needed).
func (c *Client) EntryPoint(ctx context.Context) (*EnterpriseManager, error) {
	var em EnterpriseManager
	cl := get("/", "/", nil, &em)
	cl.noAuth = true
	if err := c.exec(ctx, cl); err != nil {
		return nil, err
	}
	return &em, nil
}

// AgentJobRefs lists the references of all agent jobs (GET /api/agents/jobs).
func (c *Client) AgentJobRefs(ctx context.Context) ([]Ref, error) {
	var refs EntityReferences
	if err := c.exec(ctx, getList("/agents/jobs", "/agents/jobs", nil, &refs)); err != nil {
		return nil, err
	}
	return refs.Refs, nil
}

// AgentJobs lists all agent jobs as entities (GET /api/agents/jobs?format=Entity).
func (c *Client) AgentJobs(ctx context.Context) ([]AgentBackupJob, error) {
	var jobs AgentBackupJobs
	if err := c.exec(ctx, getList("/agents/jobs", "/agents/jobs", entityFormat, &jobs)); err != nil {
		return nil, err
	}
	return jobs.Jobs, nil
}

// AgentJob reads one agent job entity (GET /api/agents/jobs/{id}?format=Entity),
// decoded by hand (entity.go), not by reflection.
func (c *Client) AgentJob(ctx context.Context, id string) (*AgentBackupJob, error) {
	if err := checkID("job", id); err != nil {
		return nil, err
	}
	var job AgentBackupJob
	if err := c.exec(ctx, get("/agents/jobs/{id}", "/agents/jobs/"+url.PathEscape(id), entityFormat, (*agentJobEntity)(&job))); err != nil {
		return nil, err
	}
	return &job, nil
}

// AgentJobIncludes lists the computers and protection groups of an agent job
// (GET /api/agents/jobs/{id}/includes, root ObjectsInAgentBackupJob).
func (c *Client) AgentJobIncludes(ctx context.Context, id string) ([]ObjectInAgentBackupJob, error) {
	if err := checkID("job", id); err != nil {
		return nil, err
	}
	var objs ObjectsInAgentBackupJob
	if err := c.exec(ctx, get("/agents/jobs/{id}/includes", "/agents/jobs/"+url.PathEscape(id)+"/includes", nil, &objs)); err != nil {
		return nil, err
	}
	return objs.Objects, nil
}

// AgentJobSessionRefs lists the session references of one agent job
// (GET /api/agents/jobs/{id}/backupSessions).
func (c *Client) AgentJobSessionRefs(ctx context.Context, id string) ([]Ref, error) {
	if err := checkID("job", id); err != nil {
		return nil, err
	}
	var refs EntityReferences
	if err := c.exec(ctx, getList("/agents/jobs/{id}/backupSessions", "/agents/jobs/"+url.PathEscape(id)+"/backupSessions", nil, &refs)); err != nil {
		return nil, err
	}
	return refs.Refs, nil
}

// AgentBackupSessionRefs lists the agent job sessions of the last 30 days
// (GET /api/agents/backupSessions).
func (c *Client) AgentBackupSessionRefs(ctx context.Context) ([]Ref, error) {
	var refs EntityReferences
	if err := c.exec(ctx, getList("/agents/backupSessions", "/agents/backupSessions", nil, &refs)); err != nil {
		return nil, err
	}
	return refs.Refs, nil
}

// BackupSession reads one job session entity (GET /api/backupSessions/{id}?format=Entity).
func (c *Client) BackupSession(ctx context.Context, id string) (*BackupJobSession, error) {
	if err := checkID("session", id); err != nil {
		return nil, err
	}
	var s BackupJobSession
	if err := c.exec(ctx, get("/backupSessions/{id}", "/backupSessions/"+url.PathEscape(id), entityFormat, &s)); err != nil {
		return nil, err
	}
	return &s, nil
}

// BackupServers lists the backup servers (GET /api/backupServers?format=Entity).
func (c *Client) BackupServers(ctx context.Context) ([]BackupServer, error) {
	var s BackupServers
	if err := c.exec(ctx, getList("/backupServers", "/backupServers", entityFormat, &s)); err != nil {
		return nil, err
	}
	return s.Servers, nil
}

// BackupServer reads one backup server (GET /api/backupServers/{id}?format=Entity).
func (c *Client) BackupServer(ctx context.Context, id string) (*BackupServer, error) {
	if err := checkID("backup server", id); err != nil {
		return nil, err
	}
	var s BackupServer
	if err := c.exec(ctx, get("/backupServers/{id}", "/backupServers/"+url.PathEscape(id), entityFormat, &s)); err != nil {
		return nil, err
	}
	return &s, nil
}

// Action is an agent job action.
type Action string

// The actions EM offers on agent jobs.
const (
	ActionStart          Action = "start"
	ActionStop           Action = "stop"
	ActionRetry          Action = "retry"
	ActionToggleSchedule Action = "toggleScheduleEnabled"
)

func (a Action) valid() bool {
	switch a {
	case ActionStart, ActionStop, ActionRetry, ActionToggleSchedule:
		return true
	}
	return false
}

// JobAction posts an action (POST /api/agents/jobs/{id}?action=...) and returns
// the running Task. It is sent once; only a 401 (EM refused it without acting)
// makes it go out a second time, after a new logon. When the connection fails
// after the request was written, the error wraps ErrOutcomeUnknown.
func (c *Client) JobAction(ctx context.Context, id string, a Action) (*Task, error) {
	if err := checkID("job", id); err != nil {
		return nil, err
	}
	if !a.valid() {
		return nil, fmt.Errorf("emclient: unknown job action %q", a)
	}
	var t Task
	sent := time.Now()
	gen, err := c.execGen(ctx, &call{
		method: http.MethodPost,
		route:  "/agents/jobs/{id}?action=" + string(a),
		path:   "/agents/jobs/" + url.PathEscape(id),
		query:  url.Values{"action": {string(a)}},
		out:    &t,
	})
	if err != nil {
		return nil, err
	}
	t.SentAt = sent
	t.logon = gen
	return &t, nil
}

// Task reads a task (GET /api/tasks/{id}). Tasks live in the logon session that
// created them: after a re-logon EM answers 404 for them.
func (c *Client) Task(ctx context.Context, taskID string) (*Task, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	var t Task
	if err := c.exec(ctx, get("/tasks/{id}", "/tasks/"+url.PathEscape(taskID), nil, &t)); err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteTask removes a task (DELETE /api/tasks/{id}).
func (c *Client) DeleteTask(ctx context.Context, taskID string) error {
	if err := checkTaskID(taskID); err != nil {
		return err
	}
	return c.exec(ctx, &call{method: http.MethodDelete, route: "/tasks/{id}", path: "/tasks/" + url.PathEscape(taskID)})
}

// relatedSessionID returns the session id of a task's Related link when it points
// at a backup session, or "".
func relatedSessionID(t *Task) string {
	for _, l := range t.Links {
		if l.Rel != "Related" {
			continue
		}
		u, err := url.Parse(l.Href)
		if err != nil {
			continue
		}
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(segs) >= 2 && segs[len(segs)-2] == "backupSessions" && ValidID(segs[len(segs)-1]) {
			return segs[len(segs)-1]
		}
	}
	return ""
}
