package emsim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (f Faults) active() bool {
	return f.Latency > 0 || f.Jitter > 0 || f.Status != 0 || f.Unauthorized || f.ResetAfterRead ||
		f.BlackHole || f.SlowBody > 0 || f.HugeBody > 0 || f.Garbage
}

func (f Faults) matches(method, path string) bool {
	if len(f.Methods) > 0 && !slices.Contains(f.Methods, method) {
		return false
	}
	if len(f.Paths) == 0 {
		return true
	}
	for _, p := range f.Paths {
		if strings.Contains(path, p) {
			return true
		}
	}
	return false
}

// sleep waits d or until ctx ends; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// applyFaults answers the request itself when a fault applies and reports
// whether it did.
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request, f Faults) bool {
	if !f.active() || !f.matches(r.Method, r.URL.Path) {
		return false
	}
	ctx := r.Context()
	entry := r.Method == http.MethodGet && r.URL.Path == "/api/"
	delay := f.Latency
	if f.Jitter > 0 {
		s.mu.Lock()
		delay += time.Duration(s.rng.Int64N(int64(f.Jitter)))
		s.mu.Unlock()
	}
	if !sleep(ctx, delay) {
		return true
	}
	switch {
	case f.BlackHole:
		<-ctx.Done()
		return true
	case f.Status != 0 && !entry:
		writeError(w, f.Status, "Simulated failure (emsim fault injection).")
		return true
	case f.Unauthorized && !entry:
		w.Header().Set("WWW-Authenticate", "Basic Realm=RestSvc")
		writeError(w, http.StatusUnauthorized, "The session is not found or has expired. Log on again.")
		return true
	case f.Garbage:
		setHeaders(w)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("\x00\x01<<garbage>> this is not XML &&& <EntityReferences"))
		return true
	case f.HugeBody > 0:
		writeHuge(w, f.HugeBody, f.HugeRoot)
		return true
	case f.ResetAfterRead:
		// The request is carried out (an action takes effect) but the answer is
		// lost: the outcome is unknown to the client.
		_, _ = io.Copy(io.Discard, r.Body)
		_, pattern := s.mux.Handler(r)
		s.dispatch(&discardWriter{h: http.Header{}}, r, pattern)
		panic(http.ErrAbortHandler)
	case f.SlowBody > 0:
		rec := &discardWriter{h: http.Header{}, keep: true}
		_, pattern := s.mux.Handler(r)
		s.dispatch(rec, r, pattern)
		for k, v := range rec.h {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		w.WriteHeader(rec.status)
		drip(ctx, w, rec.body.Bytes(), f.SlowBody)
		return true
	}
	return false
}

// drip writes body in ten parts spread over d.
func drip(ctx context.Context, w http.ResponseWriter, body []byte, d time.Duration) {
	const parts = 10
	fl, _ := w.(http.Flusher)
	step := (len(body) + parts - 1) / parts
	for i := 0; i < len(body); i += max(step, 1) {
		if !sleep(ctx, d/parts) {
			return
		}
		if _, err := w.Write(body[i:min(i+step, len(body))]); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
}

// writeHuge streams a well-formed document of n bytes with the given root
// element: one long comment, which a client cannot reject by its shape.
func writeHuge(w http.ResponseWriter, n int64, root string) {
	if root == "" || strings.ContainsAny(root, "<>&\"' /") {
		root = "EntityReferences"
	}
	head := []byte(`<?xml version="1.0" encoding="utf-8"?><` + root + ` xmlns="` + namespace + `"><!--`)
	tail := []byte(`--></` + root + `>`)
	setHeaders(w)
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	pad := n - int64(len(head)) - int64(len(tail))
	if pad < 0 {
		_, _ = w.Write(append(head, tail...)[:n])
		return
	}
	if _, err := w.Write(head); err != nil {
		return
	}
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	for pad > 0 {
		k := min(pad, int64(len(chunk)))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		pad -= k
	}
	_, _ = w.Write(tail)
}

type discardWriter struct {
	h      http.Header
	status int
	keep   bool
	body   bytes.Buffer
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	if d.keep {
		return d.body.Write(b)
	}
	return len(b), nil
}
