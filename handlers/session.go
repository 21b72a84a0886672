package handlers

import (
	"bufio"
	"net"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
)

// loadAndSave is scs's LoadAndSave (v2.9.0) as an echo middleware, built on
// scs's public API (Load, Status, Commit, WriteSessionCookie, ErrorFunc) and
// doing what it does step for step: Vary: Cookie, load the session of the
// cookie's token, and commit it (Set-Cookie and Cache-Control:
// no-cache="Set-Cookie" when modified, an expired cookie when destroyed)
// before the first byte of the answer, or after the handler when it wrote
// nothing. Through echo.WrapMiddleware, LoadAndSave cost every request a
// closure per layer, a second echo.Response and a response writer; here the
// writer lives in the request's reqState and the echo.Response is the same.
func (h *Handler) loadAndSave(next echo.HandlerFunc) echo.HandlerFunc {
	sm := h.svc.SessionManager
	return func(c echo.Context) error {
		res := c.Response()
		res.Header().Add("Vary", "Cookie")

		r := c.Request()
		var token string
		if cookie, err := r.Cookie(sm.Cookie.Name); err == nil {
			token = cookie.Value
		}
		ctx, err := sm.Load(r.Context(), token)
		if err != nil {
			sm.ErrorFunc(res, r, err)
			return nil
		}
		sr := r.WithContext(ctx)
		var sw *sessionWriter
		if st := stateOf(ctx); st != nil && st.sw.sm == nil {
			sw = &st.sw // the request's first (and only) session middleware
		} else {
			sw = new(sessionWriter)
		}
		*sw = sessionWriter{ResponseWriter: res.Writer, sm: sm, request: sr, echo: c.Echo()}
		res.Writer = sw
		c.SetRequest(sr)

		err = next(c)

		if !sw.written {
			// As LoadAndSave: this does not mark the answer written, so an
			// error page written after it commits again (it may have
			// changed the session: a CSRF secret).
			sw.commit()
		}
		return err
	}
}

// sessionWriter is scs's sessionResponseWriter: it commits the session
// before the answer's header goes out.
type sessionWriter struct {
	// http.ResponseWriter is the writer the session middleware was given
	// (the server's), and after a failed commit the response the error page
	// was written to, as in LoadAndSave, where both are one echo.Response.
	http.ResponseWriter
	sm      *scs.SessionManager
	request *http.Request // with the session
	echo    *echo.Echo
	written bool
}

func (sw *sessionWriter) Write(b []byte) (int, error) {
	if !sw.written {
		sw.commit()
		sw.written = true
	}
	return sw.ResponseWriter.Write(b)
}

func (sw *sessionWriter) WriteHeader(code int) {
	if !sw.written {
		sw.commit()
		sw.written = true
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *sessionWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

func (sw *sessionWriter) Flush() {
	_ = http.NewResponseController(sw.ResponseWriter).Flush()
}

func (sw *sessionWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(sw.ResponseWriter).Hijack()
}

// commit is scs's commitAndWriteSessionCookie. A session the request did
// not change costs one Status call: nothing is written.
func (sw *sessionWriter) commit() {
	ctx := sw.request.Context()
	switch sw.sm.Status(ctx) {
	case scs.Modified:
		token, expiry, err := sw.sm.Commit(ctx)
		if err != nil {
			// LoadAndSave hands ErrorFunc the echo.Response it wraps, and
			// goes on writing to it (echo then warns of a second
			// WriteHeader instead of net/http).
			out := echo.NewResponse(sw.ResponseWriter, sw.echo)
			sw.ResponseWriter = out
			sw.sm.ErrorFunc(out, sw.request, err)
			return
		}
		sw.sm.WriteSessionCookie(ctx, sw.ResponseWriter, token, expiry)
	case scs.Destroyed:
		sw.sm.WriteSessionCookie(ctx, sw.ResponseWriter, "", time.Time{})
	}
}
