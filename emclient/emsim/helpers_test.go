package emsim

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock lets tests move time without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 18, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	s     *Server
	ts    *httptest.Server
	clock *fakeClock
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	clock := newClock()
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.SessionSpeed == 0 {
		cfg.SessionSpeed = 200 * time.Millisecond
	}
	if cfg.Accounts == nil {
		cfg.Accounts = []Account{
			{Name: "svc", Password: "secret", Role: PortalAdministrator},
			{Name: "helpdesk", Password: "pw", Role: PortalUser},
		}
	}
	s := New(cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &env{t: t, s: s, ts: ts, clock: clock}
}

type reply struct {
	status int
	header http.Header
	body   []byte
	root   string
	ns     string
}

func (e *env) do(method, path, token string, mutate func(*http.Request)) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(tokenName, token)
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: body}
	r.root, r.ns = rootOf(body)
	return r
}

func (e *env) get(path, token string) reply { return e.do(http.MethodGet, path, token, nil) }

func (e *env) logon(user, pass string) string {
	e.t.Helper()
	r := e.do(http.MethodPost, "/api/sessionMngr/?v=latest", "", func(req *http.Request) { req.SetBasicAuth(user, pass) })
	if r.status != http.StatusCreated {
		e.t.Fatalf("logon %s: %d %s", user, r.status, r.body)
	}
	return r.header.Get(tokenName)
}

func rootOf(body []byte) (string, string) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local, se.Name.Space
		}
	}
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := xml.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, r.body)
	}
	return v
}

// findLink returns the Href of the first link with rel (and typ when set).
func findLink(links []link, rel, typ string) (string, bool) {
	for _, l := range links {
		if l.Rel == rel && (typ == "" || l.Type == typ) {
			return l.Href, true
		}
	}
	return "", false
}

// pathOf strips scheme and host from an absolute Href.
func (e *env) pathOf(href string) string {
	e.t.Helper()
	if !strings.HasPrefix(href, e.ts.URL) {
		e.t.Fatalf("href %q is not absolute under %s", href, e.ts.URL)
	}
	return strings.TrimPrefix(href, e.ts.URL)
}
