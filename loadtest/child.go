package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/loadtest/baseline"
)

// The side-by-side benchmark runs what it measures in child processes of its
// own binary ("agentdesk loadtest child MODE …", or "loadtest child MODE …"
// for a load tool binary of its own), so each can be pinned to its
// own CPU and its peak memory read alone. A child serves on the listener it
// inherits as file descriptor 3 and exits when its standard input closes, so
// none outlives the benchmark.

// envChild marks a process started as a benchmark child (a test binary reads it
// in TestMain to act as the agentdesk binary would).
const envChild = "AGENTDESK_LOADTEST_CHILD"

// childMain runs one child: portal, minimal, trivial, floor or raw.
func childMain(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("loadtest child: want portal, minimal, trivial, floor or raw")
	}
	mode := args[0]
	fs := flag.NewFlagSet("loadtest child "+mode, flag.ContinueOnError)
	emURL := fs.String("em", "", "EM simulator URL")
	issuer := fs.String("issuer", "", "OpenID issuer (portal)")
	secret := fs.String("secret", "", "OpenID client secret (portal)")
	base := fs.String("base", "", "public URL of the portal")
	jobTTL := fs.Duration("job-ttl", 0, "jobs.Options.JobTTL (0: default)")
	listTTL := fs.Duration("list-ttl", 0, "jobs.Options.ListTTL (0: default)")
	spec := fs.String("spec", "", "trivial: JSON file of the bodies to serve")
	ids := fs.String("ids", "", "raw: file of job ids, one a line")
	users := fs.Int("users", 1, "raw: concurrent workers")
	duration := fs.Duration("duration", time.Second, "raw: how long the workers run")
	action := fs.String("action", "job", "raw: job (the 2 calls of a cold job page, paced as the cold pages) or start (action POST + task GET, once per id, in turn)")
	verbose := fs.Bool("v", false, "log warnings to stderr")
	withPprof := fs.Bool("pprof", false, "portal: serve net/http/pprof on the listener inherited as file descriptor 4 (bench -profile)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The parent closing our standard input (or dying) ends the child.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	if mode == "floor" {
		r, err := baseline.Floor(ctx, *emURL, "svc", "secret", time.Now())
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(floorReport{FloorResult: r, PeakRSSKB: procStatusKB("self", "VmHWM")})
	}

	if mode == "raw" {
		raw, err := os.ReadFile(*ids)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(runRaw(ctx, *emURL, strings.Fields(string(raw)), *action, *users, *duration))
	}

	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return fmt.Errorf("loadtest child %s: inherited listener: %w", mode, err)
	}
	var h http.Handler
	switch mode {
	case "portal":
		if *withPprof {
			pln, err := net.FileListener(os.NewFile(4, "pprof"))
			if err != nil {
				return fmt.Errorf("loadtest child portal: inherited pprof listener: %w", err)
			}
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			defer serve(pln, mux)()
		}
		st := &stack{emURL: *emURL}
		defer st.close()
		dir, err := os.MkdirTemp("", "agentdesk-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		_, err = st.startPortal(ctx, ln, *base, *issuer, *secret, filepath.Join(dir, "portal"),
			jobs.Options{JobTTL: *jobTTL, ListTTL: *listTTL}, log)
		if err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	case "minimal":
		h = baseline.Portal(*emURL, "svc", "secret")
	case "trivial":
		if h, err = trivialServer(*spec); err != nil {
			return err
		}
	default:
		return fmt.Errorf("loadtest child: unknown mode %q", mode)
	}
	stop := serve(ln, h)
	<-ctx.Done()
	stop()
	return nil
}

const benchClientID = "agentdesk"

// rawReport is what a raw child measured.
type rawReport struct {
	Lat     []time.Duration
	Errs    int
	First   string
	Elapsed time.Duration
}

// runRaw makes EM calls straight from this process, the way the portal's
// process would, without the portal.
func runRaw(ctx context.Context, emURL string, fleet []string, action string, n int, d time.Duration) rawReport {
	em := baseline.NewRaw(emURL, "svc", "secret")
	per := make([]rawReport, n)
	start := time.Now()
	until := start.Add(d)
	timed := func(r *rawReport, call func() error) {
		t0 := time.Now()
		if err := call(); err != nil {
			r.Errs++
			if r.First == "" {
				r.First = err.Error()
			}
			return
		}
		r.Lat = append(r.Lat, time.Since(t0))
	}
	if action == "start" {
		for _, id := range fleet {
			timed(&per[0], func() error { return em.Start(ctx, id) })
		}
	} else {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				coldLoop(ctx, i, n, fleet, until, func(id string) { timed(&per[i], func() error { return em.Job(ctx, id) }) })
			})
		}
		wg.Wait()
	}
	out := rawReport{Elapsed: time.Since(start)}
	for _, r := range per {
		out.Lat = append(out.Lat, r.Lat...)
		out.Errs += r.Errs
		if out.First == "" {
			out.First = r.First
		}
	}
	return out
}

type floorReport struct {
	baseline.FloorResult
	PeakRSSKB int64
}

// body is one answer the trivial server repeats: the bytes the portal sent,
// with the headers that say how to read them.
type body struct {
	Path, ContentType, ContentEncoding, File string
}

// trivialServer is the plainest net/http server sending the bytes it was given.
func trivialServer(spec string) (http.Handler, error) {
	raw, err := os.ReadFile(spec)
	if err != nil {
		return nil, err
	}
	var bodies []body
	if err := json.Unmarshal(raw, &bodies); err != nil {
		return nil, fmt.Errorf("trivial spec: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, b := range bodies {
		data, err := os.ReadFile(b.File)
		if err != nil {
			return nil, err
		}
		mux.HandleFunc("GET "+b.Path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", b.ContentType)
			if b.ContentEncoding != "" {
				w.Header().Set("Content-Encoding", b.ContentEncoding)
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data)
		})
	}
	return mux, nil
}
