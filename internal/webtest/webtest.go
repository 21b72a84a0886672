// Package webtest is what the handler tests and the e2e tests share to talk
// to a portal as a browser without JavaScript would: a client that keeps
// cookies and shows every redirect, answers read whole with their HTML parsed
// on demand, the session's CSRF token, and the demo identity provider's
// login form. Tests only.
package webtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// NewClient is a browser's HTTP side: a cookie jar, and no redirect followed,
// so a test sees each hop.
func NewClient() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Page is an answer read whole.
type Page struct {
	*http.Response
	Body string
	doc  *goquery.Document
}

// Read reads and closes resp's body.
func Read(resp *http.Response) (*Page, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return &Page{Response: resp, Body: string(b)}, err
}

// Doc is the page's HTML, parsed on first use.
func (p *Page) Doc() *goquery.Document {
	if p.doc == nil {
		d, err := goquery.NewDocumentFromReader(strings.NewReader(p.Body))
		if err != nil {
			panic(err) // the HTML parser reads any text; only a failing reader errs
		}
		p.doc = d
	}
	return p.doc
}

// TestID is the page's elements with data-testid="id".
func (p *Page) TestID(id string) *goquery.Selection {
	return p.Doc().Find(`[data-testid="` + id + `"]`)
}

// CSRFToken is the session's CSRF token as a full page carries it for htmx
// (<body hx-headers>), "" when the page has none.
func (p *Page) CSRFToken() string {
	raw, _ := p.Doc().Find("body").Attr("hx-headers")
	var h map[string]string
	if json.Unmarshal([]byte(raw), &h) != nil {
		return ""
	}
	return h["X-CSRF-Token"]
}

// LoginForm fills in the demo identity provider's login form on p, a page
// at the URL at, for user (every demo user's password is "demo"), and
// returns where to post it.
func LoginForm(p *Page, at *url.URL, user string) (*url.URL, url.Values, error) {
	form := p.Doc().Find(`form[data-testid="login-form"]`)
	if p.StatusCode != http.StatusOK || form.Length() != 1 {
		return nil, nil, fmt.Errorf("no login form at %s (status %d)", at, p.StatusCode)
	}
	action, _ := form.Attr("action")
	post, err := at.Parse(action)
	if err != nil {
		return nil, nil, err
	}
	vals := url.Values{}
	form.Find(`input[type="hidden"]`).Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		v, _ := s.Attr("value")
		vals.Set(n, v)
	})
	if vals.Get("csrf") == "" || vals.Get("authRequestID") == "" {
		return nil, nil, errors.New("the login form lacks its hidden fields")
	}
	vals.Set("username", user)
	vals.Set("password", "demo")
	return post, vals, nil
}

// Follow follows the redirects that start at p, the answer for at: get
// fetches each next URL, until an answer is no redirect or stop (when not
// nil) says the URL just fetched is the last, for at most max hops. It
// returns the last answer and its URL.
func Follow(p *Page, at *url.URL, max int, get func(string) *Page, stop func(*url.URL) bool) (*Page, *url.URL, error) {
	for hops := 0; p.StatusCode == http.StatusSeeOther || p.StatusCode == http.StatusFound; hops++ {
		if hops == max {
			return nil, nil, fmt.Errorf("more than %d redirects from %s", max, at)
		}
		next, err := at.Parse(p.Header.Get("Location"))
		if err != nil {
			return nil, nil, err
		}
		p, at = get(next.String()), next
		if stop != nil && stop(next) {
			break
		}
	}
	return p, at, nil
}
