package audit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/store"
)

// The crash test: a child process performs up to 1,000 actions through the
// real jobs.Service with this log as its Recorder, as fast as it can, and is
// killed with SIGKILL once EM has received about 300 of them. Every action EM
// received must have an audit entry, because the entry is written durably
// before EM is called.

const (
	crashChildEnv = "AGENTDESK_AUDIT_CRASH_CHILD"
	crashActions  = 1000
	crashKillAt   = 300
	crashJobs     = 64
)

func TestCrashKeepsEveryActionThatReachedEM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	sim, _, url := newEM(t, emsim.Config{Jobs: crashJobs, SessionSpeed: 20 * time.Millisecond})
	dbPath := filepath.Join(t.TempDir(), "audit.db")
	// The schema exists before the child starts, as after any earlier start.
	db, err := store.OpenSQLite(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	newSQLStore(t, db)
	db.Close()

	var jobSpecs []string
	for _, j := range sim.Jobs() {
		jobSpecs = append(jobSpecs, fmt.Sprintf("%s:%t", j.ID, j.ScheduleEnabled))
	}
	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", "AGENTDESK_CRASH_EM="+url, "AGENTDESK_CRASH_DB="+dbPath,
		"AGENTDESK_CRASH_JOBS="+strings.Join(jobSpecs, ","))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	total := func() int64 {
		var n int64
		for _, v := range sim.Stats().ActionCalls {
			n += v
		}
		return n
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	for !killed {
		select {
		case err := <-exited:
			t.Fatalf("the child ended before it was killed (%v) after %d actions:\n%s", err, total(), out.String())
		default:
		}
		if total() >= crashKillAt {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
		time.Sleep(200 * time.Microsecond)
	}
	<-exited
	// Requests the child sent before it died may still be in EM's hands: wait
	// until EM's counters stop moving.
	last := total()
	for still := 0; still < 5; {
		time.Sleep(50 * time.Millisecond)
		if n := total(); n != last {
			last, still = n, 0
		} else {
			still++
		}
	}
	calls := sim.Stats().ActionCalls

	// The next start: open the database and reconcile from EM.
	ctx := context.Background()
	db, err = store.OpenSQLite(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := New(newSQLStore(t, db), Options{Logger: testLogger()})
	before := map[Result]int{}
	l.Each(ctx, Filter{Kind: KindAction}, func(e Entry) error { before[e.Result]++; return nil })
	rep, err := l.Reconcile(ctx, newClient(t, url), time.Now())
	if err != nil {
		t.Fatal(err)
	}

	// Entries of actions that may have reached EM, by EM's key.
	entries := map[string]int64{}
	after := map[Result]int{}
	err = l.Each(ctx, Filter{Kind: KindAction}, func(e Entry) error {
		after[e.Result]++
		if e.Result == ResultRefused || e.Result == ResultDenied {
			return nil
		}
		action := e.Action
		if action == string(jobs.Enable) || action == string(jobs.Disable) {
			action = "toggleScheduleEnabled"
		}
		entries[emsim.ActionKey(e.JobID, action)]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var nCalls, nEntries int64
	for k, n := range calls {
		nCalls += n
		if entries[k] < n {
			t.Errorf("EM received %d × %q but the audit log has %d entries for it", n, k, entries[k])
		}
	}
	for _, n := range entries {
		nEntries += n
	}
	t.Logf("crash test: EM received %d actions (child killed at ≥%d of %d planned); %d audit entries for them; "+
		"before reconcile %v; reconcile: %d pending → %d performed, %d unknown; after %v",
		nCalls, crashKillAt, crashActions, nEntries, before, rep.Pending, rep.Performed, rep.Unknown, after)
	if nCalls >= crashActions {
		t.Errorf("the child was not killed mid-way: EM received all %d actions", nCalls)
	}
	if after[ResultPending] != 0 {
		t.Errorf("%d entries still pending after reconcile", after[ResultPending])
	}
	if t.Failed() {
		t.Logf("child output:\n%s", out.String())
	}
}

// TestCrashChild is the process the crash test kills; it does nothing unless
// started by it.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) == "" {
		t.Skip("run by TestCrashKeepsEveryActionThatReachedEM")
	}
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, os.Getenv("AGENTDESK_CRASH_DB"))
	if err != nil {
		t.Fatal(err)
	}
	l := New(newSQLStore(t, db), Options{Logger: testLogger()})
	em := newClient(t, os.Getenv("AGENTDESK_CRASH_EM"))
	svc := jobs.NewService(em, jobs.Options{Recorder: l, PollEvery: 2 * time.Millisecond, Logger: testLogger()})

	// Half the jobs are started again and again, the others have their
	// schedule switched back and forth; one worker per job, all at once.
	var left atomic.Int64
	left.Store(crashActions)
	var wg sync.WaitGroup
	for i, spec := range strings.Split(os.Getenv("AGENTDESK_CRASH_JOBS"), ",") {
		id, enabled, _ := strings.Cut(spec, ":")
		wg.Add(1)
		go func() {
			defer wg.Done()
			actor := jobs.Actor{Key: "crash|worker", Name: fmt.Sprintf("worker %d", i), IP: "127.0.0.1", Grant: policy.Unrestricted("crash test")}
			on := enabled == "true"
			for left.Add(-1) >= 0 {
				a := jobs.Start
				if i%2 == 1 {
					a = jobs.Disable
					if !on {
						a = jobs.Enable
					}
				}
				run, err := svc.Do(ctx, actor, id, a, jobs.ActOptions{})
				if err != nil {
					continue // refused (already running, busy): audited too
				}
				<-run.Done()
				if a != jobs.Start {
					on = !on
				}
			}
		}()
	}
	wg.Wait()
	t.Log("all actions done")
}
