package handlers

import (
	"reflect"
	"testing"

	"github.com/agentdesk/agentdesk/emclient"
)

// TestFactsMemo: an entity's facts are the ones worked out afresh; the same
// entity gives the very facts it gave before; a fresher read of the job (a
// new entity) gets its own, so a page never shows an earlier read's facts;
// and the memo stays within its bound.
func TestFactsMemo(t *testing.T) {
	entity := func(name, rel string) *emclient.AgentBackupJob {
		return &emclient.AgentBackupJob{Name: name,
			Links:   emclient.Links{{Rel: rel, Type: "AgentBackupJob", Href: "https://em/api/agents/jobs/1"}},
			JobInfo: &emclient.AgentJobInfo{Includes: []emclient.ObjectInAgentBackupJob{{Name: "erin-laptop"}}},
		}
	}
	var fm factsMemo
	first := entity("Erin", "Start")
	got := fm.of(first)
	if want := newEntityFacts(first); !reflect.DeepEqual(got, want) {
		t.Fatalf("facts %+v, worked out afresh %+v", got, want)
	}
	if again := fm.of(first); again != got {
		t.Error("the same entity's facts were worked out again")
	}
	reread := entity("Erin", "Stop") // EM now offers Stop: a new read, a new entity
	if f := fm.of(reread); len(f.links) != 1 || f.links[0].Key != "Stop AgentBackupJob" {
		t.Errorf("a fresher read shows the links %+v, want its own (Stop)", f.links)
	}
	for range 2 * factsLimit {
		fm.of(entity("x", "Start"))
	}
	if n := len(fm.m); n > factsLimit {
		t.Errorf("%d entities remembered, bound %d", n, factsLimit)
	}
}
