package handlers_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
)

// BenchmarkWarmPages is the warm job page and the warm jobs list (50 rows of
// 2,000 jobs) as a browser gets them: over loopback TCP through the whole echo
// stack, one client in sequence, with and without gzip asked for. Besides
// ns/op (1e9/ns = pages/s for one connection) it reports what went over the
// wire: body bytes per page and per list row, and the server's Write calls on
// the connection per page (each one is one write(2) syscall on TCP); and
// cpu-ns/op, the process's CPU time per page (server and client together).
//
//	go test -run '^$' -bench WarmPages -benchmem ./handlers/
func BenchmarkWarmPages(b *testing.B) {
	p := newPortal(b, portalOptions{jobs: 2000, emTimeout: 2 * time.Minute, requestTimeout: 2 * time.Minute})
	cookie := p.signIn("alice").sessionCookie()
	jobID := p.sim.Jobs()[0].ID

	var writes, wrote atomic.Int64
	srv := httptest.NewUnstartedServer(p.server)
	srv.Listener = countingListener{Listener: srv.Listener, writes: &writes, bytes: &wrote}
	srv.Start()
	b.Cleanup(srv.Close)
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}} // the benchmark says what it accepts
	b.Cleanup(hc.CloseIdleConnections)

	pages := []struct{ name, path string }{
		{"job", "/jobs/" + jobID},
		{"list50", "/jobs"},
	}
	for _, pg := range pages {
		for _, enc := range []string{"identity", "gzip"} {
			b.Run(pg.name+"/"+enc, func(b *testing.B) {
				get := func() (int, string) {
					req, err := http.NewRequest(http.MethodGet, srv.URL+pg.path, nil)
					if err != nil {
						b.Fatal(err)
					}
					req.AddCookie(cookie)
					if enc != "identity" {
						req.Header.Set("Accept-Encoding", enc)
					}
					resp, err := hc.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					defer resp.Body.Close()
					n, err := io.Copy(io.Discard, resp.Body)
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Fatalf("%s: %d %v", pg.path, resp.StatusCode, err)
					}
					return int(n), resp.Header.Get("Content-Encoding")
				}
				get() // warm: caches filled, connection open
				rows := 0
				if pg.name == "list50" {
					rows = 50
				}
				writes.Store(0)
				var body int64
				var encoding string
				b.ReportAllocs()
				n := 0
				cpu0 := cpuTime()
				for b.Loop() {
					size, ce := get()
					body += int64(size)
					encoding = ce
					n++
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
				b.ReportMetric(float64(body)/float64(n), "body-B/op")
				b.ReportMetric(float64(writes.Load())/float64(n), "conn-writes/op")
				if rows > 0 {
					b.ReportMetric(float64(body)/float64(n)/float64(rows), "B/row")
				}
				if enc != "identity" && encoding != enc {
					b.Logf("asked for %s, got Content-Encoding %q", enc, encoding)
				}
			})
		}
	}
}

// BenchmarkWarmPagesInProcess is the same two pages without the network: the
// handler's own time and allocations, and how many Write calls it makes on
// the ResponseWriter (net/http buffers them 4 KB at a time). cpu-ns/op is the
// process's CPU time (user + system, GC included) per page, which other
// processes sharing the machine disturb less than ns/op.
//
//	go test -run '^$' -bench WarmPagesInProcess -benchmem ./handlers/
func BenchmarkWarmPagesInProcess(b *testing.B) {
	p := newPortal(b, portalOptions{jobs: 2000, emTimeout: 2 * time.Minute, requestTimeout: 2 * time.Minute})
	cookie := p.signIn("alice").sessionCookie()
	jobID := p.sim.Jobs()[0].ID
	for _, pg := range []struct{ name, path string }{{"job", "/jobs/" + jobID}, {"list50", "/jobs"}} {
		for _, enc := range []string{"identity", "gzip"} {
			b.Run(pg.name+"/"+enc, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, pg.path, nil)
				req.AddCookie(cookie)
				if enc != "identity" {
					req.Header.Set("Accept-Encoding", enc)
				}
				warm := httptest.NewRecorder()
				p.server.ServeHTTP(warm, req)
				if warm.Code != http.StatusOK {
					b.Fatalf("%s: %d", pg.path, warm.Code)
				}
				var calls, n, body int
				b.ReportAllocs()
				cpu0 := cpuTime()
				for b.Loop() {
					rec := &countingRecorder{ResponseRecorder: httptest.NewRecorder()}
					p.server.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d", pg.path, rec.Code)
					}
					calls += rec.writes
					body += rec.Body.Len()
					n++
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
				b.ReportMetric(float64(calls)/float64(n), "Write-calls/op")
				b.ReportMetric(float64(body)/float64(n), "body-B/op")
			})
		}
	}
}

type countingRecorder struct {
	*httptest.ResponseRecorder
	writes int
}

func (r *countingRecorder) Write(p []byte) (int, error) {
	r.writes++
	return r.ResponseRecorder.Write(p)
}

func (r *countingRecorder) WriteString(s string) (int, error) {
	r.writes++
	return r.ResponseRecorder.WriteString(s)
}

// countingListener counts the server's writes on every accepted connection.
type countingListener struct {
	net.Listener
	writes, bytes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, writes: l.writes, bytes: l.bytes}, nil
}

type countingConn struct {
	net.Conn
	writes, bytes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.Conn.Write(p)
}

// BenchmarkGzipLevels compresses the warm list page (50 rows) with the
// standard library's gzip and klauspost/compress's at their fast levels: the
// CPU each costs per page against the bytes it saves, which is what chose
// render.go's gzip writer and gzipLevel.
//
//	go test -run '^$' -bench GzipLevels ./handlers/
func BenchmarkGzipLevels(b *testing.B) {
	p := newPortal(b, portalOptions{jobs: 2000, emTimeout: 2 * time.Minute, requestTimeout: 2 * time.Minute})
	cookie := p.signIn("alice").sessionCookie()
	req := httptest.NewRequest(http.MethodGet, "/jobs", nil)
	req.AddCookie(cookie)
	rec := httptest.NewRecorder()
	p.server.ServeHTTP(rec, req)
	page := rec.Body.Bytes()
	if rec.Code != http.StatusOK || len(page) < 10000 {
		b.Fatalf("list page: %d, %d bytes", rec.Code, len(page))
	}
	for _, tt := range []struct {
		name  string
		level int
		new   func(w io.Writer, level int) (gzipWriter, error)
	}{
		{"std", gzip.HuffmanOnly, stdGzip},
		{"std", gzip.BestSpeed, stdGzip},
		{"std", 3, stdGzip},
		{"std", gzip.DefaultCompression, stdGzip},
		{"klauspost", kgzip.StatelessCompression, kpGzip},
		{"klauspost", kgzip.BestSpeed, kpGzip},
		{"klauspost", 2, kpGzip},
		{"klauspost", 3, kpGzip},
		{"klauspost", kgzip.DefaultCompression, kpGzip},
	} {
		b.Run(tt.name+"/level="+strconv.Itoa(tt.level), func(b *testing.B) {
			var out bytes.Buffer
			zw, err := tt.new(&out, tt.level)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				out.Reset()
				zw.Reset(&out)
				if _, err := zw.Write(page); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(page)), "page-B")
			b.ReportMetric(float64(out.Len()), "gzip-B")
		})
	}
}

// gzipWriter is what both gzip packages' writers offer.
type gzipWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

func stdGzip(w io.Writer, level int) (gzipWriter, error) {
	return gzip.NewWriterLevel(w, level)
}

func kpGzip(w io.Writer, level int) (gzipWriter, error) {
	return kgzip.NewWriterLevel(w, level)
}

// cpuTime is the process's user + system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
