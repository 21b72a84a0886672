package jobs

import (
	"testing"

	"github.com/agentdesk/agentdesk/emclient"
)

// TestJobMatches: a search finds a job by its name, description or any
// computer, whatever the case, both for a job read from EM (text made once)
// and for one built by hand (text made on the spot); never across fields.
func TestJobMatches(t *testing.T) {
	read := jobFrom(&emclient.AgentBackupJob{UID: "urn:veeam:AgentBackupJob:00000000-0000-0000-0000-000000000001",
		Name: "Gold tier SQL", Description: "Nightly – Développement"})
	read.Computers = []string{"SRV-BER-0149.corp.example"}
	read.search = searchText(read)
	byHand := &Job{Name: read.Name, Description: read.Description, Computers: read.Computers}
	tests := []struct {
		q    string
		want bool
	}{
		{"gold", true},
		{"tier sql", true},
		{"développement", true},
		{"srv-ber-0149", true},
		{"corp.example", true},
		{"sqlnightly", false}, // end of the name + start of the description
		{"laptop", false},
	}
	for _, tt := range tests {
		for what, j := range map[string]*Job{"read": read, "by hand": byHand} {
			if got := j.Matches(tt.q); got != tt.want {
				t.Errorf("%s job, %q: %v, want %v", what, tt.q, got, tt.want)
			}
		}
	}
}
