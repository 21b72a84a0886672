package handlers

import (
	"sync"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/views"
)

// entityFacts are the parts of a job page that come from EM's entity alone,
// as the page lists them. An entity is never changed once read (a fresher
// read is a new entity), so they are worked out once per entity, not on
// every view of the job: on a warm job page they were an eighth of its CPU.
// They are shared by every page that shows the entity: read them, never
// change them.
type entityFacts struct {
	scheduleRaw []views.KV
	links       []views.KV
	includes    []views.Include
	jobGuest    []views.KV
	retention   []views.KV
}

func newEntityFacts(e *emclient.AgentBackupJob) *entityFacts {
	f := &entityFacts{scheduleRaw: scheduleRaw(e.JobScheduleOptions)}
	for _, l := range e.Links {
		f.links = append(f.links, views.KV{Key: l.Rel + " " + l.Type, Value: l.Href})
	}
	if e.JobInfo != nil {
		for _, inc := range e.JobInfo.Includes {
			f.includes = append(f.includes, views.Include{
				Name: inc.Name, DisplayName: inc.DisplayName, Kind: includeKind(inc.HierarchyObjRef),
				Guest: guestKVs(inc.GuestProcessingOptions),
			})
		}
		f.jobGuest = guestKVs(e.JobInfo.GuestProcessingOptions)
		f.retention = retentionKVs(e.JobInfo)
	}
	return f
}

// factsLimit bounds the entities remembered: the job pages recently shown.
const factsLimit = 512

// factsMemo remembers the facts of recently shown entities, by the entity
// (its pointer: a job read again from EM is a new entity, so its facts are
// worked out anew).
type factsMemo struct {
	mu sync.Mutex
	m  map[*emclient.AgentBackupJob]*entityFacts
}

func (fm *factsMemo) of(e *emclient.AgentBackupJob) *entityFacts {
	fm.mu.Lock()
	f, ok := fm.m[e]
	fm.mu.Unlock()
	if ok {
		return f
	}
	f = newEntityFacts(e)
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.m == nil {
		fm.m = make(map[*emclient.AgentBackupJob]*entityFacts)
	}
	if len(fm.m) >= factsLimit {
		for k := range fm.m { // any one: a map's order is unspecified
			delete(fm.m, k)
			break
		}
	}
	fm.m[e] = f
	return f
}
