package jobs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient/emsim"
)

// recordingLocker is a shared MemoryLocker that remembers every holder that
// asked for a lock, as two replicas sharing Redis would.
type recordingLocker struct {
	*MemoryLocker
	mu      sync.Mutex
	holders []string
}

func (l *recordingLocker) TryLock(ctx context.Context, key, holder string, ttl time.Duration) (bool, string, error) {
	l.mu.Lock()
	l.holders = append(l.holders, holder)
	l.mu.Unlock()
	return l.MemoryLocker.TryLock(ctx, key, holder, ttl)
}

// TestSamePersonTwoReplicas: the same person's double click reaching two
// replicas at once is two attempts with holders of their own; one is sent to
// EM, the other is told the job is busy, by that person's name.
func TestSamePersonTwoReplicas(t *testing.T) {
	a, sim := newSimService(t, 3*time.Second)
	locker := &recordingLocker{MemoryLocker: NewMemoryLocker(nil)}
	a.opts.Locker = locker
	b := NewService(a.em, a.opts)
	t.Cleanup(b.Close)
	job := simJob(t, sim, "Erin's laptop")
	actor := Actor{Key: "test|alice", Name: "Alice", Grant: everything}

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Service{a, b} {
		wg.Go(func() { _, errs[i] = s.Do(context.Background(), actor, job.ID, Start, ActOptions{}) })
	}
	wg.Wait()

	var busy *BusyError
	ok, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.As(err, &busy):
			refused++
			if busy.By != "Alice" {
				t.Errorf("busy by %q, want Alice", busy.By)
			}
		case errors.Is(err, ErrNotApplicable):
			// The first start was accepted and released the lock before the
			// second tried: refused on EM's state, also fine.
			refused++
		default:
			t.Errorf("Act: %v", err)
		}
	}
	if ok != 1 || refused != 1 {
		t.Errorf("%d sent, %d refused; want 1 and 1", ok, refused)
	}
	if n := sim.Stats().ActionCalls[emsim.ActionKey(job.ID, "start")]; n != 1 {
		t.Errorf("EM got %d start calls, want 1", n)
	}
	locker.mu.Lock()
	defer locker.mu.Unlock()
	if len(locker.holders) != 2 || locker.holders[0] == locker.holders[1] {
		t.Fatalf("lock holders %q: want two distinct attempts", locker.holders)
	}
	for _, h := range locker.holders {
		if HolderName(h) != "Alice" {
			t.Errorf("HolderName(%q) = %q, want Alice", h, HolderName(h))
		}
	}
}

func TestHolderName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Alice" + holderSep + "0011aabb", "Alice"},
		{"plain", "plain"},
		{"", ""},
		{"a" + holderSep + "b" + holderSep + "c", "a" + holderSep + "b"},
	} {
		if got := HolderName(c.in); got != c.want {
			t.Errorf("HolderName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if a, b := newHolder("Alice", ""), newHolder("Alice", ""); a == b {
		t.Error("two attempts by one person got the same holder")
	}
}
