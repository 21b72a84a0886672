package webtest

import (
	"net/http"
	"net/url"
	"testing"
)

func page(body string) *Page {
	return &Page{Response: &http.Response{StatusCode: http.StatusOK}, Body: body}
}

func TestCSRFToken(t *testing.T) {
	tests := []struct{ body, want string }{
		{`<body hx-headers='{"X-CSRF-Token":"tok"}'></body>`, "tok"},
		{`<body hx-headers='not json'></body>`, ""},
		{`<body></body>`, ""},
	}
	for _, tt := range tests {
		if got := page(tt.body).CSRFToken(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestLoginForm(t *testing.T) {
	at, _ := url.Parse("http://idp.test/login?x=1")
	form := `<form data-testid="login-form" action="/login/username"><input type="hidden" name="csrf" value="c"><input type="hidden" name="authRequestID" value="a"></form>`
	post, vals, err := LoginForm(page(form), at, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if post.String() != "http://idp.test/login/username" || vals.Get("csrf") != "c" || vals.Get("authRequestID") != "a" ||
		vals.Get("username") != "alice" || vals.Get("password") != "demo" {
		t.Errorf("post %s, values %v", post, vals)
	}
	if _, _, err := LoginForm(page(`<form data-testid="login-form"></form>`), at, "alice"); err == nil {
		t.Error("a form without its hidden fields was filled in")
	}
	if _, _, err := LoginForm(page(`<p>signed in</p>`), at, "alice"); err == nil {
		t.Error("a page without a form was filled in")
	}
}

func TestFollow(t *testing.T) {
	redirect := func(to string) *Page {
		return &Page{Response: &http.Response{StatusCode: http.StatusSeeOther, Header: http.Header{"Location": {to}}}}
	}
	site := map[string]*Page{
		"http://a.test/1": redirect("/2"),
		"http://a.test/2": redirect("http://b.test/3"),
		"http://b.test/3": page("done"),
		"http://a.test/x": redirect("/x"),
	}
	get := func(u string) *Page { return site[u] }
	start, _ := url.Parse("http://a.test/0")

	p, at, err := Follow(redirect("/1"), start, 5, get, nil)
	if err != nil || at.String() != "http://b.test/3" || p.Body != "done" {
		t.Errorf("to the end: %v at %v", err, at)
	}
	_, at, err = Follow(redirect("/1"), start, 5, get, func(u *url.URL) bool { return u.Path == "/2" })
	if err != nil || at.String() != "http://a.test/2" {
		t.Errorf("stopped: %v at %v", err, at)
	}
	if _, _, err := Follow(redirect("/x"), start, 5, get, nil); err == nil {
		t.Error("a redirect loop was followed without end")
	}
}
