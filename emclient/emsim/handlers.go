package emsim

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

func sortBy[T any](xs []T, key func(T) string) {
	sort.SliceStable(xs, func(a, b int) bool { return key(xs[a]) < key(xs[b]) })
}

func entityFormat(c *call) bool { return strings.EqualFold(c.params["format"], "Entity") }

func (s *Server) getAgents(w http.ResponseWriter, r *http.Request, c *call) {
	writeXML(w, http.StatusOK, "Agents", true, c.b.agentsBody())
}

func (s *Server) getAgentJobs(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if entityFormat(c) {
		body := agentBackupJobs{Jobs: make([]agentBackupJob, 0, len(s.fleet.jobs))}
		for _, j := range s.fleet.jobs {
			body.Jobs = append(body.Jobs, c.b.jobEntity(j, now))
		}
		writeXML(w, http.StatusOK, "AgentBackupJobs", true, body)
		return
	}
	body := entityReferences{Refs: make([]ref, 0, len(s.fleet.jobs))}
	for _, j := range s.fleet.jobs {
		body.Refs = append(body.Refs, c.b.jobRef(j))
	}
	writeXML(w, http.StatusOK, "EntityReferences", true, body)
}

// lookupJob resolves {id}; it answers 400/404 itself and returns nil then.
// The caller must hold s.mu.
func (s *Server) lookupJob(w http.ResponseWriter, r *http.Request) *job {
	id, ok := pathID(w, r, "id")
	if !ok {
		return nil
	}
	j := s.fleet.jobByID[id]
	if j == nil {
		writeError(w, http.StatusNotFound, "Agent backup job "+id+" was not found.")
	}
	return j
}

func (s *Server) getAgentJob(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	if entityFormat(c) {
		writeXML(w, http.StatusOK, "AgentBackupJob", false, c.b.jobEntity(j, now))
		return
	}
	writeXML(w, http.StatusOK, "EntityRef", true, entityRef{ref: c.b.jobRef(j)})
}

func (s *Server) getIncludes(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	body := objectsInAgentBackupJob{}
	for _, in := range j.includes {
		body.Objects = append(body.Objects, c.b.includeEntity(j, in))
	}
	writeXML(w, http.StatusOK, "ObjectsInAgentBackupJob", false, body)
}

func (s *Server) getInclude(w http.ResponseWriter, r *http.Request, c *call) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	oid, ok := pathID(w, r, "oid")
	if !ok {
		return
	}
	for _, in := range j.includes {
		if in.oid == oid {
			writeXML(w, http.StatusOK, "ObjectInAgentBackupJob", false, c.b.includeEntity(j, in))
			return
		}
	}
	writeError(w, http.StatusNotFound, "Object "+oid+" was not found in agent backup job "+j.id+".")
}

// windowStart is the oldest creation time session lists show.
func windowStart(now time.Time) time.Time { return now.Add(-historyWindow) }

func (s *Server) getJobSessions(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	j := s.lookupJob(w, r)
	if j == nil {
		return
	}
	body := entityReferences{}
	from := windowStart(now)
	for i := len(j.sessions) - 1; i >= 0; i-- {
		p := j.sessions[i]
		if p.created.Before(from) {
			break
		}
		body.Refs = append(body.Refs, c.b.sessionRef(p.at(now)))
	}
	writeXML(w, http.StatusOK, "EntityReferences", true, body)
}

// allSessions returns the views of every parent and child session of the last
// 30 days, newest first. The caller must hold s.mu.
func (s *Server) allSessions(now time.Time) []sessionView {
	return sessionsOf(s.fleet.jobs, now)
}

// sessionsOf returns the views of the jobs' parent and child sessions of the
// last 30 days, newest first; sessions created at the same instant keep the
// order of jobs (fleet order), parents before their children. For any subset
// of the fleet in fleet order this is the same order the full list has.
func sessionsOf(jobs []*job, now time.Time) []sessionView {
	from := windowStart(now)
	var out []sessionView
	for _, j := range jobs {
		for i := len(j.sessions) - 1; i >= 0; i-- {
			p := j.sessions[i]
			if p.created.Before(from) {
				break
			}
			out = append(out, p.at(now))
			for _, ch := range p.children {
				out = append(out, ch.at(now))
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].s.created.After(out[b].s.created) })
	return out
}

func (s *Server) getAgentSessions(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	views := s.allSessions(now)
	if entityFormat(c) {
		body := backupJobSessions{Sessions: make([]backupJobSession, 0, len(views))}
		for _, v := range views {
			body.Sessions = append(body.Sessions, c.b.sessionEntity(v))
		}
		writeXML(w, http.StatusOK, "BackupJobSessions", true, body)
		return
	}
	body := entityReferences{Refs: make([]ref, 0, len(views))}
	for _, v := range views {
		body.Refs = append(body.Refs, c.b.sessionRef(v))
	}
	writeXML(w, http.StatusOK, "EntityReferences", true, body)
}

func (s *Server) lookupSession(w http.ResponseWriter, r *http.Request) *jobSession {
	id, ok := pathID(w, r, "id")
	if !ok {
		return nil
	}
	ss := s.fleet.sessByID[id]
	if ss == nil {
		writeError(w, http.StatusNotFound, "Backup job session "+id+" was not found.")
	}
	return ss
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	ss := s.lookupSession(w, r)
	if ss == nil {
		return
	}
	if entityFormat(c) {
		writeXML(w, http.StatusOK, "BackupJobSession", false, c.b.sessionEntity(ss.at(now)))
		return
	}
	writeXML(w, http.StatusOK, "EntityRef", true, entityRef{ref: c.b.sessionRef(ss.at(now))})
}

func (s *Server) getChildSessions(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	ss := s.lookupSession(w, r)
	if ss == nil {
		return
	}
	body := entityReferences{}
	for _, ch := range ss.children {
		body.Refs = append(body.Refs, c.b.sessionRef(ch.at(now)))
	}
	writeXML(w, http.StatusOK, "EntityReferences", true, body)
}

func (s *Server) getServers(w http.ResponseWriter, r *http.Request, c *call) {
	if entityFormat(c) {
		body := backupServersBody{}
		for _, sv := range s.fleet.servers {
			body.Servers = append(body.Servers, c.b.serverEntity(sv))
		}
		writeXML(w, http.StatusOK, "BackupServers", true, body)
		return
	}
	body := entityReferences{}
	for _, sv := range s.fleet.servers {
		body.Refs = append(body.Refs, c.b.serverRef(sv))
	}
	writeXML(w, http.StatusOK, "EntityReferences", true, body)
}

func (s *Server) getServer(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	for _, sv := range s.fleet.servers {
		if sv.id == id {
			if entityFormat(c) {
				writeXML(w, http.StatusOK, "BackupServer", false, c.b.serverEntity(sv))
			} else {
				writeXML(w, http.StatusOK, "EntityRef", true, entityRef{ref: c.b.serverRef(sv)})
			}
			return
		}
	}
	writeError(w, http.StatusNotFound, "Backup server "+id+" was not found.")
}
