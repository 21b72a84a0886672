package emclient

import (
	"context"
	"net/url"
	"strings"
)

// AgentManagementSessions lists the per-computer child sessions of an agent
// job's parent session (GET /api/backupSessions/{id}/agentManagementSessions,
// the parent's Alternate link of Type BackupJobSessionReferenceList). EM names
// each child "<job> - <computer>@<time>"; the computers are not known from the
// job entity when it protects a protection group, so this list, not a query by
// name, is the way to them. Read a child's state with BackupSession.
func (c *Client) AgentManagementSessions(ctx context.Context, sessionID string) ([]Ref, error) {
	if err := checkID("session", sessionID); err != nil {
		return nil, err
	}
	var refs EntityReferences
	path := "/backupSessions/" + url.PathEscape(sessionID) + "/agentManagementSessions"
	if err := c.exec(ctx, getList("/backupSessions/{id}/agentManagementSessions", path, nil, &refs)); err != nil {
		return nil, err
	}
	return refs.Refs, nil
}

// ChildComputer is the computer a per-computer child session belongs to, from
// its name "<job> - <computer>@<time>" (or its JobName "<job> - <computer>"):
// the part after "<job> - ". When the name does not start with the job's name,
// the part after the last " - " is taken; "" when there is none.
func ChildComputer(jobName, childName string) string {
	n := childName
	if i := strings.LastIndexByte(n, '@'); i >= 0 {
		n = n[:i]
	}
	if rest, ok := strings.CutPrefix(n, jobName+" - "); ok && jobName != "" {
		return strings.TrimSpace(rest)
	}
	if i := strings.LastIndex(n, " - "); i >= 0 {
		return strings.TrimSpace(n[i+3:])
	}
	return ""
}
