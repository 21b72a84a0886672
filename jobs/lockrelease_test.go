package jobs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// blipLocker is a real MemoryLocker behind a lock store that fails the first
// failUnlocks releases (a Redis or PostgreSQL blip), and reports what got
// through.
type blipLocker struct {
	*MemoryLocker
	mu          sync.Mutex
	failUnlocks int
	unlocked    chan string   // holders released
	renewed     chan struct{} // one value per successful renewal
}

var errBlip = errors.New("lock store: connection refused")

func (l *blipLocker) Unlock(ctx context.Context, key, holder string) error {
	l.mu.Lock()
	fail := l.failUnlocks > 0
	if fail {
		l.failUnlocks--
	}
	l.mu.Unlock()
	if fail {
		return errBlip
	}
	err := l.MemoryLocker.Unlock(ctx, key, holder)
	select {
	case l.unlocked <- holder:
	default:
	}
	return err
}

func (l *blipLocker) Renew(ctx context.Context, key, holder string, ttl time.Duration) (bool, error) {
	held, err := l.MemoryLocker.Renew(ctx, key, holder, ttl)
	if held {
		select {
		case l.renewed <- struct{}{}:
		default:
		}
	}
	return held, err
}

// guard only keeps a broken build from hanging the suite; nothing here is
// a timing assertion.
const guard = time.Minute

// TestLockReleasedAfterStoreBlip: the lock store fails the release twice when
// EM's task has finished. The release is retried, so the job is free again
// long before the lock's TTL (an hour here) would have freed it.
func TestLockReleasedAfterStoreBlip(t *testing.T) {
	s, sim := newSimService(t, time.Second)
	locker := &blipLocker{MemoryLocker: NewMemoryLocker(nil), failUnlocks: 2, unlocked: make(chan string, 1), renewed: make(chan struct{}, 1)}
	s.opts.Locker, s.opts.LockTTL = locker, time.Hour
	job := simJob(t, sim, "Erin's laptop")
	run, err := s.Do(context.Background(), Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Start, ActOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-locker.unlocked:
	case <-time.After(guard):
		t.Fatal("the job lock was not released after the lock store came back")
	}
	ok, cur, _ := locker.TryLock(context.Background(), "job-action:"+job.ID, "probe", time.Minute)
	if !ok {
		t.Errorf("job still locked by %q after the release was retried", cur)
	}
	<-run.Done()
}

// TestLockHeartbeat: while EM's task runs, the holder renews its lock, so a
// short TTL does not expire under a long task.
func TestLockHeartbeat(t *testing.T) {
	s, sim := newSimService(t, time.Second)
	// The locker's clock stands still, so the lock cannot expire however late
	// a beat comes on a loaded machine; the short TTL only makes beats frequent.
	frozen := time.Now()
	locker := &blipLocker{MemoryLocker: NewMemoryLocker(func() time.Time { return frozen }), unlocked: make(chan string, 1), renewed: make(chan struct{}, 1)}
	s.opts.Locker, s.opts.LockTTL = locker, 30*time.Millisecond
	job := simJob(t, sim, "Erin's laptop")
	// EM's task answers only once the test has seen the renewals.
	sim.SetFaults(emsim.Faults{BlackHole: true, Paths: []string{"/tasks/"}})
	run, err := s.Do(context.Background(), Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Start, ActOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case <-locker.renewed:
		case <-time.After(guard):
			t.Fatal("the lock was not renewed while EM's task ran")
		}
	}
	sim.SetFaults(emsim.Faults{})
	<-run.Done()
}

// TestDropStaleLocks: a replica killed while holding locks starts again with
// the same instance id: its old locks are dropped at once, another replica's
// stay.
func TestDropStaleLocks(t *testing.T) {
	a, sim := newSimService(t, time.Second)
	shared := NewMemoryLocker(nil)
	ctx := context.Background()
	job := simJob(t, sim, "Erin's laptop")
	other := sim.Jobs()[0].ID
	if other == job.ID {
		other = sim.Jobs()[1].ID
	}
	// What the killed run of replica r1, and the live replica r2, hold.
	shared.TryLock(ctx, "job-action:"+job.ID, newHolder("Alice", "r1"), time.Hour)
	shared.TryLock(ctx, "job-action:"+other, newHolder("Bob", "r2"), time.Hour)

	opts := a.opts
	opts.Locker, opts.InstanceID = shared, "r1"
	restarted := NewService(a.em, opts)
	t.Cleanup(restarted.Close)
	n, err := restarted.DropStaleLocks(ctx)
	if err != nil || n != 1 {
		t.Fatalf("DropStaleLocks = %d, %v; want 1", n, err)
	}
	run, err := restarted.Do(ctx, Actor{Key: "test|alice", Name: "Alice", Grant: everything}, job.ID, Start, ActOptions{})
	if err != nil {
		t.Fatalf("start after the restart: %v", err)
	}
	<-run.Done()
	_, err = restarted.Do(ctx, Actor{Key: "test|alice", Name: "Alice", Grant: everything}, other, Start, ActOptions{})
	var busy *BusyError
	if !errors.As(err, &busy) || busy.By != "Bob" {
		t.Errorf("another replica's lock: %v, want busy by Bob", err)
	}
}
