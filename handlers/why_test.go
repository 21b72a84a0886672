package handlers

import (
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/policy"
)

func TestWhyLinesGroupsActionsByReason(t *testing.T) {
	p, err := policy.Parse(policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	job := policy.Job{UID: "urn:veeam:AgentBackupJob:1", Name: "x", Server: "vbr-berlin.corp.example", Platform: "AgentForWindows", Kind: "job"}
	tests := []struct {
		groups []string
		want   string
	}{
		{[]string{"agentdesk-admins"}, "You can see, start, stop and retry this job, and enable or disable its schedule because you are in agentdesk-admins."},
		{[]string{"helpdesk-berlin"}, "You can see, start and retry this job because you are in helpdesk-berlin."},
		{[]string{"auditors"}, "You can see this job because you are in auditors."},
		{nil, ""},
	}
	for _, tt := range tests {
		got := strings.Join(whyLines(p.For(policy.Subject{Key: "k", Groups: tt.groups}), job), "\n")
		if got != tt.want {
			t.Errorf("groups %v:\n got  %q\n want %q", tt.groups, got, tt.want)
		}
	}
}
