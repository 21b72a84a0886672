package handlers

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// cspReportPath receives the browsers' Content-Security-Policy violation
// reports (report-uri and the Reporting API's report-to).
const cspReportPath = "/csp-report"

// maxCSPReport bounds a report body; real ones are a few hundred bytes.
const maxCSPReport = 8 << 10

// cspReport logs a violation report: a blocked script on a page is either a
// bug or an injection attempt, and either way someone should see it. Reports
// come without session or CSRF token (the browser sends them on its own), so
// the endpoint stores nothing, is rate-limited per address and logs only a
// few truncated fields.
func (h *Handler) cspReport(c echo.Context) error {
	if ok, _ := h.lim.csp.allow(c.RealIP()); !ok {
		return c.NoContent(http.StatusTooManyRequests)
	}
	r := c.Request()
	rc := http.NewResponseController(c.Response())
	_ = rc.SetReadDeadline(time.Now().Add(h.set.bodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxCSPReport))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		return c.NoContent(http.StatusRequestEntityTooLarge)
	}
	var reports []map[string]any
	var legacy struct {
		Report map[string]any `json:"csp-report"`
	}
	switch {
	case json.Unmarshal(body, &legacy) == nil && legacy.Report != nil:
		reports = append(reports, legacy.Report)
	default:
		var batch []struct {
			Type string         `json:"type"`
			Body map[string]any `json:"body"`
		}
		if json.Unmarshal(body, &batch) != nil {
			return c.NoContent(http.StatusBadRequest)
		}
		for _, b := range batch {
			if b.Type == "csp-violation" && b.Body != nil {
				reports = append(reports, b.Body)
			}
		}
	}
	for i, rep := range reports {
		if i == 5 {
			break
		}
		field := func(names ...string) string {
			for _, n := range names {
				if v, ok := rep[n].(string); ok {
					return truncateText(v, 256)
				}
			}
			return ""
		}
		h.logFor(c).Warn("content security policy violation", "ip", c.RealIP(),
			"document", field("document-uri", "documentURL"),
			"directive", field("effective-directive", "effectiveDirective", "violated-directive"),
			"blocked", field("blocked-uri", "blockedURL"),
			"source", field("source-file", "sourceFile"))
	}
	return c.NoContent(http.StatusNoContent)
}

// truncateText cuts s to at most n bytes on a UTF-8 boundary.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
