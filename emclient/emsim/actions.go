package emsim

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// task is an asynchronous EM operation. The outcome is decided when the action
// is posted; only the visible State advances with time (Running, then briefly
// OperationFinished, then Finished).
type task struct {
	id      string
	op      string
	created time.Time
	success bool
	message string
}

func (s *Server) taskBody(b base, t *task, now time.Time) taskBody {
	href := b.url("/tasks/" + t.id)
	body := taskBody{
		Type: "Task", Href: href, TaskID: t.id, Operation: t.op, State: "Running",
		Links: []link{{Rel: "Delete", Type: "Task", Href: href}},
	}
	d := s.taskDelay()
	switch {
	case now.Before(t.created.Add(d)):
	case now.Before(t.created.Add(2 * d)):
		body.State = "OperationFinished"
		body.Result = &taskResult{Success: t.success, Message: "OperationFinished"}
	default:
		body.State = "Finished"
		body.Result = &taskResult{Success: t.success, Message: t.message}
		// No Related link, not even on a start or retry: the documented
		// finished agent start and retry tasks carry only Delete.
	}
	return body
}

// jobActions maps the action parameter (matched case-insensitively) to its
// canonical spelling and the Task Operation EM documents for it.
var jobActions = map[string][2]string{
	"start":                 {"start", "StartJob"},
	"stop":                  {"stop", "StopAgentJob"},
	"retry":                 {"retry", "RetryAgentJob"},
	"togglescheduleenabled": {"toggleScheduleEnabled", "UpdateJob"},
}

func (s *Server) newTaskLocked(l *logon, op string, now time.Time) *task {
	s.nextTask++
	t := &task{id: "task-" + strconv.FormatInt(s.nextTask, 10), op: op, created: now}
	l.tasks[t.id] = t
	l.taskOrder = append(l.taskOrder, t)
	return t
}

func (s *Server) postJobAction(w http.ResponseWriter, r *http.Request, c *call) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	a, ok := jobActions[strings.ToLower(c.params["action"])]
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Unknown action %q. Supported actions: start, stop, retry, toggleScheduleEnabled.", c.params["action"]))
		return
	}
	if c.logon.account.Role != PortalAdministrator {
		writeError(w, http.StatusForbidden, "Access denied")
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	var running *jobSession
	var lastResult string
	if p := j.latest(); p != nil {
		if v := p.at(now); v.running() {
			running = p
		} else {
			lastResult = v.result
		}
	}
	q := `"` + j.name + `"`
	refusal := ""
	switch a[0] {
	case "start":
		if running != nil {
			refusal = "Job " + q + " is already running."
		}
	case "retry":
		switch {
		case j.policy:
			refusal = "Retry is not available for backup policy " + q + "."
		case running != nil:
			refusal = "Job " + q + " is already running."
		case lastResult != "Failed":
			refusal = "Job " + q + " cannot be retried: its last session did not fail."
		}
	case "stop":
		if running == nil {
			refusal = "Job " + q + " is not running."
		}
	}
	if refusal != "" && s.refusal.Status != 0 {
		s.log.Info("emsim: job action refused", "job", j.name, "action", a[0], "status", s.refusal.Status)
		writeError(w, s.refusal.Status, refusal)
		return
	}
	s.statsMu.Lock()
	s.stats.ActionCalls[ActionKey(j.id, a[0])]++
	s.statsMu.Unlock()
	t := s.newTaskLocked(c.logon, a[1], now)
	switch {
	case refusal != "":
		t.message = refusal
	case a[0] == "start":
		t.success, t.message = true, "Job "+q+" triggered to start."
		s.startSessionLocked(j, now, false)
	case a[0] == "retry":
		t.success, t.message = true, "Job "+q+" triggered to retry."
		s.startSessionLocked(j, now, true)
	case a[0] == "stop":
		s.stopSessionLocked(running, now, c.logon.userName)
		t.success, t.message = true, "Job "+q+" triggered to stop."
	case a[0] == "toggleScheduleEnabled":
		j.enabled = !j.enabled
		t.success, t.message = true, "Ok"
	}
	s.log.Info("emsim: job action", "job", j.name, "action", a[0], "task", t.id, "success", t.success)
	writeXML(w, http.StatusAccepted, "Task", false, s.taskBody(c.b, t, now))
}

// postSessionAction implements POST /api/backupSessions/{id}?action=stop.
func (s *Server) postSessionAction(w http.ResponseWriter, r *http.Request, c *call) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	if !strings.EqualFold(c.params["action"], "stop") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Unknown action %q. Supported actions: stop.", c.params["action"]))
		return
	}
	if c.logon.account.Role != PortalAdministrator {
		writeError(w, http.StatusForbidden, "Access denied")
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.lookupSession(w, r)
	if ss == nil {
		return
	}
	if !(ss.parent == nil && ss.at(now).running()) && s.refusal.Status != 0 {
		writeError(w, s.refusal.Status, "Job Session "+`"`+ss.name()+`"`+" is not running.")
		return
	}
	t := s.newTaskLocked(c.logon, "StopJobSession", now)
	if ss.parent == nil && ss.at(now).running() {
		s.stopSessionLocked(ss, now, c.logon.userName)
		t.success, t.message = true, "Job Session "+`"`+ss.name()+`"`+" triggered to stop."
	} else {
		t.message = "Job Session " + `"` + ss.name() + `"` + " is not running."
	}
	writeXML(w, http.StatusAccepted, "Task", false, s.taskBody(c.b, t, now))
}

// splitmix64 mixes the seed, job and run number into a deterministic outcome.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (s *Server) startSessionLocked(j *job, now time.Time, retry bool) *jobSession {
	j.runs++
	h := splitmix64(uint64(s.cfg.Seed)<<32 ^ uint64(j.idx)<<8 ^ uint64(j.runs))
	result := "Success"
	switch x := h % 100; {
	case x >= 88:
		result = "Failed"
	case x >= 72:
		result = "Warning"
	}
	msg := ""
	switch result {
	case "Warning":
		msg = warningMessages[(h>>8)%uint64(len(warningMessages))]
	case "Failed":
		msg = failureMessages[(h>>8)%uint64(len(failureMessages))]
	}
	speed := s.cfg.SessionSpeed
	p := &jobSession{
		id: newGUID(s.rng), job: j, created: now, starting: speed / 10, length: speed,
		result: result, message: msg, isRetry: retry,
	}
	for i, m := range j.members() {
		ch := &jobSession{
			id: newGUID(s.rng), job: j, parent: p, member: m, created: now,
			starting: speed / 10, length: speed, result: "Success", isRetry: retry,
		}
		if i == 0 {
			ch.result, ch.message = result, msg
		}
		p.children = append(p.children, ch)
		s.fleet.sessByID[ch.id] = ch
	}
	j.sessions = append(j.sessions, p)
	s.fleet.sessByID[p.id] = p
	return p
}

func (s *Server) stopSessionLocked(p *jobSession, now time.Time, user string) {
	stop := func(ss *jobSession) {
		if !ss.at(now).running() {
			return
		}
		ss.stopReq, ss.stopAt = now, now.Add(s.taskDelay())
		ss.stopMsg = "Job has been stopped by user " + user + "."
	}
	stop(p)
	for _, ch := range p.children {
		stop(ch)
	}
}

// ---- tasks ----

func (s *Server) getTasks(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	body := tasksBody{}
	for _, t := range c.logon.taskOrder {
		body.Tasks = append(body.Tasks, s.taskBody(c.b, t, now))
	}
	writeXML(w, http.StatusOK, "Tasks", false, body)
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := c.logon.tasks[r.PathValue("id")]
	if t == nil {
		writeError(w, http.StatusNotFound, "Task "+r.PathValue("id")+" was not found.")
		return
	}
	writeXML(w, http.StatusOK, "Task", false, s.taskBody(c.b, t, now))
}

func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	t := c.logon.tasks[id]
	if t == nil {
		writeError(w, http.StatusNotFound, "Task "+id+" was not found.")
		return
	}
	delete(c.logon.tasks, id)
	for i, x := range c.logon.taskOrder {
		if x == t {
			c.logon.taskOrder = append(c.logon.taskOrder[:i], c.logon.taskOrder[i+1:]...)
			break
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
