package handlers_test

import (
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/auth"
	"github.com/agentdesk/agentdesk/config"
	"github.com/agentdesk/agentdesk/handlers"
	"github.com/agentdesk/agentdesk/static"
)

// TestNewRefusesMissingServices: a wiring slip fails New, naming what is
// missing, instead of a portal that silently does less.
func TestNewRefusesMissingServices(t *testing.T) {
	_, _, err := handlers.New(handlers.Deps{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("New without services succeeded")
	}
	for _, name := range []string{"Jobs", "SessionManager", "Sessions", "SignIn", "Users", "Policy", "Audit", "Assets"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// TestNewLeavesTheSessionManagerAlone: New installs its session-outage page
// on a copy; the caller's manager keeps its cookie and error function.
func TestNewLeavesTheSessionManagerAlone(t *testing.T) {
	p := newPortal(t)
	sm := auth.NewSessionManager(nil, 0, "", false)
	before := sm.Cookie
	errorFunc := func() uintptr { return reflect.ValueOf(sm.ErrorFunc).Pointer() }
	beforeFunc := errorFunc()
	d := handlers.Deps{
		Jobs: p.svc, SessionManager: sm, Sessions: auth.NewSessions(sm, time.Minute), SignIn: p.app.SignIn,
		Users: p.users, Policy: p.app.Policy, Audit: p.audit, Assets: static.New("/static/"), Logger: slog.New(slog.DiscardHandler),
	}
	d.Settings.Embed = config.Embed{Origins: []string{"https://intranet.example.com"}, CrossSite: true}
	if _, _, err := handlers.New(d); err != nil {
		t.Fatal(err)
	}
	if sm.Cookie != before || sm.Cookie.SameSite == http.SameSiteNoneMode || errorFunc() != beforeFunc {
		t.Errorf("New changed the caller's session manager: cookie %+v (was %+v), error func changed %v", sm.Cookie, before, errorFunc() != beforeFunc)
	}
}
