package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// user is one virtual browser: a cookie jar, the session's CSRF token, and the
// latencies of what it asked, by operation.
type user struct {
	name string
	base *url.URL
	hc   *http.Client
	csrf string
	lat  map[string][]time.Duration
	errs map[string]int
	last string // first error seen, for the report
	// returnTo is the page sign-in lands on ("" is /jobs).
	returnTo string
}

func newUser(name, base string, tr http.RoundTripper) (*user, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	return &user{
		name: name, base: u,
		hc: &http.Client{Jar: jar, Transport: tr, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		lat: map[string][]time.Duration{}, errs: map[string]int{},
	}, nil
}

type reqOpt func(*http.Request)

func htmx(r *http.Request)       { r.Header.Set("HX-Request", "true") }
func background(r *http.Request) { r.Header.Set("X-Background", "1") }

// get fetches path (relative to the portal, or absolute) and returns status and
// body; the body is read to the end so the connection is reused.
func (u *user) do(method, target string, body io.Reader, opts ...reqOpt) (int, http.Header, []byte, error) {
	ref, err := u.base.Parse(target)
	if err != nil {
		return 0, nil, nil, err
	}
	req, err := http.NewRequest(method, ref.String(), body)
	if err != nil {
		return 0, nil, nil, err
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// timed runs one request and records it under op when its status is one of ok.
func (u *user) timed(op, method, target string, body io.Reader, ok []int, opts ...reqOpt) (int, []byte) {
	start := time.Now()
	code, _, b, err := u.do(method, target, body, opts...)
	d := time.Since(start)
	good := err == nil
	if good {
		good = false
		for _, c := range ok {
			good = good || c == code
		}
	}
	if !good {
		u.errs[op]++
		if u.last == "" {
			if err != nil {
				u.last = fmt.Sprintf("%s %s: %v", method, target, err)
			} else {
				u.last = fmt.Sprintf("%s %s: status %d", method, target, code)
			}
		}
		return code, b
	}
	u.lat[op] = append(u.lat[op], d)
	return code, b
}

// signIn runs the authorization-code flow through the demo provider's login
// form, as a browser does, and keeps the CSRF token of the landing page.
func (u *user) signIn(password string) error {
	ret := u.returnTo
	if ret == "" {
		ret = "/jobs"
	}
	code, h, _, err := u.do(http.MethodGet, "/auth/login?return_to="+url.QueryEscape(ret), nil)
	if err != nil {
		return err
	}
	if code != http.StatusSeeOther {
		return fmt.Errorf("/auth/login answered %d", code)
	}
	cur := u.base.ResolveReference(&url.URL{Path: "/auth/login"})
	var page []byte
	for hops := 0; ; hops++ {
		if hops > 6 {
			return errors.New("too many redirects before the login form")
		}
		next, err := cur.Parse(h.Get("Location"))
		if err != nil {
			return err
		}
		cur = next
		code, h, page, err = u.do(http.MethodGet, next.String(), nil)
		if err != nil {
			return err
		}
		if code == http.StatusOK {
			break
		}
		if code != http.StatusFound && code != http.StatusSeeOther {
			return fmt.Errorf("%s answered %d", next, code)
		}
	}
	action, vals, ok := loginForm(page)
	if !ok {
		return errors.New("the identity provider's page has no login form (is this the demo provider?)")
	}
	post, err := cur.Parse(action)
	if err != nil {
		return err
	}
	vals.Set("username", u.name)
	vals.Set("password", password)
	code, h, _, err = u.do(http.MethodPost, post.String(), strings.NewReader(vals.Encode()), func(r *http.Request) {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", post.Scheme+"://"+post.Host)
	})
	if err != nil {
		return err
	}
	cur = post
	for hops := 0; code == http.StatusFound || code == http.StatusSeeOther; hops++ {
		if hops > 8 {
			return errors.New("too many redirects after the login form")
		}
		next, err := cur.Parse(h.Get("Location"))
		if err != nil {
			return err
		}
		cur = next
		code, h, page, err = u.do(http.MethodGet, next.String(), nil)
		if err != nil {
			return err
		}
	}
	if code != http.StatusOK || cur.Host != u.base.Host {
		return fmt.Errorf("sign-in of %s ended at %s with %d", u.name, cur, code)
	}
	u.csrf, err = csrfFrom(page)
	return err
}

func csrfFrom(page []byte) (string, error) {
	z := html.NewTokenizer(bytes.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return "", errors.New("no CSRF token on the landing page")
		case html.StartTagToken, html.SelfClosingTagToken:
			if name, _ := z.TagName(); string(name) != "body" {
				continue
			}
			var h map[string]string
			if raw, ok := attrs(z)["hx-headers"]; ok && json.Unmarshal([]byte(raw), &h) == nil && h["X-CSRF-Token"] != "" {
				return h["X-CSRF-Token"], nil
			}
			return "", errors.New("no CSRF token on the landing page")
		}
	}
}

// loginForm finds the demo provider's login form (data-testid="login-form")
// and returns its action and hidden fields. A tokenizer is enough for the
// provider's own page, and keeps an HTML query library out of the binary.
func loginForm(page []byte) (action string, hidden url.Values, ok bool) {
	z := html.NewTokenizer(bytes.NewReader(page))
	in := false
	hidden = url.Values{}
	for {
		switch z.Next() {
		case html.ErrorToken:
			return "", nil, false
		case html.EndTagToken:
			if name, _ := z.TagName(); in && string(name) == "form" {
				return action, hidden, true
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch a := attrs(z); {
			case string(name) == "form" && a["data-testid"] == "login-form":
				in, action = true, a["action"]
			case in && string(name) == "input" && a["type"] == "hidden":
				hidden.Set(a["name"], a["value"])
			}
		}
	}
}

func attrs(z *html.Tokenizer) map[string]string {
	m := map[string]string{}
	for {
		k, v, more := z.TagAttr()
		m[string(k)] = string(v)
		if !more {
			return m
		}
	}
}

var jobIDRe = regexp.MustCompile(`data-job-id="([0-9a-fA-F-]{36})"`)

// jobIDs lists the job ids of a list page.
func jobIDs(page []byte) []string {
	var ids []string
	for _, m := range jobIDRe.FindAllSubmatch(page, -1) {
		ids = append(ids, string(m[1]))
	}
	return ids
}

var stateRe = regexp.MustCompile(`data-testid="action-status"[^>]*data-state="([a-z]+)"|data-state="([a-z]+)"[^>]*data-testid="action-status"`)

// actionState is the data-state of an ActionStatus fragment, "" when none.
func actionState(b []byte) string {
	m := stateRe.FindSubmatch(b)
	if m == nil {
		return ""
	}
	if len(m[1]) > 0 {
		return string(m[1])
	}
	return string(m[2])
}
