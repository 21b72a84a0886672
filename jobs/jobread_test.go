package jobs

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
)

// pageEM answers a job entity and its sessions (none, or one), counting the
// calls; anything else the service might call panics (nil EM).
type pageEM struct {
	EM
	sessions []emclient.SessionRow

	mu                           sync.Mutex
	entities, pages, serverLists int
}

func (e *pageEM) AgentJob(_ context.Context, id string) (*emclient.AgentBackupJob, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.entities++
	return &emclient.AgentBackupJob{UID: "urn:veeam:AgentBackupJob:" + id, Name: "Gold tier"}, nil
}

func (e *pageEM) SessionPage(_ context.Context, q emclient.Query, fn func(*emclient.SessionRow) error) (emclient.PagingInfo, error) {
	e.mu.Lock()
	e.pages++
	rows := e.sessions
	e.mu.Unlock()
	for i := range rows {
		if err := fn(&rows[i]); err != nil {
			return emclient.PagingInfo{}, err
		}
	}
	pages := 0
	if len(rows) > 0 {
		pages = 1
	}
	return emclient.PagingInfo{PageNum: q.Page, PageSize: q.PageSize, PagesCount: pages}, nil
}

func (e *pageEM) BackupServers(context.Context) ([]emclient.BackupServer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.serverLists++
	return nil, nil
}

func (e *pageEM) counts() (entities, pages, serverLists int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.entities, e.pages, e.serverLists
}

// TestJobReadsThePageOnce: a cold job page reads the entity and the first
// page of sessions once, whether the job has sessions or none (the empty
// page is kept too, not asked for again when the page shows it); both are
// read again once the JobTTL has passed on the injected clock.
func TestJobReadsThePageOnce(t *testing.T) {
	const id = "a6deb158-b26c-4140-8b26-5a3cc344e8ec"
	for name, rows := range map[string][]emclient.SessionRow{
		"no sessions": nil,
		"a session": {{UID: "urn:veeam:BackupJobSession:d46e39e0-1131-4585-91a7-e828ce7eafae", JobUID: "urn:veeam:AgentBackupJob:" + id,
			State: "Stopped", Result: "Success", Created: time.Date(2026, 12, 5, 17, 0, 0, 0, time.UTC)}},
	} {
		t.Run(name, func(t *testing.T) {
			em := &pageEM{sessions: rows}
			var mu sync.Mutex
			clock := time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC)
			now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
			s := NewService(em, Options{JobTTL: 5 * time.Second, Now: now, Logger: slog.New(slog.DiscardHandler), Recorder: LogRecorder{Logger: slog.New(slog.DiscardHandler)}})
			t.Cleanup(s.Close)
			ctx := context.Background()
			for round := 1; round <= 2; round++ {
				j, _, err := s.Job(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				page, err := s.Sessions(ctx, id, 1, firstSessionPage)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Sessions) != len(rows) || (j.Last != nil) != (len(rows) > 0) {
					t.Fatalf("round %d: %d sessions, Last %v; want %d", round, len(page.Sessions), j.Last, len(rows))
				}
				if e, p, _ := em.counts(); e != round || p != round {
					t.Fatalf("round %d: %d entity reads, %d session pages; want %d of each", round, e, p, round)
				}
				mu.Lock()
				clock = clock.Add(5 * time.Second) // the JobTTL: the next round is cold
				mu.Unlock()
			}
			if _, _, lists := em.counts(); lists != 1 {
				t.Errorf("%d backup server lists read; want 1 (their TTL is minutes)", lists)
			}
		})
	}
}
