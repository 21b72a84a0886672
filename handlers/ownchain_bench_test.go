package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/metrics"
)

// BenchmarkOwnMiddleware is the portal's own middleware alone, in the order
// New applies it but without the session manager and loadUser (whose store
// reads dominate BenchmarkMiddlewareChain): metrics, request id, access log
// (JSON to io.Discard, as production logs), panic recovery, security
// headers, in-flight limit, outage guard, body limit, CSRF, deadline, and a
// handler answering 204.
//
//	go test -run '^$' -bench OwnMiddleware -benchmem -count 5 ./handlers/
func BenchmarkOwnMiddleware(b *testing.B) {
	set := settings{requestTimeout: time.Minute, maxInFlight: DefaultMaxInFlight, maxPerClient: 64, maxBody: DefaultMaxBodyBytes}
	h := &Handler{set: set, sec: newSecurityValues(set), log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		lim: limits{clientSlots: make(map[string]int)}}
	e := echo.New()
	e.Use(metrics.New().Middleware)
	e.Group("", composed(h.requestID, h.accessLog, h.recoverPanic, h.securityHeaders, h.limitInFlight,
		h.sessionOutage, sessionReached, h.limitBody, h.csrf, h.deadline)).
		GET("/jobs/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/jobs/42", nil)
	b.ReportAllocs()
	n, cpu0 := 0, processCPU()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("%d", rec.Code)
		}
		n++
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(n), "cpu-ns/op")
}

// processCPU is the process's user + system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
