package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/policy"
)

// TestDoRefuses: every refusal of Do is typed, audited, and sends nothing
// to EM.
func TestDoRefuses(t *testing.T) {
	s, sim := newSimService(t, time.Hour)
	rec := &noteRecorder{}
	s.opts.Recorder = rec
	ctx := context.Background()
	idle := simJob(t, sim, "Erin's laptop") // its last run succeeded
	var notApplicable *NotApplicableError
	tests := []struct {
		name    string
		grant   *policy.Grant
		action  Action
		opts    ActOptions
		wantIs  []error
		wantAs  any
		audited Result // "" when nothing is audited (the request was malformed)
	}{
		{"no grant: not visible, answered as missing", nil, Start, ActOptions{}, []error{ErrNotVisible, ErrNotFound}, nil, ResultDenied},
		{"start granted but not view", policy.Only("test", policy.Start), Start, ActOptions{}, []error{ErrNotVisible}, nil, ResultDenied},
		{"view only", policy.Only("test", policy.View), Start, ActOptions{}, []error{ErrNotAllowed}, nil, ResultDenied},
		{"stop granted, start asked", policy.Only("test", policy.View, policy.Stop), Start, ActOptions{}, []error{ErrNotAllowed}, nil, ResultDenied},
		{"retry after success", everything, Retry, ActOptions{}, []error{ErrNotApplicable}, &notApplicable, ResultRefused},
		{"stop while idle", everything, Stop, ActOptions{}, []error{ErrNotApplicable}, &notApplicable, ResultRefused},
		{"enable an enabled schedule", everything, Enable, ActOptions{}, []error{ErrAlready, ErrNotApplicable}, &notApplicable, ResultRefused},
		{"unknown action", everything, Action("explode"), ActOptions{}, []error{ErrUnknownAction}, nil, ""},
		{"disable for a time without the holds", everything, Disable, ActOptions{Until: time.Now().Add(time.Hour)}, []error{ErrNeedsHolds}, nil, ""},
	}
	if !idle.ScheduleEnabled {
		t.Fatalf("%s: schedule off; the enable case needs it on", idle.Name)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.mu.Lock()
			before := len(rec.refused)
			rec.mu.Unlock()
			run, err := s.Do(ctx, Actor{Key: "test|mallory", Name: "Mallory", Grant: tt.grant}, idle.ID, tt.action, tt.opts)
			if run != nil || err == nil {
				t.Fatalf("Do = %v, %v; want a refusal", run, err)
			}
			for _, want := range tt.wantIs {
				if !errors.Is(err, want) {
					t.Errorf("err = %v; want errors.Is %v", err, want)
				}
			}
			if tt.wantAs != nil && !errors.As(err, tt.wantAs) {
				t.Errorf("err = %T %v; want %T", err, err, tt.wantAs)
			}
			rec.mu.Lock()
			got := rec.refused[before:]
			rec.mu.Unlock()
			switch {
			case tt.audited == "" && len(got) != 0:
				t.Errorf("audited %+v; want nothing", got)
			case tt.audited != "" && (len(got) != 1 || got[0].Result != tt.audited):
				t.Errorf("audited %+v; want one %s", got, tt.audited)
			}
		})
	}
	if n := len(sim.Stats().ActionCalls); n != 0 {
		t.Errorf("EM got actions: %v", sim.Stats().ActionCalls)
	}
}

// TestDoBusy: a second action while the first holds the job's lock is told
// who holds it; someone who may not see the job is told it does not exist.
func TestDoBusy(t *testing.T) {
	s, sim := newSimService(t, time.Hour)
	job := simJob(t, sim, "Erin's laptop")
	ctx := context.Background()
	// The lock as a first action holds it while EM has its task.
	if ok, _, err := s.opts.Locker.TryLock(ctx, "job-action:"+job.ID, newHolder("Alice", ""), time.Hour); !ok || err != nil {
		t.Fatalf("lock: %v %v", ok, err)
	}
	_, err := s.Do(ctx, Actor{Key: "test|bob", Name: "Bob", Grant: everything}, job.ID, Start, ActOptions{})
	var busy *BusyError
	if !errors.As(err, &busy) || busy.By != "Alice" || !errors.Is(err, ErrBusy) {
		t.Errorf("err = %v; want busy by Alice", err)
	}
	_, err = s.Do(ctx, Actor{Key: "test|mallory", Name: "Mallory"}, job.ID, Start, ActOptions{})
	if !errors.Is(err, ErrNotVisible) || errors.As(err, &busy) {
		t.Errorf("err = %v; want not visible, not who holds the job", err)
	}
}

func TestNewServiceRequiresRecorder(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewService without a Recorder did not panic")
		}
	}()
	s := NewService(nil, Options{Logger: slog.New(slog.DiscardHandler)})
	s.Close()
}

func TestApplicable(t *testing.T) {
	all := emclient.Links{{Rel: "Start"}, {Rel: "Stop"}, {Rel: "Retry"}, {Rel: "ToggleScheduleEnabled"}}
	job := func(links emclient.Links, last *Session, configured, enabled bool) *Job {
		return &Job{Entity: &emclient.AgentBackupJob{Links: links}, Last: last, ScheduleConfigured: configured, ScheduleEnabled: enabled}
	}
	running := &Session{State: "Working"}
	failed := &Session{State: "Stopped", Result: "Failed"}
	ok := &Session{State: "Stopped", Result: "Success"}
	tests := []struct {
		name    string
		j       *Job
		a       Action
		reason  string // "" when applicable
		already bool
	}{
		{"start idle", job(all, ok, true, true), Start, "", false},
		{"start never run", job(all, nil, true, true), Start, "", false},
		{"start running", job(all, running, true, true), Start, "The job is already running.", false},
		{"start without its link", job(nil, ok, true, true), Start, "Enterprise Manager does not offer Start for this job.", false},
		{"stop running", job(all, running, true, true), Stop, "", false},
		{"stop idle", job(all, ok, true, true), Stop, "The job is not running, so there is nothing to stop.", false},
		{"retry failed", job(all, failed, true, true), Retry, "", false},
		{"retry success", job(all, ok, true, true), Retry, "Retry is possible only after a failed run.", false},
		{"retry running", job(all, running, true, true), Retry, "Retry is possible only after a failed run.", false},
		{"retry never run", job(all, nil, true, true), Retry, "Retry is possible only after a failed run.", false},
		{"disable enabled", job(all, ok, true, true), Disable, "", false},
		{"disable disabled", job(all, ok, true, false), Disable, "The schedule is already disabled.", true},
		{"enable disabled", job(all, ok, true, false), Enable, "", false},
		{"enable enabled", job(all, ok, true, true), Enable, "The schedule is already enabled.", true},
		{"enable without a schedule", job(all, ok, false, false), Enable, "The job has no schedule.", false},
		{"toggle without its link", job(emclient.Links{{Rel: "Start"}}, ok, true, true), Disable, "Enterprise Manager does not offer schedule changes for this job.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Applicable(tt.j, tt.a)
			// The list asks it of every action of every row: its answer,
			// refusals included, costs no allocation.
			if n := testing.AllocsPerRun(10, func() { _ = Applicable(tt.j, tt.a) }); n != 0 {
				t.Errorf("Applicable allocates %v times", n)
			}
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Applicable = %v; want nil", err)
				}
				return
			}
			var na *NotApplicableError
			if !errors.As(err, &na) || na.Reason != tt.reason || !errors.Is(err, ErrNotApplicable) {
				t.Fatalf("Applicable = %v; want %q", err, tt.reason)
			}
			if errors.Is(err, ErrAlready) != tt.already {
				t.Errorf("errors.Is(ErrAlready) = %v; want %v", !tt.already, tt.already)
			}
		})
	}
}

// countingEM records the EM calls Do makes before it sends the action.
type countingEM struct {
	EM
	mu    sync.Mutex
	calls []string
	sent  bool
}

func (c *countingEM) note(call string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sent {
		c.calls = append(c.calls, call)
	}
}

func (c *countingEM) AgentJob(ctx context.Context, id string) (*emclient.AgentBackupJob, error) {
	c.note("entity")
	return c.EM.AgentJob(ctx, id)
}

func (c *countingEM) SessionPage(ctx context.Context, q emclient.Query, fn func(*emclient.SessionRow) error) (emclient.PagingInfo, error) {
	c.note(fmt.Sprintf("query BackupJobSession pageSize=%d", q.PageSize))
	return c.EM.SessionPage(ctx, q, fn)
}

func (c *countingEM) JobAction(ctx context.Context, id string, a emclient.Action) (*emclient.Task, error) {
	c.mu.Lock()
	c.sent = true
	c.mu.Unlock()
	return c.EM.JobAction(ctx, id, a)
}

func (c *countingEM) before() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls, c.sent = nil, false
	return out
}

// TestDoDecidesOn: what Do reads from EM before it sends the action. A
// copy of the job read within PollEvery decides a start, stop or retry, unless
// an action of the portal changed the job since; otherwise the newest
// session alone is read (never the sessions page), with the entity when no
// copy is cached. The toggle always reads the entity.
func TestDoDecidesOn(t *testing.T) {
	sim := emsim.New(emsim.Config{Seed: 1, Jobs: 12, SessionSpeed: time.Hour})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client, err := emclient.New(emclient.Config{BaseURL: srv.URL, Username: "svc", Password: "secret", Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	em := &countingEM{EM: client}
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(time.Microsecond); return clock }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d) }
	s := NewService(em, Options{PollEvery: time.Second, Now: now, Logger: slog.New(slog.DiscardHandler), Recorder: LogRecorder{Logger: slog.New(slog.DiscardHandler)}})
	t.Cleanup(s.Close)
	ctx := context.Background()
	alice := Actor{Key: "test|alice", Name: "Alice", Grant: everything}

	var idle []string
	for _, j := range sim.Jobs() {
		if st, _ := sim.JobState(j.ID); st.ScheduleEnabled {
			idle = append(idle, j.ID)
		}
	}
	const newest = "query BackupJobSession pageSize=1"
	tests := []struct {
		name   string
		action Action
		before func(id string) // what happened to the job before the click
		want   []string
	}{
		{"start, copy just read", Start, func(id string) { s.Job(ctx, id) }, nil},
		{"start, copy older than PollEvery", Start, func(id string) { s.Job(ctx, id); advance(2 * time.Second) }, []string{newest}},
		{"start, a run changed the job after the copy was read", Start, func(id string) {
			s.Job(ctx, id)
			r := &Run{JobID: id, Action: Stop, StartedAt: now(), done: make(chan struct{}), endedAt: now()}
			r.state.Changed = r.endedAt
			close(r.done)
			s.mu.Lock()
			s.runs[id] = r
			s.mu.Unlock()
		}, []string{newest}},
		{"start, nothing cached", Start, nil, []string{"entity", newest}},
		{"disable, copy just read", Disable, func(id string) { s.Job(ctx, id) }, []string{"entity"}},
		{"disable, nothing cached", Disable, nil, []string{"entity", newest}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := idle[i]
			if tt.before != nil {
				tt.before(id)
			}
			em.before()
			run, err := s.Do(ctx, alice, id, tt.action, ActOptions{})
			if err != nil {
				t.Fatalf("%s: %v", tt.action, err)
			}
			got := em.before()
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("EM reads before the action: %q; want %q", got, tt.want)
			}
			_ = run // followed until Close: EM's tasks take a tenth of the hour-long SessionSpeed
		})
	}
}
