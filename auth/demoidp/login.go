package demoidp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// login serves the sign-in form for a pending auth request.
type login struct {
	st       *storage
	users    []User
	log      *slog.Logger
	callback string // absolute URL of the op's authorize callback, + id
	path     string // cookie path
}

func (l *login) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		l.show(w, r, r.URL.Query().Get("authRequestID"), "", "", http.StatusOK)
	case http.MethodPost:
		l.submit(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// csrfCookie names the cookie per auth request, so sign-ins in two tabs do
// not overwrite each other's token.
func csrfCookie(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "demoidp_csrf_" + hex.EncodeToString(sum[:6])
}

func (l *login) show(w http.ResponseWriter, r *http.Request, id, username, message string, status int) {
	csrf, hint, err := l.st.loginInfo(id)
	if err != nil {
		l.fail(w, "This sign-in has expired or is unknown. Go back to the portal and sign in again.")
		return
	}
	if username == "" {
		username = hint
	}
	http.SetCookie(w, &http.Cookie{
		Name:     csrfCookie(id),
		Value:    csrf,
		Path:     l.path,
		MaxAge:   int(authRequestTTL.Seconds()),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
	l.render(w, status, pageData{
		AuthRequestID: id,
		CSRF:          csrf,
		Username:      username,
		Message:       message,
		Users:         listUsers(l.users),
	})
}

func (l *login) submit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.PostForm.Get("authRequestID")
	csrf := r.PostForm.Get("csrf")
	if c, err := r.Cookie(csrfCookie(id)); err != nil || c.Value != csrf {
		l.log.Warn("demo IdP: login form without matching CSRF cookie")
		l.fail(w, "The sign-in form was not submitted from this browser's sign-in page. Go back to the portal and sign in again.")
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	result, u := l.st.completeLogin(id, csrf, username, r.PostForm.Get("password"))
	switch result {
	case loginOK:
		l.log.Info("demo IdP: signed in", "username", u.Username)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie(id), Path: l.path, MaxAge: -1})
		http.Redirect(w, r, l.callback+url.QueryEscape(id), http.StatusSeeOther)
	case loginWrongPassword:
		l.log.Info("demo IdP: wrong username or password", "username", username)
		l.show(w, r, id, username, "Wrong username or password.", http.StatusUnauthorized)
	case loginTooManyAttempts:
		l.fail(w, "Too many wrong passwords. Go back to the portal and sign in again.")
	default:
		l.fail(w, "This sign-in has expired or is unknown. Go back to the portal and sign in again.")
	}
}

func (l *login) fail(w http.ResponseWriter, msg string) {
	l.render(w, http.StatusBadRequest, pageData{Fatal: msg})
}

type userRow struct {
	Username, Name, Role, Detail string
}

func listUsers(users []User) []userRow {
	rows := make([]userRow, len(users))
	for i, u := range users {
		rows[i] = userRow{Username: u.Username, Name: u.Name, Role: roleLabel(u), Detail: "groups: " + strings.Join(u.Groups, ", ")}
		if u.Computer != "" {
			rows[i].Detail += "; computer: " + u.Computer
		}
	}
	return rows
}

// roleLabel describes what the demo policy makes of the user's groups.
func roleLabel(u User) string {
	labels := map[string]string{
		"agentdesk-admins": "Administrator",
		"helpdesk-berlin":  "Helpdesk (Berlin)",
		"auditors":         "Auditor (read-only)",
	}
	for _, g := range u.Groups {
		if l, ok := labels[g]; ok {
			return l
		}
	}
	if u.Computer != "" {
		return "End user (own computer)"
	}
	return "No portal role"
}

type pageData struct {
	AuthRequestID, CSRF, Username, Message string
	Fatal                                  string
	Users                                  []userRow
	Nonce                                  string
}

func (l *login) render(w http.ResponseWriter, status int, d pageData) {
	d.Nonce = rand.Text()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// No form-action: after the post the browser follows redirects to the
	// portal, which form-action would block.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+d.Nonce+"'; script-src 'nonce-"+d.Nonce+"'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil {
		l.log.Warn("demo IdP: render login page", "err", err)
	}
}

func loggedOut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Signed out</title>` +
		`<body><h1>Signed out</h1><p>You are signed out of the demo identity provider.</p></body></html>`))
}

var pageTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in – AgentDesk demo identity provider</title>
<style nonce="{{.Nonce}}">
body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1d2329; }
.banner { background: #fff3cd; border: 1px solid #e0c36a; padding: .6rem .8rem; border-radius: 4px; }
.error { background: #fde2e1; border: 1px solid #d9534f; padding: .6rem .8rem; border-radius: 4px; }
form { display: grid; gap: .6rem; margin: 1.2rem 0; max-width: 22rem; }
input { padding: .45rem; font-size: 1rem; }
button { padding: .5rem .8rem; font-size: 1rem; cursor: pointer; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: .4rem; border-bottom: 1px solid #ddd; vertical-align: top; }
.detail { color: #555; font-size: .85rem; }
</style>
</head>
<body>
<p class="banner" data-testid="demo-banner">Demo identity provider – for the AgentDesk demo and tests only. Every password is <strong>demo</strong>.</p>
{{if .Fatal}}
<p class="error" role="alert" data-testid="error">{{.Fatal}}</p>
{{else}}
<h1>Sign in</h1>
{{if .Message}}<p class="error" role="alert" data-testid="error">{{.Message}}</p>{{end}}
<form method="post" action="login" data-testid="login-form">
<input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label>Username <input id="username" name="username" autocomplete="username" required value="{{.Username}}"></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
<h2>Demo users</h2>
<p>Pick a user to fill in the username, then enter the password and sign in.</p>
<table data-testid="demo-users">
<thead><tr><th>User</th><th>Role</th><th></th></tr></thead>
<tbody>
{{range .Users}}<tr data-testid="demo-user" data-username="{{.Username}}">
<td><strong>{{.Name}}</strong><br><code>{{.Username}}</code></td>
<td>{{.Role}}<br><span class="detail">{{.Detail}}</span></td>
<td><button type="button" class="fill" data-username="{{.Username}}">Use {{.Username}}</button></td>
</tr>
{{end}}</tbody>
</table>
<script nonce="{{.Nonce}}">
document.querySelectorAll("button.fill").forEach(function (b) {
  b.addEventListener("click", function () {
    document.getElementById("username").value = b.dataset.username;
    document.getElementById("password").focus();
  });
});
</script>
{{end}}
</body>
</html>
`))
