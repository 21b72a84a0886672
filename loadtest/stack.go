package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/agentdesk/agentdesk/app"
	"github.com/agentdesk/agentdesk/auth/demoidp"
	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/emclient/emsim"
	"github.com/agentdesk/agentdesk/jobs"
)

// stack is the demo wired in process, on loopback: one emsim, the demo IdP and
// two portals over them. "warm" is the portal as shipped (default cache TTLs);
// "cold" keeps EM answers for coldTTL only, and the cold phase never opens a
// job again before that has passed, so each of its job pages pays the EM round
// trip: the page the overhead target is about. (Not a TTL of zero: a
// job page reads the first session page the job load stored beside it, and
// must find it there, as it does in production.)
type stack struct {
	sim   *emsim.Server
	emURL string
	warm  *portal
	cold  *portal
	stop  []func()
}

const coldTTL = 250 * time.Millisecond

type portal struct {
	url string
	svc *jobs.Service
	em  *emclient.Client
	app *app.App // the whole portal, as app.Build made it
}

func (s *stack) close() {
	for i := len(s.stop) - 1; i >= 0; i-- {
		s.stop[i]()
	}
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func serve(ln net.Listener, h http.Handler) func() {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
}

func startStack(ctx context.Context, cfg config, log *slog.Logger) (_ *stack, err error) {
	s := &stack{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	s.sim = emsim.New(emsim.Config{Seed: 1, Jobs: cfg.jobs, SessionSpeed: cfg.backupDuration, Logger: log})
	s.sim.SetFaults(emsim.Faults{Latency: cfg.emLatency})
	emLn, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	s.emURL = "http://" + emLn.Addr().String()
	s.stop = append(s.stop, serve(emLn, s.sim))

	warmLn, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	coldLn, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	idpLn, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	warmURL, coldURL := "http://"+warmLn.Addr().String(), "http://"+coldLn.Addr().String()
	issuer := "http://" + idpLn.Addr().String()
	const clientID, secret = "agentdesk", "loadtest-client-secret" // app.DemoDefaults' client id
	idp, err := demoidp.New(demoidp.Config{
		Issuer: issuer, ClientID: clientID, ClientSecret: secret,
		RedirectURIs:           []string{warmURL + "/auth/callback", coldURL + "/auth/callback"},
		PostLogoutRedirectURIs: []string{warmURL + "/auth/signin", coldURL + "/auth/signin"},
		Users:                  demoidp.DemoUsers(), Logger: log,
	})
	if err != nil {
		return nil, err
	}
	s.stop = append(s.stop, serve(idpLn, idp))

	dir, err := os.MkdirTemp("", "agentdesk-loadtest-")
	if err != nil {
		return nil, err
	}
	s.stop = append(s.stop, func() { os.RemoveAll(dir) })

	if s.warm, err = s.startPortal(ctx, warmLn, warmURL, issuer, secret, filepath.Join(dir, "warm"), jobs.Options{}, log); err != nil {
		return nil, err
	}
	if s.cold, err = s.startPortal(ctx, coldLn, coldURL, issuer, secret, filepath.Join(dir, "cold"),
		jobs.Options{JobTTL: coldTTL, ListTTL: coldTTL}, log); err != nil {
		return nil, err
	}
	return s, nil
}

// startPortal builds a portal through app.Build, as `agentdesk serve` does:
// its own SQLite file, the audit log and the holds loop included, so the load
// test measures the durable writes production makes.
func (s *stack) startPortal(ctx context.Context, ln net.Listener, base, issuer, secret, dir string, opts jobs.Options, log *slog.Logger) (*portal, error) {
	pub, err := url.Parse(base + "/")
	if err != nil {
		return nil, err
	}
	cfg := app.DemoDefaults(pub, s.emURL, issuer, secret, dir)
	// Every virtual user signs in from loopback, many in a minute.
	cfg.Operations.SignInRate = 1 << 20
	a, err := app.Build(ctx, cfg, app.Options{Logger: log, Demo: true, Jobs: opts})
	if err != nil {
		return nil, err
	}
	s.stop = append(s.stop, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Close(cctx)
	})
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := a.SignIn.WaitReady(wctx); err != nil {
		return nil, fmt.Errorf("OIDC discovery: %w", err)
	}
	s.stop = append(s.stop, serve(ln, a.Handler))
	return &portal{url: base, svc: a.Jobs, em: a.EM, app: a}, nil
}

// emRequests is every request emsim has answered so far.
func (s *stack) emRequests() int64 {
	var n int64
	for _, v := range s.sim.Stats().Requests {
		n += v
	}
	return n
}

var errNotLoopback = errors.New("loadtest: -portal must be a loopback URL (http://127.0.0.1:… or http://localhost:…)")

func checkLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, errNotLoopback
	}
	host := u.Hostname()
	if host == "localhost" {
		return u, nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, errNotLoopback
	}
	return u, nil
}
