package handlers

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineCtx is context.WithDeadline(parent, d), made only when something
// needs it to be a real one: most requests are answered from caches and
// never wait on their context, yet WithDeadline costs every request a
// timer, a context and a place among the parent's children, each added and
// removed again. Until then Deadline, Err and Value answer as the real
// context would (Err from the parent and the clock); Done, and Value of
// the context package's own key (Cause, children of this context), make
// it. After end, a context not made reads as canceled, as the real one
// would after its cancel.
//
// One difference remains: when the parent was canceled and the deadline
// passed before anything asked, Err reports the parent's error; the real
// one reports whichever came first (its timer fired, or the parent's
// cancel reached it).
type deadlineCtx struct {
	parent context.Context
	d      time.Time

	once   sync.Once
	made   atomic.Bool // ctx is set
	ctx    context.Context
	cancel context.CancelFunc // nil when ctx stands in for an ended one
}

// start makes c WithDeadline(parent, d) from now on, not yet made unless
// d has passed (WithDeadline is then canceled at once, before anything the
// parent does later).
func (c *deadlineCtx) start(parent context.Context, d time.Time) {
	*c = deadlineCtx{parent: parent, d: d}
	if !time.Now().Before(d) {
		c.real()
	}
}

// real is the context c stands for, made on first need.
func (c *deadlineCtx) real() context.Context {
	c.once.Do(func() {
		c.ctx, c.cancel = context.WithDeadline(c.parent, c.d)
		c.made.Store(true)
	})
	return c.ctx
}

// end is the CancelFunc: it cancels the real context, or makes c read as
// one canceled now.
func (c *deadlineCtx) end() {
	c.once.Do(func() {
		switch {
		case c.parent.Err() != nil:
			// Canceled by the parent first: its error and cause, as the
			// real one would have them.
			c.ctx, c.cancel = context.WithDeadline(c.parent, c.d)
		case !time.Now().Before(c.d):
			c.ctx = expiredCtx
		default:
			c.ctx = canceledCtx
		}
		c.made.Store(true)
	})
	if c.cancel != nil {
		c.cancel()
	}
}

// canceledCtx and expiredCtx are what a request's context reads as once the
// request is over: canceled, or past its deadline before that.
var (
	canceledCtx = func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}()
	expiredCtx = func() context.Context {
		ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
		cancel() // past its deadline already: it keeps DeadlineExceeded
		return ctx
	}()
)

func (c *deadlineCtx) Deadline() (time.Time, bool) {
	// WithDeadline keeps an earlier deadline of the parent.
	if pd, ok := c.parent.Deadline(); ok && pd.Before(c.d) {
		return pd, true
	}
	return c.d, true
}

func (c *deadlineCtx) Done() <-chan struct{} { return c.real().Done() }

func (c *deadlineCtx) Err() error {
	if c.made.Load() {
		return c.ctx.Err()
	}
	if c.parent.Err() != nil || !time.Now().Before(c.d) {
		return c.real().Err()
	}
	return nil
}

func (c *deadlineCtx) Value(key any) any {
	// The context package finds a cancelable context (for Cause, and to
	// attach children to it) by the address of an unexported int: it must
	// find the real one. Every other key is the parent's, as it is for the
	// real one.
	if _, ok := key.(*int); ok {
		return c.real().Value(key)
	}
	return c.parent.Value(key)
}
