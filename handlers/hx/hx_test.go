package hx

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		headers  map[string]string
		want     Request
		fragment bool
		path     string // CurrentPath
		uri      string // CurrentRequestURI
	}{
		{name: "plain browser request", headers: nil, want: Request{}},
		{name: "htmx swap", headers: map[string]string{"HX-Request": "true"},
			want: Request{HTMX: true}, fragment: true},
		{name: "boosted link wants the page", headers: map[string]string{"HX-Request": "true", "HX-Boosted": "true"},
			want: Request{HTMX: true, Boosted: true}},
		{name: "history restore wants the page", headers: map[string]string{"HX-Request": "true", "HX-History-Restore-Request": "true"},
			want: Request{HTMX: true, HistoryRestore: true}},
		{name: "only the literal true counts", headers: map[string]string{"HX-Request": "1", "HX-Boosted": "TRUE"},
			want: Request{}},
		{name: "boosted without HX-Request is no htmx request", headers: map[string]string{"HX-Boosted": "true"},
			want: Request{Boosted: true}},
		{name: "target, trigger and its name", headers: map[string]string{"HX-Request": "true", "HX-Target": "job-card-1", "HX-Trigger": "btn-start", "HX-Trigger-Name": "action"},
			want: Request{HTMX: true, Target: "job-card-1", Trigger: "btn-start", TriggerName: "action"}, fragment: true},
		{name: "background poll", headers: map[string]string{"HX-Request": "true", "X-Background": "1"},
			want: Request{HTMX: true, Background: true}, fragment: true},
		{name: "background other than 1", headers: map[string]string{"X-Background": "true", "X-Action-Sent": "yes"},
			want: Request{}},
		{name: "action sent", headers: map[string]string{"X-Action-Sent": "1"},
			want: Request{ActionSent: true}},
		{name: "current URL with query", headers: map[string]string{"HX-Request": "true", "HX-Current-URL": "https://portal.example/backup/jobs?q=a%20b&sort=name"},
			want: Request{HTMX: true}, fragment: true, path: "/backup/jobs", uri: "/backup/jobs?q=a%20b&sort=name"},
		{name: "current URL without path", headers: map[string]string{"HX-Current-URL": "https://portal.example"},
			want: Request{}},
		{name: "malformed current URL", headers: map[string]string{"HX-Current-URL": "http://[::1%zz]/jobs"},
			want: Request{}},
		{name: "current URL with a control character", headers: map[string]string{"HX-Current-URL": "http://portal.example/jobs\x7f"},
			want: Request{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			got := Parse(h)
			cur := got.CurrentURL
			got.CurrentURL = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse = %+v, want %+v", got, tc.want)
			}
			got.CurrentURL = cur
			if f := got.Fragment(); f != tc.fragment {
				t.Errorf("Fragment = %t, want %t", f, tc.fragment)
			}
			if p := got.CurrentPath(); p != tc.path {
				t.Errorf("CurrentPath = %q, want %q", p, tc.path)
			}
			if u := got.CurrentRequestURI(); u != tc.uri {
				t.Errorf("CurrentRequestURI = %q, want %q", u, tc.uri)
			}
		})
	}
}

func TestParseCurrentURLAbsentOrMalformedIsNil(t *testing.T) {
	for _, raw := range []string{"", "http://[::1%zz]/", "%"} {
		h := http.Header{}
		if raw != "" {
			h.Set(HeaderCurrentURL, raw)
		}
		if r := Parse(h); r.CurrentURL != nil {
			t.Errorf("HX-Current-URL %q: CurrentURL = %v, want nil", raw, r.CurrentURL)
		}
	}
	h := http.Header{}
	h.Set(HeaderCurrentURL, "/relative/page?x=1")
	if r := Parse(h); r.CurrentURL == nil || r.CurrentPath() != "/relative/page" || r.CurrentURL.Query().Get("x") != "1" {
		t.Errorf("relative HX-Current-URL: %+v", r.CurrentURL)
	}
}

func TestResponseApply(t *testing.T) {
	tests := []struct {
		name string
		r    Response
		want http.Header
	}{
		{name: "zero sets nothing", r: Response{}, want: http.Header{}},
		{name: "redirect", r: Response{Redirect: "/backup/auth/signin?return_to=%2Fjobs"},
			want: http.Header{"Hx-Redirect": {"/backup/auth/signin?return_to=%2Fjobs"}}},
		{name: "retarget and reswap", r: Response{Retarget: "#messages", Reswap: SwapInnerHTML},
			want: http.Header{"Hx-Retarget": {"#messages"}, "Hx-Reswap": {"innerHTML"}}},
		{name: "push, trigger, refresh", r: Response{PushURL: "/jobs?page=2", Trigger: "jobs-changed", Refresh: true},
			want: http.Header{"Hx-Push-Url": {"/jobs?page=2"}, "Hx-Trigger": {"jobs-changed"}, "Hx-Refresh": {"true"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			tc.r.Apply(h)
			if !reflect.DeepEqual(h, tc.want) {
				t.Errorf("headers %v, want %v", h, tc.want)
			}
		})
	}
	// Apply replaces what an earlier step set rather than adding a second value.
	h := http.Header{}
	Response{Retarget: "#a"}.Apply(h)
	Response{Retarget: "#b"}.Apply(h)
	if got := h.Values(HeaderRetarget); len(got) != 1 || got[0] != "#b" {
		t.Errorf("HX-Retarget %q", got)
	}
}

func TestVary(t *testing.T) {
	all := []string{"HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target"}
	tests := []struct {
		name   string
		before []string
		want   []string
	}{
		{name: "none yet", want: all},
		{name: "keeps other names", before: []string{"Accept-Encoding"}, want: append([]string{"Accept-Encoding"}, all...)},
		{name: "not twice", before: []string{"hx-request, Accept-Encoding"},
			want: []string{"hx-request, Accept-Encoding", "HX-Boosted", "HX-History-Restore-Request", "HX-Target"}},
		{name: "star covers all", before: []string{"*"}, want: []string{"*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.before {
				h.Add("Vary", v)
			}
			Vary(h)
			Vary(h) // idempotent
			if got := h.Values("Vary"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Vary %q, want %q", got, tc.want)
			}
		})
	}
}

// TestVaryOwnSlice: the names Vary sets on a fresh header are that header's
// own, so what one response adds or changes leaves the next one alone.
func TestVaryOwnSlice(t *testing.T) {
	first := http.Header{}
	Vary(first)
	first["Vary"][0] = "changed"
	first.Add("Vary", "Cookie")
	second := http.Header{}
	Vary(second)
	if got, want := second.Values("Vary"), []string{"HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Vary %q after another response changed its own, want %q", got, want)
	}
}

// TestParseAsHeaderGet: Parse reads each header as Header.Get does, however
// the request spelled the names (net/http stores them canonical).
func TestParseAsHeaderGet(t *testing.T) {
	names := []string{HeaderRequest, HeaderBoosted, HeaderHistoryRestore, HeaderTarget, HeaderTrigger, HeaderTriggerName, HeaderBackground, HeaderActionSent, HeaderCurrentURL}
	values := []string{"true", "1", "x", "/jobs?a=b"}
	for i := range 64 {
		h := http.Header{}
		for j, name := range names {
			if (i>>(j%6))&1 == 1 {
				spelled := name
				if j%2 == 0 {
					spelled = strings.ToLower(name)
				}
				h.Add(spelled, values[(i+j)%len(values)])
			}
		}
		got := Parse(h)
		want := Request{
			HTMX: h.Get(HeaderRequest) == "true", Boosted: h.Get(HeaderBoosted) == "true",
			HistoryRestore: h.Get(HeaderHistoryRestore) == "true", Target: h.Get(HeaderTarget),
			Trigger: h.Get(HeaderTrigger), TriggerName: h.Get(HeaderTriggerName),
			Background: h.Get(HeaderBackground) == "1", ActionSent: h.Get(HeaderActionSent) == "1",
		}
		if raw := h.Get(HeaderCurrentURL); (got.CurrentURL == nil) != (raw == "") || got.CurrentURL != nil && got.CurrentURL.String() != raw {
			t.Errorf("%v: CurrentURL %v", h, got.CurrentURL)
		}
		got.CurrentURL = nil
		if got != want {
			t.Errorf("%v: Parse = %+v, want %+v", h, got, want)
		}
	}
}
