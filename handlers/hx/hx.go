// Package hx reads the headers htmx (and the portal's app.js) send with a
// request and writes the ones that steer htmx's handling of the answer, so
// handlers ask typed questions ("does this request want a fragment?") instead
// of comparing header strings in many places.
//
// Two questions are easy to confuse, and each has its own name here:
//   - Request.HTMX: htmx made the request (a swap, a poll, a boosted link, a
//     history restore). Such a request cannot follow a 302 into a page: it
//     needs HX-Redirect to navigate the tab.
//   - Request.Fragment: htmx made the request AND wants a fragment to swap.
//     Boosted links and history restores want the whole page.
package hx

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Request headers (https://htmx.org/reference/#request_headers) and the
// portal's own, set by app.js and the views.
const (
	HeaderRequest        = "HX-Request"
	HeaderBoosted        = "HX-Boosted"
	HeaderCurrentURL     = "HX-Current-URL"
	HeaderHistoryRestore = "HX-History-Restore-Request"
	HeaderTarget         = "HX-Target"
	HeaderTrigger        = "HX-Trigger" // also a response header
	HeaderTriggerName    = "HX-Trigger-Name"

	// HeaderBackground marks requests the page makes on its own (polling),
	// not the person: they must not extend an idle session.
	HeaderBackground = "X-Background"
	// HeaderActionSent marks the refresh app.js sends for every view of a
	// job right after an action on it was sent.
	HeaderActionSent = "X-Action-Sent"
)

// Response headers (https://htmx.org/reference/#response_headers).
const (
	HeaderRedirect = "HX-Redirect"
	HeaderRetarget = "HX-Retarget"
	HeaderReswap   = "HX-Reswap"
	HeaderPushURL  = "HX-Push-Url"
	HeaderRefresh  = "HX-Refresh"
)

// Request is what htmx and app.js say about a request.
type Request struct {
	HTMX           bool   // HX-Request: true
	Boosted        bool   // HX-Boosted: true, a boosted link or form: wants the whole page
	HistoryRestore bool   // HX-History-Restore-Request: true: wants the whole page
	Target         string // HX-Target: id of the element the answer is swapped into
	Trigger        string // HX-Trigger: id of the element that triggered the request
	TriggerName    string // HX-Trigger-Name: name of that element
	// CurrentURL is the address of the page the request was made from
	// (HX-Current-URL); nil when the header is absent or not a URL. The
	// browser reports it, so it decides presentation only, never access.
	CurrentURL *url.URL
	Background bool // X-Background: 1
	ActionSent bool // X-Action-Sent: 1
}

// Parse reads the request headers once.
func Parse(h http.Header) Request {
	r := Request{
		HTMX:           get(h, canonRequest) == "true",
		Boosted:        get(h, canonBoosted) == "true",
		HistoryRestore: get(h, canonHistoryRestore) == "true",
		Target:         get(h, canonTarget),
		Trigger:        get(h, canonTrigger),
		TriggerName:    get(h, canonTriggerName),
		Background:     get(h, canonBackground) == "1",
		ActionSent:     get(h, canonActionSent) == "1",
	}
	if raw := get(h, canonCurrentURL); raw != "" {
		if u, err := url.Parse(raw); err == nil {
			r.CurrentURL = u
		}
	}
	return r
}

// The request headers' names in canonical form, the keys of http.Header.
// Header.Get canonicalizes its argument on every call, and htmx's names
// ("HX-Request") are not canonical ("Hx-Request"): each Get built a new
// string, nine per request.
var (
	canonRequest        = http.CanonicalHeaderKey(HeaderRequest)
	canonBoosted        = http.CanonicalHeaderKey(HeaderBoosted)
	canonCurrentURL     = http.CanonicalHeaderKey(HeaderCurrentURL)
	canonHistoryRestore = http.CanonicalHeaderKey(HeaderHistoryRestore)
	canonTarget         = http.CanonicalHeaderKey(HeaderTarget)
	canonTrigger        = http.CanonicalHeaderKey(HeaderTrigger)
	canonTriggerName    = http.CanonicalHeaderKey(HeaderTriggerName)
	canonBackground     = http.CanonicalHeaderKey(HeaderBackground)
	canonActionSent     = http.CanonicalHeaderKey(HeaderActionSent)
)

// get is h.Get(key) for a key in canonical form.
func get(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Fragment reports a request that wants a fragment of a page rather than the
// whole page: made by htmx, neither boosted nor a history restore.
func (r Request) Fragment() bool {
	return r.HTMX && !r.Boosted && !r.HistoryRestore
}

// CurrentPath is the path of CurrentURL, "" without one.
func (r Request) CurrentPath() string {
	if r.CurrentURL == nil {
		return ""
	}
	return r.CurrentURL.Path
}

// CurrentRequestURI is the path and query of CurrentURL, "" without one or
// when its path is empty.
func (r Request) CurrentRequestURI() string {
	if r.CurrentURL == nil || r.CurrentURL.Path == "" {
		return ""
	}
	return r.CurrentURL.RequestURI()
}

// Swap is an hx-swap value.
type Swap string

// The swaps the portal asks for.
const (
	SwapInnerHTML Swap = "innerHTML"
	SwapOuterHTML Swap = "outerHTML"
	SwapNone      Swap = "none"
)

// Response is what the answer tells htmx to do besides swapping it. Zero
// fields are not sent.
type Response struct {
	Redirect string // navigate the whole tab to this address (HX-Redirect)
	Retarget string // swap into this CSS selector instead (HX-Retarget)
	Reswap   Swap   // swap this way instead (HX-Reswap)
	Trigger  string // trigger these client events (HX-Trigger)
	PushURL  string // push this address into the history (HX-Push-Url)
	Refresh  bool   // reload the whole page (HX-Refresh)
}

// Apply sets r's headers on h (the response's headers, before they are written).
func (r Response) Apply(h http.Header) {
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(HeaderRedirect, r.Redirect)
	set(HeaderRetarget, r.Retarget)
	set(HeaderReswap, string(r.Reswap))
	set(HeaderTrigger, r.Trigger)
	set(HeaderPushURL, r.PushURL)
	if r.Refresh {
		h.Set(HeaderRefresh, "true")
	}
}

// varyOn are the request headers that choose between a page and one of its
// fragments (Fragment, and HX-Target on pages with several fragments).
var varyOn = []string{HeaderRequest, HeaderBoosted, HeaderHistoryRestore, HeaderTarget}

// Vary adds to h the request headers a page's answer depends on, so that no
// cache serves a fragment for a page or the other way round. Names already
// listed are not repeated.
func Vary(h http.Header) {
	if len(h["Vary"]) == 0 {
		// Every response (securityHeaders) starts here: one slice, no
		// parsing.
		h["Vary"] = slices.Clone(varyOn)
		return
	}
	for _, name := range varyOn {
		if !varies(h, name) {
			h.Add("Vary", name)
		}
	}
}

func varies(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, name) {
				return true
			}
		}
	}
	return false
}
