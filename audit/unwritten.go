package audit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Outcomes that could not be written (the database was briefly down when the
// action ended) are kept in memory and written again with backoff until they
// land, so an entry does not stay "pending" until the next restart's
// reconcile. At most MaxUnwritten are kept; past that the write fails loudly
// and the entry waits for reconcile.
const (
	defaultRetryBackoff    = time.Second
	defaultRetryBackoffMax = time.Minute
	defaultMaxUnwritten    = 10000
	// retryWriteTimeout bounds one write attempt of a kept outcome.
	retryWriteTimeout = 10 * time.Second
)

// ErrNoEntry: there is no entry with that id to complete. Such an outcome is
// not kept: writing it again cannot succeed.
var ErrNoEntry = errors.New("no such entry")

// unwritten is an outcome waiting to be written; seq tells a newer outcome of
// the same entry from the one a retry is writing.
type unwritten struct {
	c   Completion
	seq uint64
}

// keep stores the outcome of entry id for the retry loop; false when the
// limit is reached.
func (l *Log) keep(id int64, c Completion) bool {
	l.umu.Lock()
	defer l.umu.Unlock()
	if _, ok := l.unwritten[id]; !ok && len(l.unwritten) >= l.maxUnwritten {
		return false
	}
	l.useq++
	l.unwritten[id] = unwritten{c: c, seq: l.useq}
	if l.drained == nil {
		l.drained = make(chan struct{})
	}
	if !l.retrying {
		l.retrying = true
		go l.retryLoop()
	}
	return true
}

// Unwritten returns how many outcomes wait to be written.
func (l *Log) Unwritten() int {
	l.umu.Lock()
	defer l.umu.Unlock()
	return len(l.unwritten)
}

// Drained returns a channel that is closed once no outcome waits to be
// written (at once when none does).
func (l *Log) Drained() <-chan struct{} {
	l.umu.Lock()
	defer l.umu.Unlock()
	if l.drained == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return l.drained
}

// Flush tries once to write every kept outcome and returns the first error.
func (l *Log) Flush(ctx context.Context) error {
	l.umu.Lock()
	todo := make(map[int64]unwritten, len(l.unwritten))
	for id, u := range l.unwritten {
		todo[id] = u
	}
	l.umu.Unlock()
	var first error
	for id, u := range todo {
		wctx, cancel := context.WithTimeout(ctx, retryWriteTimeout)
		e, err := l.store.Complete(wctx, id, u.c)
		cancel()
		if errors.Is(err, ErrNoEntry) {
			// Gone (purged?): no later try can succeed.
			l.log.Error("audit outcome dropped: its entry no longer exists", "audit_id", id, "result", u.c.Result)
		} else if err != nil {
			if first == nil {
				first = fmt.Errorf("audit: outcome of entry %d still not written: %w", id, err)
			}
			continue
		} else {
			l.toSink(e)
			l.log.Info("audit outcome written after a retry", "audit_id", id, "result", u.c.Result)
		}
		l.umu.Lock()
		if cur, ok := l.unwritten[id]; ok && cur.seq == u.seq {
			delete(l.unwritten, id)
		}
		l.umu.Unlock()
	}
	l.umu.Lock()
	if len(l.unwritten) == 0 && l.drained != nil {
		close(l.drained)
		l.drained = nil
	}
	l.umu.Unlock()
	return first
}

// retryLoop writes the kept outcomes with backoff (doubling, jittered) until
// none is left.
func (l *Log) retryLoop() {
	delay := l.retryBackoff
	for {
		t := time.NewTimer(delay/2 + rand.N(delay+1))
		<-t.C
		err := l.Flush(context.Background())
		l.umu.Lock()
		if len(l.unwritten) == 0 {
			l.retrying = false
			l.umu.Unlock()
			return
		}
		n := len(l.unwritten)
		l.umu.Unlock()
		l.log.Warn("audit outcomes still not written; retrying", "waiting", n, "err", err, "retry_in", delay.String())
		delay = min(2*delay, l.retryBackoffMax)
	}
}
