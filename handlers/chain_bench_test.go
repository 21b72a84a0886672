package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkMiddlewareChain is the fixed cost every signed-in request pays in
// the portal's own middleware chain, through the echo stack as app.Build makes
// it (metrics, request id, access log, panic recovery, security headers, the
// in-flight limit, the session store outage guard, scs LoadAndSave on SQLite,
// loadUser, the body limit, CSRF, the deadline, requireUser). The request is
// HEAD of a path no route serves: the group's catch-all runs the whole chain,
// and its handler answers 404 without a body, so nothing but the chain is
// measured. "log" writes every log line as text to io.Discard (production logs
// one access line per request); "nolog" discards them before formatting.
//
//	go test -run '^$' -bench MiddlewareChain -benchmem -count 5 ./handlers/
func BenchmarkMiddlewareChain(b *testing.B) {
	for _, mode := range []string{"nolog", "log"} {
		b.Run(mode, func(b *testing.B) {
			opts := portalOptions{emTimeout: 2 * time.Minute, requestTimeout: 2 * time.Minute}
			if mode == "log" {
				opts.logTo = io.Discard
			}
			p := newPortal(b, opts)
			cookie := p.signIn("alice").sessionCookie()
			req := httptest.NewRequest(http.MethodHead, "/no-such-page", nil)
			req.AddCookie(cookie)
			serve := func() {
				rec := httptest.NewRecorder()
				p.server.ServeHTTP(rec, req)
				if rec.Code != http.StatusNotFound || rec.Header().Get("X-Request-Id") == "" {
					b.Fatalf("HEAD /no-such-page signed in: %d %v", rec.Code, rec.Header())
				}
			}
			serve() // warm
			n := 0
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				serve()
				n++
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
		})
	}
}
