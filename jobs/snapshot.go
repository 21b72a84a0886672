package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrListLoading means the first job list since start is still being read from
// EM after the bounded wait; the read goes on, and a later request gets it.
var ErrListLoading = errors.New("jobs: the job list is still loading from Enterprise Manager")

// snapshots keeps the fleet snapshot the list is drawn from and refreshes it
// stale-while-revalidate: once the snapshot is older than the TTL (or an action
// invalidated it) the next request starts ONE refresh in the background and
// every request is answered from the snapshot it has, at once. A refresh runs
// on the service's context with a deadline of its own, never a request's, so
// no viewer's deadline or closed tab can cut it short. Only the first load
// ever (no snapshot yet) is waited for, and only up to firstWait.
type snapshots struct {
	now       func() time.Time
	ttl       time.Duration
	firstWait time.Duration
	timeout   time.Duration
	load      func(ctx context.Context, prev *Snapshot) (*Snapshot, error)
	log       *slog.Logger
	stats     *cacheStats // a request answered from a snapshot is a hit, however old

	ctx context.Context // the service's: ends at Close
	wg  *sync.WaitGroup // the service's: Close waits for a refresh in flight

	mu       sync.Mutex
	cur      *Snapshot // nil until the first load succeeds
	loadedAt time.Time // when cur was stored: the TTL runs from here
	version  uint64    // bumped by invalidate
	curVer   uint64    // the version the load of cur started under
	running  *refresh  // the refresh in flight, nil when none
	lastTry  time.Time // when the last refresh started
	failed   error     // the last refresh's error; nil after a success
	failedAt time.Time
}

type refresh struct {
	done chan struct{}
	err  error
}

// get returns the snapshot to show now; see snapshots.
func (p *snapshots) get(ctx context.Context) (*Snapshot, error) {
	p.mu.Lock()
	now := p.now()
	if p.cur != nil {
		p.stats.hits.Add(1)
		if p.running == nil && p.staleLocked(now) {
			p.startLocked(now)
		}
		snap := p.viewLocked()
		p.mu.Unlock()
		return snap, nil
	}
	p.stats.misses.Add(1)
	r := p.running
	if r == nil {
		r = p.startLocked(now)
	}
	p.mu.Unlock()

	wait := time.NewTimer(p.firstWait)
	defer wait.Stop()
	select {
	case <-r.done:
	case <-wait.C:
		return nil, ErrListLoading
	case <-ctx.Done():
		// The request's own deadline came first: the same answer.
		return nil, fmt.Errorf("%w: %w", ErrListLoading, ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil, r.err
	}
	return p.viewLocked(), nil
}

// staleLocked: the snapshot is past its TTL or an action invalidated it after
// its load began. After a failed refresh the next try waits a TTL, so a down
// EM is asked once per TTL, not once per request.
func (p *snapshots) staleLocked(now time.Time) bool {
	if p.failed != nil {
		return now.Sub(p.lastTry) >= p.ttl
	}
	return p.curVer < p.version || now.Sub(p.loadedAt) >= p.ttl
}

// viewLocked is a copy of the current snapshot saying how fresh it is.
func (p *snapshots) viewLocked() *Snapshot {
	s := *p.cur
	s.Refreshing = p.running != nil
	if p.failed != nil {
		s.RefreshFailed, s.FailedAt = true, p.failedAt
	}
	return &s
}

func (p *snapshots) startLocked(now time.Time) *refresh {
	r := &refresh{done: make(chan struct{})}
	p.running, p.lastTry = r, now
	ver, prev := p.version, p.cur
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
		defer cancel()
		snap, err := p.load(ctx, prev)
		p.mu.Lock()
		p.running = nil
		if err != nil {
			err = fmt.Errorf("refresh the job list: %w", err)
			p.failed, p.failedAt = err, p.now()
			p.log.Warn("job list refresh failed; the last snapshot stays", "err", err, "has_snapshot", p.cur != nil)
		} else {
			p.cur, p.loadedAt, p.curVer, p.failed = snap, p.now(), ver, nil
		}
		r.err = err
		p.mu.Unlock()
		close(r.done)
	}()
	return r
}

// invalidate marks the snapshot stale: it is still shown, and the next
// request refreshes it. A refresh already running when this is called stores
// its result (newer than what is shown) but leaves it stale, so the state
// after the action is read by the refresh after.
func (p *snapshots) invalidate() {
	p.mu.Lock()
	p.version++
	p.mu.Unlock()
}
