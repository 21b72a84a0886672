package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/handlers/hx"
	"github.com/agentdesk/agentdesk/handlers/paths"
)

// hxKey keeps a request's parsed htmx headers on its echo context.
const hxKey = "agentdesk.hx"

// htmxOf is what htmx and app.js say about the request, parsed once per
// request. Fragment() is "answer with a fragment"; HTMX is "htmx made it,
// navigate with HX-Redirect".
func htmxOf(c echo.Context) hx.Request {
	if st := stateOf(c.Request().Context()); st != nil {
		// In the request's state: no echo store entry (a map, and the
		// Request boxed in an interface).
		st.hxOnce.Do(func() { st.hx = hx.Parse(c.Request().Header) })
		return st.hx
	}
	if r, ok := c.Get(hxKey).(hx.Request); ok {
		return r
	}
	r := hx.Parse(c.Request().Header)
	c.Set(hxKey, r)
	return r
}

// paths builds the portal's addresses below its base path.
func (h *Handler) paths() paths.Paths { return paths.New(h.set.base) }
