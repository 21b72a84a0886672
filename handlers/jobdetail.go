package handlers

import (
	"sync"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/views"
)

// detailMemo remembers the part of a job page's model that is made from
// three things alone: the job as read from EM (*jobs.Job), the page of its
// sessions (*jobs.SessionPage) and its backup server (*emclient.BackupServer,
// nil when unknown). Each is read once and never changed afterwards (a new
// read from EM is a new pointer), so an entry made from the same three
// pointers is the same model, and a warm job page copies it instead of
// building its session rows, URLs and labels again. What depends on the
// request (the user's buttons and reasons, the live run, the hold banner,
// the audit links) is added per request by jobDetail. A page showing a
// running session is not kept: its rows depend on the clock (the duration
// so far).
type detailMemo struct {
	mu      sync.Mutex
	entries map[detailKey]detailEntry
}

type detailKey struct {
	id   string
	page int
}

type detailEntry struct {
	job  *jobs.Job
	page *jobs.SessionPage
	srv  *emclient.BackupServer
	m    views.JobDetail // never written to once kept
}

// detailMemoLimit bounds the memo: a model is a few KB (ten session rows),
// so about 2 MB at most.
const detailMemoLimit = 512

func (d *detailMemo) get(j *jobs.Job, page *jobs.SessionPage, srv *emclient.BackupServer) (views.JobDetail, bool) {
	d.mu.Lock()
	e, ok := d.entries[detailKey{j.ID, page.Page}]
	d.mu.Unlock()
	if !ok || e.job != j || e.page != page || e.srv != srv {
		return views.JobDetail{}, false
	}
	return e.m, true
}

func (d *detailMemo) put(j *jobs.Job, page *jobs.SessionPage, srv *emclient.BackupServer, m views.JobDetail) {
	for _, s := range page.Sessions {
		if !s.Start.IsZero() && s.End.IsZero() {
			return // a running session's duration is counted to now
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries == nil {
		d.entries = make(map[detailKey]detailEntry)
	}
	k := detailKey{j.ID, page.Page}
	if _, ok := d.entries[k]; !ok && len(d.entries) >= detailMemoLimit {
		for k := range d.entries { // any one: a map's order is unspecified
			delete(d.entries, k)
			break
		}
	}
	d.entries[k] = detailEntry{job: j, page: page, srv: srv, m: m}
}
