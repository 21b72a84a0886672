package baseline

import (
	"context"
	"fmt"
	"net/url"
	"sync"
)

// Raw makes the EM calls of a cold job page and nothing else: the answers
// are read to the end and thrown away, so its time is EM's round trip as the
// portal's CPU sees it.
type Raw struct{ c *em }

// NewRaw logs on lazily, at the first call.
func NewRaw(emURL, user, pass string) *Raw { return &Raw{c: newEM(emURL, user, pass)} }

// Job reads the job entity and the first page of its sessions in parallel.
func (r *Raw) Job(ctx context.Context, id string) error {
	var wg sync.WaitGroup
	var e1, e2 error
	wg.Go(func() { _, e1 = r.c.get(ctx, "/agents/jobs/"+id, url.Values{"format": {"Entity"}}, nil) })
	wg.Go(func() { _, e2 = r.c.get(ctx, "/query", sessionsQuery(id), nil) })
	wg.Wait()
	return firstErr(e1, e2)
}

// sessionsQuery is the first page of a job's sessions as a job page asks for it.
func sessionsQuery(id string) url.Values {
	return url.Values{
		"type": {"BackupJobSession"}, "format": {"Entities"},
		"filter":   {`(JobUid=="urn:veeam:AgentBackupJob:` + id + `",JobUid=="urn:veeam:Job:` + id + `");JobType=="AgentBackup"`},
		"sortDesc": {"CreationTime"}, "pageSize": {"10"}, "page": {"1"},
	}
}

// Start posts the start action and reads the task it answers with once: what
// a click on Start needs from EM at the least.
func (r *Raw) Start(ctx context.Context, id string) error {
	var t struct {
		TaskID string `xml:"TaskId"`
	}
	if _, err := r.c.post(ctx, "/agents/jobs/"+id, url.Values{"action": {"start"}}, &t); err != nil {
		return err
	}
	if t.TaskID == "" {
		return fmt.Errorf("baseline: start of %s answered no task", id)
	}
	_, err := r.c.get(ctx, "/tasks/"+url.PathEscape(t.TaskID), nil, nil)
	return err
}
