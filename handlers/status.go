package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/agentdesk/agentdesk/policy"
	"github.com/agentdesk/agentdesk/views"
)

// showStatus tells the people who run backups whether EM and the IdP are
// reachable. It is for those who may stop a backup somewhere: they are the
// ones who act on an outage, and the page names the EM host, which end users
// have no need for. It shows no credential, token or session id.
func (h *Handler) showStatus(c echo.Context) error {
	return h.renderStatus(c, http.StatusOK, "")
}

func (h *Handler) renderStatus(c echo.Context, status int, message string) error {
	if !h.mayViewStatus(c) {
		return echo.NewHTTPError(http.StatusForbidden)
	}
	m := views.Status{CheckedAt: time.Now(), IdPIssuer: h.set.idpIssuer, IdPDiscovered: h.svc.SignIn.Ready(),
		PolicyWarnings: h.svc.Policy().Warnings(), SessionsMessage: message}
	if h.mayEndSessions(c) {
		m.EndSessionsURL, m.CSRFToken = h.paths().StatusSessions(), h.csrfToken(c)
	}
	if h.svc.EM != nil {
		st := h.svc.EM.Status()
		m.EMHost, m.EMLoggedOn, m.EMLogons, m.EMCircuit = st.Host, st.LoggedOn, st.Logons, st.Circuit
		m.EMDownSince, m.EMLastError, m.EMLastErrorAt = st.DownSince, st.LastError, st.LastErrorAt
		m.EMAccountRefused, m.EMRefusedSince, m.EMNextLogon, m.EMRefusedError = st.AccountRefused, st.RefusedSince, st.NextLogon, st.RefusedError
	}
	return h.render(c, status, views.StatusPage(h.layout(c, "Status"), m), nil)
}

func (h *Handler) mayViewStatus(c echo.Context) bool {
	return h.grant(c).CanAny(policy.Stop)
}
