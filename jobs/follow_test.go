package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// lagEM sits in front of emsim. While hide is set it answers every session
// query with an empty result, as EM does while its database lags the backup
// server; each hidden query is reported on hidden. A query by JobName fails
// the test: per-computer sessions must be read through agentManagementSessions.
type lagEM struct {
	t      *testing.T
	sim    *emsim.Server
	hide   atomic.Bool
	hidden chan struct{}
}

func (l *lagEM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/query" {
		q, _ := url.QueryUnescape(r.URL.RawQuery)
		if strings.Contains(strings.ToLower(q), "jobname") {
			l.t.Errorf("the portal queried sessions by name: %s", q)
		}
		if l.hide.Load() && strings.Contains(strings.ToLower(q), "type=backupjobsession") {
			select {
			case l.hidden <- struct{}{}:
			default:
			}
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			fmt.Fprint(w, `<?xml version="1.0" encoding="utf-8"?><QueryResult xmlns="http://www.veeam.com/ent/v1.0"><Entities><BackupJobSessions/></Entities><PagingInfo PageNum="1" PageSize="10" PagesCount="1"/></QueryResult>`)
			return
		}
	}
	l.sim.ServeHTTP(w, r)
}

func newLagService(t *testing.T, opts Options) (*Service, *lagEM, *noteRecorder) {
	t.Helper()
	l := &lagEM{t: t, sim: emsim.New(emsim.Config{Seed: 1, Jobs: 12, SessionSpeed: 300 * time.Millisecond}), hidden: make(chan struct{}, 1)}
	srv := httptest.NewServer(l)
	em, err := emclient.New(emclient.Config{BaseURL: srv.URL, Username: "svc", Password: "secret", Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &noteRecorder{}
	opts.PollEvery, opts.Logger, opts.Recorder = 10*time.Millisecond, slog.New(slog.DiscardHandler), rec
	s := NewService(em, opts)
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return s, l, rec
}

// TestStartFollowedToItsSession: emsim's finished start task has no Related
// link (as EM documents), and the run still follows the backup session it
// created to its result, which the audit records with the session id.
func TestStartFollowedToItsSession(t *testing.T) {
	s, l, rec := newLagService(t, Options{})
	job := simJob(t, l.sim, "Erin's laptop")
	run, err := s.Do(context.Background(), Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Start, ActOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-run.Done()
	st := run.Snapshot()
	if st.SessionID == "" || st.State == RunUnknown || st.Result == "" || st.Progress != 100 && st.State == RunFinished {
		t.Fatalf("run = %+v", st)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.finished) != 1 || rec.finished[0].SessionID != st.SessionID || rec.finished[0].Final == "" {
		t.Fatalf("audited %+v", rec.finished)
	}
}

// TestStartNoSessionYet: EM accepted the start but shows no session for it:
// the status says so in plain words, keeps looking, and follows the session
// once EM shows it.
func TestStartNoSessionYet(t *testing.T) {
	s, l, rec := newLagService(t, Options{SessionWait: 30 * time.Millisecond, SessionSearch: time.Minute})
	job := simJob(t, l.sim, "Erin's laptop")
	l.hide.Store(true)
	run, err := s.Do(context.Background(), Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Start, ActOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(NoSessionYet, Start)
	timeout := time.After(30 * time.Second)
	for st := run.Snapshot(); st.Message != want; st = run.Snapshot() {
		select {
		case <-l.hidden: // the run looked again
		case <-run.Done():
			t.Fatalf("the run ended without its session: %+v", run.Snapshot())
		case <-timeout:
			t.Fatalf("no plain-words status; run = %+v", st)
		}
	}
	if st := run.Snapshot(); st.State != RunRunning || st.SessionID != "" {
		t.Fatalf("while no session is shown: %+v", st)
	}
	l.hide.Store(false)
	<-run.Done()
	st := run.Snapshot()
	if st.SessionID == "" || st.State == RunUnknown {
		t.Fatalf("after EM showed the session: %+v", st)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.finished) != 1 || rec.finished[0].SessionID != st.SessionID || rec.finished[0].Final == "" {
		t.Fatalf("audited %+v", rec.finished)
	}
}

// TestChildrenOfProtectionGroup: the per-computer sessions of a job that
// protects a protection group are found (through agentManagementSessions;
// lagEM fails the test on a name query), one per computer, named by computer.
func TestChildrenOfProtectionGroup(t *testing.T) {
	s, l, _ := newLagService(t, Options{})
	ctx := context.Background()
	snap, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, sj := range l.sim.Jobs() {
		j, ok := snap.Find(sj.ID)
		if !ok || j.Last == nil || len(sj.Computers) < 2 {
			continue
		}
		if j.Kind != "" {
			t.Errorf("job %q has kind %q; EM states none", j.Name, j.Kind)
		}
		kids, err := s.Children(ctx, j, j.Last)
		if err != nil {
			t.Fatal(err)
		}
		if len(kids) != len(sj.Computers) {
			t.Fatalf("%q: %d computer sessions, want %d", j.Name, len(kids), len(sj.Computers))
		}
		for _, k := range kids {
			if !slices.Contains(sj.Computers, k.Computer) || k.Result == "" || k.Duration(time.Now()) <= 0 {
				t.Errorf("%q: child %+v", j.Name, k)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no job of several computers with a session in the fleet")
	}
}
