package handlers

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/labstack/echo/v4"
)

// flakyStore is a memstore whose reads or writes fail on demand.
type flakyStore struct {
	*memstore.MemStore
	failFind, failCommit bool
}

var errStoreDown = errors.New("store down")

func (s *flakyStore) Find(token string) ([]byte, bool, error) {
	if s.failFind {
		return nil, false, errStoreDown
	}
	return s.MemStore.Find(token)
}

func (s *flakyStore) Commit(token string, b []byte, expiry time.Time) error {
	if s.failCommit {
		return errStoreDown
	}
	return s.MemStore.Commit(token, b, expiry)
}

// sessionResult is what a client and the store see of one request.
type sessionResult struct {
	status int
	header http.Header
	body   string
	stored map[string]any // the session under the cookie's token afterwards
}

// TestLoadAndSaveAsScs: loadAndSave answers every kind of request exactly as
// scs's LoadAndSave through echo.WrapMiddleware did: status, every header
// (Vary: Cookie, the cookie's attributes, Cache-Control: no-cache="Set-Cookie"
// when it sets one, the expired cookie of a destroyed session), body and
// what the store holds afterwards, with scs's idle timeout renewal and
// persistent cookies too, and when the store fails to load or to commit.
func TestLoadAndSaveAsScs(t *testing.T) {
	type scenario struct {
		name                 string
		cookie               string // "" none, else the token sent
		failFind, failCommit bool
		handler              func(sm *scs.SessionManager, c echo.Context) error
	}
	get := func(sm *scs.SessionManager, c echo.Context) error {
		return c.String(http.StatusOK, "k="+sm.GetString(c.Request().Context(), "k"))
	}
	put := func(sm *scs.SessionManager, c echo.Context) {
		sm.Put(c.Request().Context(), "k", "changed")
	}
	scenarios := []scenario{
		{"read only", "tok", false, false, get},
		{"no cookie, read only", "", false, false, get},
		{"unknown token", "nope", false, false, get},
		{"put then write", "tok", false, false, func(sm *scs.SessionManager, c echo.Context) error {
			put(sm, c)
			return get(sm, c)
		}},
		{"no cookie, put", "", false, false, func(sm *scs.SessionManager, c echo.Context) error {
			put(sm, c)
			return get(sm, c)
		}},
		{"put, nothing written", "tok", false, false, func(sm *scs.SessionManager, c echo.Context) error {
			put(sm, c)
			return nil
		}},
		{"put then error", "tok", false, false, func(sm *scs.SessionManager, c echo.Context) error {
			put(sm, c)
			return echo.NewHTTPError(http.StatusTeapot, "no")
		}},
		{"header, then body", "tok", false, false, func(sm *scs.SessionManager, c echo.Context) error {
			c.Response().WriteHeader(http.StatusCreated)
			put(sm, c) // too late for this answer: committed with the header
			_, err := c.Response().Write([]byte("created"))
			return err
		}},
		{"destroy", "tok", false, false, func(sm *scs.SessionManager, c echo.Context) error {
			if err := sm.Destroy(c.Request().Context()); err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		}},
		{"renew token", "tok", false, false, func(sm *scs.SessionManager, c echo.Context) error {
			if err := sm.RenewToken(c.Request().Context()); err != nil {
				return err
			}
			return get(sm, c)
		}},
		{"remember me", "tok", false, false, func(sm *scs.SessionManager, c echo.Context) error {
			sm.RememberMe(c.Request().Context(), true)
			return get(sm, c)
		}},
		{"load fails", "tok", true, false, get},
		{"commit fails", "tok", false, true, func(sm *scs.SessionManager, c echo.Context) error {
			put(sm, c)
			return get(sm, c)
		}},
		{"commit fails after handler", "tok", false, true, func(sm *scs.SessionManager, c echo.Context) error {
			put(sm, c)
			return nil
		}},
	}
	managers := map[string]func(sm *scs.SessionManager){
		"portal": func(sm *scs.SessionManager) {
			sm.Cookie.Name, sm.Cookie.HttpOnly, sm.Cookie.SameSite, sm.Cookie.Persist = "agentdesk_session", true, http.SameSiteLaxMode, false
		},
		"idle timeout, persistent": func(sm *scs.SessionManager) {
			sm.IdleTimeout = time.Hour
			sm.Cookie.Persist, sm.Cookie.Secure, sm.Cookie.SameSite = true, true, http.SameSiteStrictMode
			sm.Cookie.Domain, sm.Cookie.Path, sm.Cookie.Partitioned = "portal.example", "/app", true
		},
	}
	deadline := time.Now().Add(10 * time.Hour).Truncate(time.Second)
	run := func(t *testing.T, configure func(*scs.SessionManager), sc scenario, own bool) sessionResult {
		store := &flakyStore{MemStore: memstore.NewWithCleanupInterval(0)}
		sm := scs.New()
		sm.Store = store
		configure(sm)
		sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("X-Store", "failed")
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
		}
		b, err := sm.Codec.Encode(deadline, map[string]any{"k": "v"})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Commit("tok", b, deadline); err != nil {
			t.Fatal(err)
		}
		store.failFind, store.failCommit = sc.failFind, sc.failCommit

		h := &Handler{svc: Deps{SessionManager: sm}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		mw := echo.WrapMiddleware(sm.LoadAndSave)
		if own {
			mw = h.loadAndSave
		}
		e := echo.New()
		e.Logger.SetOutput(io.Discard)
		e.Group("", composed(h.requestID, h.sessionOutage, mw)).GET("/x", func(c echo.Context) error { return sc.handler(sm, c) })
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		if sc.cookie != "" {
			req.AddCookie(&http.Cookie{Name: sm.Cookie.Name, Value: sc.cookie})
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)

		res := sessionResult{status: rec.Code, header: rec.Header().Clone(), body: rec.Body.String()}
		// New tokens are random: name them by order of appearance.
		tokens := map[string]string{"tok": "tok"}
		cookieRE := regexp.MustCompile(`^` + sm.Cookie.Name + `=([^;]*)`)
		for i, v := range res.header["Set-Cookie"] {
			m := cookieRE.FindStringSubmatch(v)
			if m == nil || m[1] == "" {
				continue
			}
			if _, ok := tokens[m[1]]; !ok {
				tokens[m[1]] = "new" + string(rune('0'+len(tokens)))
			}
			stored, found, err := store.MemStore.Find(m[1])
			if err != nil || !found {
				t.Fatalf("cookie %q: token not in the store (%v)", v, err)
			}
			if _, vals, err := sm.Codec.Decode(stored); err == nil {
				res.stored = vals
			}
			v = strings.Replace(v, m[1], tokens[m[1]], 1)
			// Max-Age counts from now: it may tick between two runs.
			res.header["Set-Cookie"][i] = regexp.MustCompile(`Max-Age=\d+`).ReplaceAllString(v, "Max-Age=N")
		}
		if res.stored == nil {
			if stored, found, _ := store.MemStore.Find("tok"); found {
				_, res.stored, _ = sm.Codec.Decode(stored)
			}
		}
		delete(res.header, "X-Request-Id")
		return res
	}
	for mname, configure := range managers {
		for _, sc := range scenarios {
			t.Run(mname+"/"+sc.name, func(t *testing.T) {
				want := run(t, configure, sc, false)
				got := run(t, configure, sc, true)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("loadAndSave:\n%+v\nscs LoadAndSave:\n%+v", got, want)
				}
				// What scs does, spelled out, so that a change of scs
				// shows here too.
				if !strings.Contains(strings.Join(got.header["Vary"], ","), "Cookie") {
					t.Errorf("no Vary: Cookie: %v", got.header)
				}
				if (len(got.header["Set-Cookie"]) > 0) != strings.Contains(strings.Join(got.header["Cache-Control"], ","), `no-cache="Set-Cookie"`) {
					t.Errorf("Set-Cookie %q with Cache-Control %q", got.header["Set-Cookie"], got.header["Cache-Control"])
				}
			})
		}
	}
}

// TestLoadAndSaveCookieAttributes: the session cookie the portal's manager
// sets through loadAndSave carries its attributes, and an unchanged
// session sets none.
func TestLoadAndSaveCookieAttributes(t *testing.T) {
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	sm.Cookie = scs.SessionCookie{Name: "__Host-agentdesk", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
	h := &Handler{svc: Deps{SessionManager: sm}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e := echo.New()
	g := e.Group("", composed(h.requestID, h.sessionOutage, h.loadAndSave))
	g.GET("/put", func(c echo.Context) error {
		sm.Put(c.Request().Context(), "k", "v")
		return c.NoContent(http.StatusNoContent)
	})
	g.GET("/get", func(c echo.Context) error {
		return c.String(http.StatusOK, sm.GetString(c.Request().Context(), "k"))
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/put", nil))
	sc := rec.Header().Get("Set-Cookie")
	for _, attr := range []string{"__Host-agentdesk=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("Set-Cookie %q lacks %s", sc, attr)
		}
	}
	if strings.Contains(sc, "Max-Age") || strings.Contains(sc, "Expires") || strings.Contains(sc, "Domain") {
		t.Errorf("Set-Cookie %q: not a session cookie without Domain", sc)
	}
	if cc := rec.Header().Values("Cache-Control"); !reflect.DeepEqual(cc, []string{`no-cache="Set-Cookie"`}) {
		t.Errorf("Cache-Control %q", cc)
	}
	cookie := rec.Result().Cookies()[0]

	req := httptest.NewRequest(http.MethodGet, "/get", nil)
	req.AddCookie(cookie)
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Body.String() != "v" {
		t.Fatalf("session value %q, want v", rec.Body.String())
	}
	if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("unchanged session set a cookie: %q", sc)
	}
	if cc := rec.Header().Values("Cache-Control"); len(cc) != 0 {
		t.Errorf("unchanged session: Cache-Control %q", cc)
	}
	if v := rec.Header().Values("Vary"); !reflect.DeepEqual(v, []string{"Cookie"}) {
		t.Errorf("Vary %q, want Cookie", v)
	}
}

// TestSessionStoreFailedLogsWithoutUser: the error line of a session that
// could not be saved carries the request id but not the user, as when
// loadUser added the user by a logger in the context (the session manager's
// request predates it), while the handler's lines name the user.
func TestSessionStoreFailedLogsWithoutUser(t *testing.T) {
	var logs strings.Builder
	store := &flakyStore{MemStore: memstore.NewWithCleanupInterval(0), failCommit: true}
	sm := scs.New()
	sm.Store = store
	h := &Handler{svc: Deps{SessionManager: sm}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	sm.ErrorFunc = h.sessionStoreFailed
	asLoadUser := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h.state(c).withUser("idp|alice")
			return next(c)
		}
	}
	e := echo.New()
	e.HTTPErrorHandler = h.errorHandler
	e.Group("", composed(h.requestID, h.sessionOutage, h.loadAndSave, sessionReached, asLoadUser)).HEAD("/x", func(c echo.Context) error {
		h.logFor(c).Info("handler")
		sm.Put(c.Request().Context(), "k", "v")
		return c.NoContent(http.StatusNoContent)
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/x", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	id := rec.Header().Get("X-Request-Id")
	var handler, failed string
	for _, l := range strings.Split(logs.String(), "\n") {
		switch {
		case strings.Contains(l, "msg=handler"):
			handler = l
		case strings.Contains(l, `msg="request failed"`):
			failed = l
		}
	}
	if !strings.Contains(handler, "request_id="+id+" user=idp|alice") {
		t.Errorf("handler's line %q: want the request id and the user", handler)
	}
	if !strings.Contains(failed, "request_id="+id) || strings.Contains(failed, "user=") {
		t.Errorf("session store's error line %q: want the request id only", failed)
	}
}

// TestLoadAndSaveTwice: a second session middleware in a chain (none is)
// gets a writer of its own rather than wrapping itself.
func TestLoadAndSaveTwice(t *testing.T) {
	sm := scs.New()
	sm.Store = memstore.NewWithCleanupInterval(0)
	h := &Handler{svc: Deps{SessionManager: sm}, log: slog.New(slog.DiscardHandler)}
	e := echo.New()
	e.Group("", composed(h.requestID, h.sessionOutage, h.loadAndSave, h.loadAndSave)).GET("/x", func(c echo.Context) error {
		sm.Put(c.Request().Context(), "k", "v")
		return c.String(http.StatusOK, "ok")
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" || rec.Header().Get("Set-Cookie") == "" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}
