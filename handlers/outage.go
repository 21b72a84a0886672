package handlers

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// errSessionStore: the session store (SQLite, PostgreSQL or Redis) failed
// while loading or saving the visitor's session.
var errSessionStore = errors.New("session store unavailable")

// sessionStoreError is errSessionStore for one request; afterHandler tells
// whether the request had been handled (an action may have gone to EM) when
// the session could not be saved.
type sessionStoreError struct {
	err          error
	afterHandler bool
	method       string
}

func (e *sessionStoreError) Error() string { return "session store: " + e.err.Error() }
func (e *sessionStoreError) Unwrap() []error {
	return []error{errSessionStore, e.err}
}

// sessionCall is what the session store's error callback needs of a request.
type sessionCall struct {
	c       echo.Context
	reached bool // the handlers behind the session manager ran
}

// sessionOutage sits before the session manager (loadAndSave), whose
// failures otherwise reach people as a plain-text "Internal Server Error":
// it lets sessionStoreFailed render the usual error page with a reference id.
func (h *Handler) sessionOutage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		st := h.state(c)
		st.call, st.inSession = sessionCall{c: c}, true
		return next(c)
	}
}

// sessionReached sits right after the session manager: the session loaded.
func sessionReached(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if st := stateOf(c.Request().Context()); st != nil && st.inSession {
			st.call.reached = true
		}
		return next(c)
	}
}

// sessionStoreFailed is the session manager's ErrorFunc: a load or save of
// the session failed. w is the response the session manager was given (what
// the handlers wrote went to a buffer that is dropped).
func (h *Handler) sessionStoreFailed(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r.Context())
	if st == nil || !st.inSession {
		h.logCtx(r.Context()).Error("session store failed", "err", err, "path", r.URL.Path)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("AgentDesk cannot reach its session store. Nothing was sent to Enterprise Manager. Try again in a minute.\n"))
		return
	}
	if st.named {
		// r is the session manager's request, from before loadUser named
		// the user: its lines carry the request id only.
		attrs := st.logH.attrs[:len(st.logH.attrs)-1]
		r = r.WithContext(withLogger(r.Context(), slog.New(&reqHandler{next: st.logH.next, attrs: attrs})))
	}
	c := st.call.c
	c.SetRequest(r)
	c.SetResponse(echo.NewResponse(w, c.Echo()))
	h.errorHandler(&sessionStoreError{err: err, afterHandler: st.call.reached, method: r.Method}, c)
}
