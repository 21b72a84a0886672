package views

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sortColumns are the values of JobFilter.Sort, in column order.
var sortColumns = [...]string{"name", "platform", "server", "schedule", "result", "lastrun", "nextrun"}

// newestFirst are the columns whose first click sorts descending.
var newestFirst = map[string]bool{"lastrun": true}

// SortColumns returns the accepted values of JobFilter.Sort, in column order.
func SortColumns() []string { return slices.Clone(sortColumns[:]) }

// DefaultSort is the sort column when none (or an unknown one) is asked for.
const DefaultSort = "name"

// JobFilter is the state of the jobs list, carried in the query string:
//
//	q=<text> platform=Windows|Linux server=<name> schedule=enabled|disabled
//	result=Success|Warning|Failed|None sort=<SortColumns()> desc=1 page=<n> size=<n>
//
// Defaults (empty, sort=name, ascending, page 1, size 0) are left out of URLs.
type JobFilter struct {
	Q        string
	Platform string // "", PlatformWindows, PlatformLinux
	Server   string
	Schedule string // "", "enabled", "disabled"
	Result   string // "", ResultSuccess, ResultWarning, ResultFailed, ResultNone
	Sort     string // one of SortColumns(); "" means DefaultSort
	Desc     bool
	Page     int // 1-based; 0 means 1
	PageSize int // 0 means the handler's default; kept in URLs when set
}

// ParseJobFilter reads a JobFilter from a query string, dropping values it
// does not know (an unknown sort becomes DefaultSort, a bad page 1), so that
// handlers and the links views build agree on one convention.
func ParseJobFilter(v url.Values) JobFilter {
	f := JobFilter{
		Q:        strings.TrimSpace(v.Get("q")),
		Platform: oneOf(v.Get("platform"), PlatformWindows, PlatformLinux),
		Server:   strings.TrimSpace(v.Get("server")),
		Schedule: oneOf(v.Get("schedule"), "enabled", "disabled"),
		Result:   oneOf(v.Get("result"), ResultSuccess, ResultWarning, ResultFailed, ResultNone),
		Sort:     oneOf(v.Get("sort"), sortColumns[:]...),
		Desc:     v.Get("desc") == "1" || v.Get("desc") == "true",
	}
	if f.Sort == "" {
		f.Sort = DefaultSort
	}
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n > 0 {
		f.Page = n
	} else {
		f.Page = 1
	}
	if n, err := strconv.Atoi(v.Get("size")); err == nil && n > 0 {
		f.PageSize = n
	}
	return f
}

func oneOf(s string, allowed ...string) string {
	if slices.Contains(allowed, s) {
		return s
	}
	return ""
}

// Values encodes the filter as query parameters, leaving out defaults.
func (f JobFilter) Values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("q", f.Q)
	set("platform", f.Platform)
	set("server", f.Server)
	set("schedule", f.Schedule)
	set("result", f.Result)
	if f.Sort != "" && f.Sort != DefaultSort {
		v.Set("sort", f.Sort)
	}
	if f.Desc {
		v.Set("desc", "1")
	}
	if f.Page > 1 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	if f.PageSize > 0 {
		v.Set("size", strconv.Itoa(f.PageSize))
	}
	return v
}

// Active reports whether any narrowing filter (not sort or paging) is set.
func (f JobFilter) Active() bool {
	return f.Q != "" || f.Platform != "" || f.Server != "" || f.Schedule != "" || f.Result != ""
}

// JobList is the jobs list page.
type JobList struct {
	Path    string // URL path of the list, e.g. "/backup/jobs"; the search form and all links use it
	Filter  JobFilter
	Servers []string // options of the server filter
	Rows    []JobRow // the current page; never changed once rendered (the rows memo recognises a slice it has compared)
	Total   int      // rows matching the filter, all pages
	Pages   int      // number of pages (0 or 1 hides the pager)
	AsOf    time.Time
	// Refreshing: a newer list is being read from EM; RefreshFailed: the
	// last read failed, so AsOf is older than it should be.
	Refreshing    bool
	RefreshFailed bool
}

// URL returns the list URL for f (the filter as given, no page reset). It is
// f.Values().Encode() written directly, keys in the same sorted order, because
// every list render builds a dozen of these (sort headers, pager).
func (m JobList) URL(f JobFilter) string {
	var b strings.Builder
	b.Grow(len(m.Path) + 64 + len(f.Q) + len(f.Server))
	b.WriteString(m.Path)
	sep := byte('?')
	set := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	var num [20]byte
	if f.Desc {
		set("desc", "1")
	}
	if f.Page > 1 {
		set("page", string(strconv.AppendInt(num[:0], int64(f.Page), 10)))
	}
	set("platform", f.Platform)
	set("q", f.Q)
	set("result", f.Result)
	set("schedule", f.Schedule)
	set("server", f.Server)
	if f.PageSize > 0 {
		set("size", string(strconv.AppendInt(num[:0], int64(f.PageSize), 10)))
	}
	if f.Sort != DefaultSort {
		set("sort", f.Sort)
	}
	return b.String()
}

// SortURL returns the link of a column header: the current filters, sorted by
// col, ascending unless col is already the ascending sort, back on page 1.
func (m JobList) SortURL(col string) string {
	f := m.Filter
	if m.sortCol() == col {
		f.Desc = !m.Filter.Desc
	} else {
		// Times read newest first on the first click: that is what a
		// helpdesk person looks for ("what ran last?").
		f.Desc = newestFirst[col]
	}
	f.Sort = col
	f.Page = 1
	return m.URL(f)
}

// PageURL returns the link to page n with every filter and the sort kept.
func (m JobList) PageURL(n int) string {
	f := m.Filter
	f.Page = n
	return m.URL(f)
}

func (m JobList) sortCol() string {
	if m.Filter.Sort == "" {
		return DefaultSort
	}
	return m.Filter.Sort
}

func (m JobList) page() int {
	if m.Filter.Page < 1 {
		return 1
	}
	return m.Filter.Page
}

// pageWindow returns the page numbers to link: first, last and two either side
// of the current page; 0 marks a gap.
func (m JobList) pageWindow() []int {
	return pageWindow(m.page(), m.Pages)
}

func pageWindow(cur, pages int) []int {
	var out []int
	for p := 1; p <= pages; p++ {
		if p == 1 || p == pages || (p >= cur-2 && p <= cur+2) {
			out = append(out, p)
		} else if len(out) > 0 && out[len(out)-1] != 0 {
			out = append(out, 0)
		}
	}
	return out
}

// ariaSort returns the aria-sort value for a column header, "" for unsorted.
func (m JobList) ariaSort(col string) string {
	if m.sortCol() != col {
		return ""
	}
	if m.Filter.Desc {
		return "descending"
	}
	return "ascending"
}

// sortLink is the list sorted by col in the given direction, from page 1.
func (m JobList) sortLink(col string, desc bool) string {
	f := m.Filter
	f.Sort, f.Desc, f.Page = col, desc, 1
	return m.URL(f)
}

// sortDirWords names a sort direction the way the column reads.
func sortDirWords(col string, desc bool) string {
	switch col {
	case "lastrun", "nextrun":
		if desc {
			return "newest first"
		}
		return "oldest first"
	}
	if desc {
		return "Z to A"
	}
	return "A to Z"
}
