package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

type ctxKey string

// TestDeadlineCtxAsWithDeadline: whatever is asked of it, in whatever order,
// deadlineCtx answers as context.WithDeadline on the same parent: Err, Cause,
// Deadline, Done, values, children (WithCancel, WithValue, AfterFunc) and
// what all of them read after the cancel function ran, with the parent
// canceled (with a cause) or not, its deadline earlier or not, and the
// deadline still ahead or already past.
func TestDeadlineCtxAsWithDeadline(t *testing.T) {
	errParent := errors.New("client went away")
	parents := map[string]func(base time.Time) (context.Context, context.CancelFunc){
		"background": func(time.Time) (context.Context, context.CancelFunc) {
			return context.WithValue(context.Background(), ctxKey("k"), "v"), func() {}
		},
		"cancelable": func(time.Time) (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(context.WithValue(context.Background(), ctxKey("k"), "v"))
			return ctx, func() { cancel(errParent) }
		},
		"earlier deadline": func(base time.Time) (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.WithValue(context.Background(), ctxKey("k"), "v"), base.Add(time.Hour))
		},
	}
	deadlines := map[string]time.Duration{"ahead": 2 * time.Hour, "past": -time.Second}
	// Each step reports what it saw.
	type probe func(ctx context.Context, s *scene) string
	closed := func(ch <-chan struct{}) string {
		select {
		case <-ch:
			return "closed"
		default:
			return "open"
		}
	}
	steps := map[string]probe{
		"err":   func(ctx context.Context, _ *scene) string { return fmt.Sprint(ctx.Err()) },
		"cause": func(ctx context.Context, _ *scene) string { return fmt.Sprint(context.Cause(ctx)) },
		"deadline": func(ctx context.Context, s *scene) string {
			d, ok := ctx.Deadline()
			return fmt.Sprint(d.Sub(s.base), ok)
		},
		"done": func(ctx context.Context, _ *scene) string { return closed(ctx.Done()) },
		"value": func(ctx context.Context, _ *scene) string {
			return fmt.Sprint(ctx.Value(ctxKey("k")), ctx.Value(ctxKey("x")))
		},
		"child": func(ctx context.Context, s *scene) string {
			child, cancel := context.WithCancel(context.WithValue(ctx, ctxKey("x"), "y"))
			s.children = append(s.children, child)
			s.cancels = append(s.cancels, cancel)
			return fmt.Sprint(child.Err(), context.Cause(child), child.Value(ctxKey("k")))
		},
		"afterfunc": func(ctx context.Context, s *scene) string {
			ran := make(chan struct{})
			context.AfterFunc(ctx, func() { close(ran) })
			s.ran = append(s.ran, ran)
			return ""
		},
		"cancel parent": func(_ context.Context, s *scene) string { s.cancelParent(); return "" },
		"end":           func(_ context.Context, s *scene) string { s.end(); return "" },
	}
	sequences := [][]string{
		{"end"},
		{"err", "cause", "deadline", "value", "end"},
		{"done", "end"},
		{"child", "end"},
		{"afterfunc", "end"},
		{"cancel parent", "err", "end"},
		{"cancel parent", "cause", "end"},
		{"cancel parent", "end"},
		{"err", "end", "cancel parent"},
		{"child", "cancel parent", "end"},
		{"value", "cause", "end"},
	}
	for pn, newParent := range parents {
		for dn, offset := range deadlines {
			for _, seq := range sequences {
				name := pn + "/" + dn + "/" + strings.Join(seq, ",")
				run := func(lazy bool) []string {
					base := time.Now()
					parent, cancelParent := newParent(base)
					s := &scene{base: base, cancelParent: cancelParent}
					var ctx context.Context
					if lazy {
						dl := &deadlineCtx{}
						dl.start(parent, base.Add(offset))
						ctx, s.end = dl, dl.end
					} else {
						ctx, s.end = context.WithDeadline(parent, base.Add(offset))
					}
					var seen []string
					for _, st := range seq {
						seen = append(seen, st+": "+steps[st](ctx, s))
					}
					// Afterwards: everything, and every child.
					for _, st := range []string{"err", "cause", "deadline", "done", "value"} {
						seen = append(seen, "after "+st+": "+steps[st](ctx, s))
					}
					for i, child := range s.children {
						seen = append(seen, fmt.Sprint("child ", i, ": ", child.Err(), " ", context.Cause(child), " ", closed(child.Done())))
						s.cancels[i]()
					}
					for i, ran := range s.ran {
						<-ran // AfterFunc runs once ctx is done: it is by now
						seen = append(seen, fmt.Sprint("afterfunc ", i, " ran"))
					}
					cancelParent()
					return seen
				}
				want, got := run(false), run(true)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s:\ndeadlineCtx:\n  %s\nWithDeadline:\n  %s", name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
			}
		}
	}
}

type scene struct {
	base         time.Time
	end          func()
	cancelParent func()
	children     []context.Context
	cancels      []context.CancelFunc
	ran          []chan struct{}
}

// TestDeadlineCtxMadeOnlyWhenNeeded: a request whose context nobody waits on
// makes no timer context; waiting on it makes one, once.
func TestDeadlineCtxMadeOnlyWhenNeeded(t *testing.T) {
	dl := &deadlineCtx{}
	dl.start(context.Background(), time.Now().Add(time.Hour))
	_ = dl.Err()
	_, _ = dl.Deadline()
	_ = dl.Value(ctxKey("k"))
	if dl.made.Load() {
		t.Fatal("made by Err, Deadline or Value")
	}
	done := dl.Done()
	if !dl.made.Load() || dl.cancel == nil {
		t.Fatal("Done did not make the real context")
	}
	if dl.Done() != done {
		t.Fatal("Done made it twice")
	}
	dl.end()
	if dl.Err() != context.Canceled {
		t.Fatalf("after end: %v", dl.Err())
	}
}

// TestDeadlineMiddlewareContext: the deadline middleware gives the handler
// a context with the configured deadline, the request's values, and ended
// once the handler returned.
func TestDeadlineMiddlewareContext(t *testing.T) {
	h := &Handler{set: settings{requestTimeout: 7 * time.Minute}, log: slog.New(slog.DiscardHandler)}
	var seen context.Context
	mw := h.requestID(h.deadline(func(c echo.Context) error {
		seen = c.Request().Context()
		d, ok := seen.Deadline()
		if left := time.Until(d); !ok || left > 7*time.Minute || left < 6*time.Minute {
			t.Errorf("deadline in %v (%t), want 7m", left, ok)
		}
		if seen.Err() != nil || stateOf(seen) == nil {
			t.Errorf("handler's context: err %v, state %v", seen.Err(), stateOf(seen))
		}
		return nil
	}))
	if err := mw(echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())); err != nil {
		t.Fatal(err)
	}
	if seen.Err() != context.Canceled || closedOrNot(seen.Done()) != "closed" {
		t.Fatalf("after the request: err %v", seen.Err())
	}
}

func closedOrNot(ch <-chan struct{}) string {
	select {
	case <-ch:
		return "closed"
	default:
		return "open"
	}
}
