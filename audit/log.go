package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentdesk/agentdesk/jobs"
)

// Options tunes a Log; the zero value is usable.
type Options struct {
	// Sink receives every entry as a JSON line after it has been stored (and
	// again when an action's outcome completes it), e.g. for a SIEM.
	Sink   io.Writer
	Logger *slog.Logger
	Now    func() time.Time

	// An outcome that cannot be written is kept (at most MaxUnwritten, default
	// 10,000) and written again after RetryBackoff, doubling up to
	// RetryBackoffMax (defaults 1s and 1m), until it lands.
	RetryBackoff, RetryBackoffMax time.Duration
	MaxUnwritten                  int
}

// Log is the audit log. It implements jobs.Recorder and is safe for concurrent
// use.
type Log struct {
	store Store
	opts  Options
	log   *slog.Logger

	sinkMu   sync.Mutex
	failures atomic.Int64

	retryBackoff, retryBackoffMax time.Duration
	maxUnwritten                  int
	umu                           sync.Mutex
	unwritten                     map[int64]unwritten // outcomes waiting to be written, by entry id
	useq                          uint64
	retrying                      bool          // retryLoop runs
	drained                       chan struct{} // closed when unwritten empties; nil while empty
}

var _ jobs.Recorder = (*Log)(nil)

// New returns a log writing to s.
func New(s Store, opts Options) *Log {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Log{store: s, opts: opts, log: opts.Logger, unwritten: map[int64]unwritten{},
		retryBackoff: opts.RetryBackoff, retryBackoffMax: opts.RetryBackoffMax, maxUnwritten: opts.MaxUnwritten}
	if l.retryBackoff <= 0 {
		l.retryBackoff = defaultRetryBackoff
	}
	if l.retryBackoffMax < l.retryBackoff {
		l.retryBackoffMax = max(defaultRetryBackoffMax, l.retryBackoff)
	}
	if l.maxUnwritten <= 0 {
		l.maxUnwritten = defaultMaxUnwritten
	}
	return l
}

// Failures is how many audit writes have failed since start. A failed Begin
// means the action was refused; a non-zero value needs an administrator.
func (l *Log) Failures() int64 { return l.failures.Load() }

func attemptEntry(a jobs.Attempt) Entry {
	return Entry{
		At: micro(a.At), Kind: KindAction,
		UserKey: a.Actor.Key, UserName: a.Actor.Name, UserEmail: a.Actor.Email, Groups: a.Actor.Groups,
		IP: a.Actor.IP, UserAgent: a.Actor.UserAgent, Embedded: a.Actor.Embedded,
		Action: string(a.Action), JobID: a.JobID, JobUID: a.JobUID, JobName: a.JobName, Server: a.Server,
	}
}

// Begin writes a pending entry for an action about to be sent to EM and
// returns its id. It returns only once the entry is durable; when it fails,
// jobs.Service.Act refuses the action.
func (l *Log) Begin(ctx context.Context, a jobs.Attempt) (string, error) {
	e := attemptEntry(a)
	if e.At.IsZero() {
		e.At = micro(l.opts.Now())
	}
	e.Result = ResultPending
	id, err := l.insert(ctx, e)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(id, 10), nil
}

// Finish completes the entry Begin wrote with how the action ended. When the
// write fails the outcome is kept in memory and written again with backoff
// until it lands; Finish then returns nil unless too many outcomes already
// wait (see Options.MaxUnwritten).
func (l *Log) Finish(ctx context.Context, id string, o jobs.Outcome) error {
	n, err := parseID(id)
	if err != nil {
		l.failures.Add(1)
		return err
	}
	c := Completion{
		Result: Result(o.Result), Message: o.Message, TaskID: o.TaskID, SessionID: o.SessionID, Final: o.Final,
		At: micro(l.opts.Now()),
	}
	e, err := l.store.Complete(ctx, n, c)
	if err != nil {
		l.failures.Add(1)
		if errors.Is(err, ErrNoEntry) {
			l.log.Error("audit write failed", "err", err, "audit_id", id)
			return err
		}
		if !l.keep(n, c) {
			l.log.Error("audit write failed; too many outcomes already wait, this entry stays pending until reconcile", "err", err, "audit_id", id)
			return err
		}
		l.log.Error("audit write failed; the outcome is kept and written again until it lands", "err", err, "audit_id", id)
		return nil
	}
	l.umu.Lock()
	delete(l.unwritten, n) // an older outcome of the same entry must not overwrite this one
	l.umu.Unlock()
	l.toSink(e)
	return nil
}

// Refused records an action the portal did not send: denied by policy, a
// duplicate, or nothing to do.
func (l *Log) Refused(ctx context.Context, a jobs.Attempt, o jobs.Outcome) error {
	e := attemptEntry(a)
	if e.At.IsZero() {
		e.At = micro(l.opts.Now())
	}
	e.Result, e.Message, e.TaskID, e.SessionID, e.Final = Result(o.Result), o.Message, o.TaskID, o.SessionID, o.Final
	e.CompletedAt = e.At
	_, err := l.insert(ctx, e)
	return err
}

// Record writes a complete entry: a sign-in, a sign-in failure, a sign-out, a
// policy reload, a break-glass attempt. A zero At is now; an empty Result is
// performed.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.At.IsZero() {
		e.At = l.opts.Now()
	}
	e.At = micro(e.At)
	if e.Result == "" {
		e.Result = ResultPerformed
	}
	if e.CompletedAt.IsZero() && e.Result != ResultPending {
		e.CompletedAt = e.At
	}
	_, err := l.insert(ctx, e)
	return err
}

func (l *Log) insert(ctx context.Context, e Entry) (int64, error) {
	if e.Kind == "" {
		return 0, fmt.Errorf("audit: entry without a kind")
	}
	e = e.bounded()
	id, err := l.store.Insert(ctx, e)
	if err != nil {
		l.failures.Add(1)
		l.log.Error("audit write failed", "err", err, "kind", e.Kind, "action", e.Action, "job", e.JobUID, "user", e.UserKey)
		return 0, err
	}
	e.ID = id
	l.toSink(e)
	return id, nil
}

// toSink copies an entry that is already stored to the JSON-lines sink. The
// stored entry is the record; a failing sink is logged, never fatal.
func (l *Log) toSink(e Entry) {
	if l.opts.Sink == nil {
		return
	}
	if e.Groups == nil {
		e.Groups = []string{}
	}
	b, err := json.Marshal(e)
	if err != nil {
		l.log.Warn("audit sink", "err", err)
		return
	}
	b = append(b, '\n')
	l.sinkMu.Lock()
	defer l.sinkMu.Unlock()
	if _, err := l.opts.Sink.Write(b); err != nil {
		l.log.Warn("audit sink write failed", "err", err, "audit_id", e.ID)
	}
}

// DefaultPageSize is Query's page size when the filter sets none.
const DefaultPageSize = 50

// Query returns one page of entries, newest first.
func (l *Log) Query(ctx context.Context, f Filter) (Page, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultPageSize
	}
	f.Limit = min(f.Limit, MaxPage)
	want := f.Limit
	f.Limit++ // one more tells whether an older page exists
	var p Page
	err := l.store.Each(ctx, f, func(e Entry) error {
		p.Entries = append(p.Entries, e)
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	if len(p.Entries) > want {
		p.Entries = p.Entries[:want]
		last := p.Entries[want-1]
		p.Next = &Cursor{At: last.At, ID: last.ID}
	}
	return p, nil
}

// Each streams every entry f selects (ignoring f.Limit when zero), newest first.
func (l *Log) Each(ctx context.Context, f Filter, fn func(Entry) error) error {
	return l.store.Each(ctx, f, fn)
}

// Purge deletes the entries older than olderThan and returns how many.
func (l *Log) Purge(ctx context.Context, olderThan time.Duration) (int64, error) {
	return l.store.Purge(ctx, l.opts.Now().Add(-olderThan))
}

// PurgeLoop purges entries older than keep now and then every interval (a
// day when zero) until ctx ends.
func (l *Log) PurgeLoop(ctx context.Context, keep, interval time.Duration) {
	if interval <= 0 {
		interval = 24 * time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := l.Purge(ctx, keep)
		switch {
		case err != nil && ctx.Err() == nil:
			l.log.Error("audit purge failed", "err", err)
		case n > 0:
			l.log.Info("audit entries purged", "count", n, "older_than", keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
