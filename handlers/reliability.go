package handlers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/emclient"
)

// Defaults of the request limits (config.Operations.RequestTimeout and MaxInFlight, Tuning.MaxBodyBytes).
const (
	DefaultRequestTimeout = 15 * time.Second
	DefaultMaxInFlight    = 512
	DefaultMaxBodyBytes   = 64 << 10
	// DefaultBodyTimeout is how long a request body may take to arrive.
	DefaultBodyTimeout = 10 * time.Second
	// DefaultAnonymousBurst is how many requests one address may make to the
	// sign-in endpoints without a session, per minute.
	DefaultAnonymousBurst = 60
)

// EMState is what the pages need to know about the EM client: whether it has
// stopped calling EM (the banner), and its status for the administrators.
type EMState interface {
	Down() (since time.Time, down bool)
	Status() emclient.Status
}

// deadline bounds everything a request does, EM calls included (emclient
// applies its own timeout on top; the earlier one wins), so that a slow EM
// gives people an error page with a retry button instead of a spinner. The
// error page itself is written after the deadline, so the context it renders
// with keeps the request's values but not its deadline. (A request without
// error has written its answer: nothing after it needs the context lifted.)
func (h *Handler) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// context.WithTimeout, made only if something waits on it (deadlineCtx).
		dl := &h.state(c).dl
		if dl.parent != nil { // a second deadline in the chain
			dl = &deadlineCtx{}
		}
		dl.start(c.Request().Context(), time.Now().Add(h.set.requestTimeout))
		defer dl.end()
		c.SetRequest(c.Request().WithContext(dl))
		err := next(c)
		if err != nil {
			r := c.Request()
			c.SetRequest(r.WithContext(context.WithoutCancel(r.Context())))
		}
		return err
	}
}

// limitInFlight answers 503 with Retry-After once max requests are being
// served, or maxPerClient from the same client address, rather than queueing
// without bound behind a slow dependency or a slow client. The per-address
// share means one address (a flood of slow bodies) cannot take every slot.
// It sits before the session store, so a refused request costs next to
// nothing. The counts are the Handler's: echo applies group middleware per
// route.
func (h *Handler) limitInFlight(next echo.HandlerFunc) echo.HandlerFunc {
	n := &h.lim.inFlight
	max := int64(h.set.maxInFlight)
	return func(c echo.Context) error {
		ip := c.RealIP()
		if n.Add(1) > max || !h.takeClientSlot(ip) {
			n.Add(-1)
			h.logFor(c).Warn("too many requests in flight; refused", "limit", max, "per_client", h.set.maxPerClient, "ip", ip, "path", c.Request().URL.Path)
			c.Response().Header().Set("Retry-After", "5")
			if r := c.Request(); r.Body != nil && r.Body != http.NoBody {
				// Otherwise net/http waits for the unread body before it
				// answers, which a slow client never sends.
				c.Response().Header().Set("Connection", "close")
			}
			return c.HTML(http.StatusServiceUnavailable, busyPage)
		}
		defer n.Add(-1)
		defer h.releaseClientSlot(ip)
		return next(c)
	}
}

func (h *Handler) takeClientSlot(ip string) bool {
	h.lim.clientMu.Lock()
	defer h.lim.clientMu.Unlock()
	if h.lim.clientSlots[ip] >= h.set.maxPerClient {
		return false
	}
	h.lim.clientSlots[ip]++
	return true
}

func (h *Handler) releaseClientSlot(ip string) {
	h.lim.clientMu.Lock()
	defer h.lim.clientMu.Unlock()
	if h.lim.clientSlots[ip] <= 1 {
		delete(h.lim.clientSlots, ip) // the map holds only addresses being served
		return
	}
	h.lim.clientSlots[ip]--
}

const busyPage = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Busy – AgentDesk</title></head>` +
	`<body><h1>AgentDesk is busy</h1><p data-testid="busy">Too many requests are being served right now. Try again in a few seconds.</p></body></html>`

// limitBody refuses request bodies larger than the forms the portal has, so a
// client cannot make it buffer megabytes while parsing a form, and reads the
// whole body under a deadline of its own (bodyTimeout), so a client sending
// a byte now and then cannot hold its in-flight slot for long.
func (h *Handler) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > h.set.maxBody {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		rc := http.NewResponseController(c.Response())
		// Not every writer has a connection (tests); then only the server's
		// ReadTimeout applies.
		deadlineSet := rc.SetReadDeadline(time.Now().Add(h.set.bodyTimeout)) == nil
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, h.set.maxBody))
		if deadlineSet {
			// The body is read: lift the deadline, or the server's background
			// read would hit it and cancel the request's context.
			_ = rc.SetReadDeadline(time.Time{})
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			var ne net.Error
			switch {
			case errors.As(err, &tooBig):
				return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
			case errors.As(err, &ne) && ne.Timeout():
				h.logFor(c).Warn("request body too slow; refused", "ip", c.RealIP(), "path", r.URL.Path, "timeout", h.set.bodyTimeout)
				c.Response().Header().Set("Connection", "close")
				return echo.NewHTTPError(http.StatusRequestTimeout, "The request took too long to arrive. Try again.")
			default:
				return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		// Parse forms here, because the form readers further on ignore
		// parse errors.
		if strings.HasPrefix(r.Header.Get(echo.HeaderContentType), echo.MIMEApplicationForm) {
			if err := r.ParseForm(); err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
			}
		}
		return next(c)
	}
}

// retryURL is where the "Try again" button of an error page leads: the page
// itself for a GET, the page the fragment belongs to for htmx. Only paths on
// this portal qualify.
func (h *Handler) retryURL(c echo.Context) string {
	r := c.Request()
	var target string
	switch {
	case htmxOf(c).HTMX:
		if target = htmxOf(c).CurrentRequestURI(); target == "" {
			return ""
		}
	case r.Method == http.MethodGet:
		target = r.URL.RequestURI()
	default:
		return ""
	}
	if h.set.base != "" {
		if !strings.HasPrefix(target, h.set.base) {
			return ""
		}
		target = strings.TrimPrefix(target, h.set.base)
	}
	safe, ok := auth.SafeReturnTo(target)
	if !ok {
		return ""
	}
	return h.paths().Local(safe)
}

// emDownSince is the start of an EM outage while the client has stopped
// calling EM, or the zero time.
func (h *Handler) emDownSince() time.Time {
	if h.svc.EM == nil {
		return time.Time{}
	}
	if since, down := h.svc.EM.Down(); down {
		return since
	}
	return time.Time{}
}
