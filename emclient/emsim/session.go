package emsim

import (
	"time"
)

// jobSession is a BackupJobSession: a parent (JobType AgentBackup) or a child
// per computer (JobType AgentManagement, parent != nil). Its state is not
// stored: at() derives it from the timestamps, so progress advances with the
// clock without any goroutine.
type jobSession struct {
	id       string
	job      *job
	parent   *jobSession
	member   member // children only
	children []*jobSession

	created  time.Time
	starting time.Duration // time spent in State Starting
	length   time.Duration // natural run time; Progress reaches 100 at created+length
	result   string        // result when the run ends by itself
	message  string        // FailureMessage of that result
	isRetry  bool

	stopReq time.Time // when a stop was requested (zero: never)
	stopAt  time.Time // when the stop completes
	stopMsg string
}

func (s *jobSession) uid() string { return "urn:veeam:BackupJobSession:" + s.id }

const sessionTimeLayout = "2006-01-02 15:04:05.000000"

func (s *jobSession) jobName() string {
	if s.parent != nil {
		return s.job.name + " - " + s.member.computer
	}
	return s.job.name
}

func (s *jobSession) jobID() string {
	if s.parent != nil {
		return s.member.childJobID
	}
	return s.job.id
}

func (s *jobSession) name() string {
	return s.jobName() + "@" + s.created.UTC().Format(sessionTimeLayout)
}

// sessionView is a session's state at one instant.
type sessionView struct {
	s        *jobSession
	state    string
	result   string
	progress int
	end      time.Time // zero while running
	message  string
}

func (s *jobSession) progressAt(t time.Time) int {
	if s.length <= 0 {
		return 100
	}
	p := int(t.Sub(s.created) * 100 / s.length)
	return max(0, min(p, 99))
}

func (s *jobSession) at(now time.Time) sessionView {
	v := sessionView{s: s, result: "None"}
	end := s.created.Add(s.length)
	if !s.stopReq.IsZero() && !now.Before(s.stopReq) {
		v.progress = s.progressAt(s.stopReq)
		if now.Before(s.stopAt) {
			v.state = "Stopping"
			return v
		}
		v.state, v.result, v.end, v.message = "Stopped", "Failed", s.stopAt, s.stopMsg
		return v
	}
	switch {
	case now.Before(s.created.Add(s.starting)):
		v.state = "Starting"
	case now.Before(end):
		v.state, v.progress = "Working", s.progressAt(now)
	default:
		v.state, v.result, v.progress, v.end, v.message = "Stopped", s.result, 100, end, s.message
	}
	return v
}

func (v sessionView) running() bool { return v.end.IsZero() }

// latest returns the job's newest parent session, if any.
func (j *job) latest() *jobSession {
	if len(j.sessions) == 0 {
		return nil
	}
	return j.sessions[len(j.sessions)-1]
}

func (b base) sessionLinks(v sessionView, entity bool) []link {
	s := v.s
	links := []link{
		{Rel: "Up", Type: "BackupServerReference", Href: b.url("/backupServers/" + s.job.srv.id), Name: s.job.srv.name},
		{Rel: "Up", Type: "JobReference", Href: b.url("/agents/jobs/" + s.jobID()), Name: s.jobName()},
	}
	if s.parent != nil {
		links = append(links, link{Rel: "Up", Type: "BackupJobSessionReference", Href: b.url("/backupSessions/" + s.parent.id), Name: "Parent session"})
	} else {
		links = append(links, link{Rel: "Alternate", Type: "BackupJobSessionReferenceList", Href: b.url("/backupSessions/" + s.id + "/agentManagementSessions")})
	}
	if entity {
		links = append(links, link{Rel: "Alternate", Type: "BackupJobSessionReference", Href: b.url("/backupSessions/" + s.id), Name: s.name()})
	} else {
		links = append(links, link{Rel: "Alternate", Type: "BackupJobSession", Href: b.url("/backupSessions/" + s.id + "?format=Entity"), Name: s.name()})
	}
	links = append(links, link{Rel: "Down", Type: "BackupTaskSessionReferenceList", Href: b.url("/backupSessions/" + s.id + "/taskSessions")})
	if entity {
		// As in the documented entity (a Stopped session with a Stop link): the
		// link does not say the session can be stopped now.
		links = append(links, link{Rel: "Stop", Href: b.url("/backupSessions/" + s.id + "?action=stop")})
	}
	return links
}

func (b base) sessionRef(v sessionView) ref {
	s := v.s
	return ref{
		UID: s.uid(), Name: s.name(), Href: b.url("/backupSessions/" + s.id),
		Type: "BackupJobSessionReference", Links: b.sessionLinks(v, false),
	}
}

func (b base) sessionEntity(v sessionView) backupJobSession {
	s := v.s
	e := backupJobSession{
		Type: "BackupJobSession", Href: b.url("/backupSessions/" + s.id + "?format=Entity"),
		Name: s.name(), UID: s.uid(), Links: b.sessionLinks(v, true),
		JobUID: "urn:veeam:AgentBackupJob:" + s.jobID(), JobName: s.jobName(), JobType: "AgentBackup",
		CreationTimeUTC: xmlTime{s.created}, State: v.state, Result: v.result, Progress: v.progress,
		FailureMessage: v.message, IsRetry: s.isRetry,
	}
	if s.parent != nil {
		e.JobType = "AgentManagement"
	}
	if !v.end.IsZero() {
		e.EndTimeUTC = &xmlTime{v.end}
	}
	return e
}
