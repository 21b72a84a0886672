package emclient

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Filter is an expression of EM's query filter grammar: field<op>value terms
// joined with ";" (and) or "," (or), grouped with parentheses. The zero Filter
// means "no filter". Build filters with Eq, Ne, Lt, Gt, Le, Ge, And and Or.
//
// Field names must match [A-Za-z][A-Za-z0-9]*; a value must be a string, bool,
// an integer type or time.Time. Both are fixed by the calling code, so a bad field
// name or an unsupported value type is a programming error: the constructors
// panic, like regexp.MustCompile. Strings (and times) are always double-quoted
// with embedded quotes doubled, so no value can change the expression's shape.
type Filter struct {
	expr string
	op   byte // 0 for a single term, ';' or ',' for a group
}

// String returns the expression as sent in the filter parameter ("" for none).
func (f Filter) String() string { return f.expr }

// IsZero reports whether f is the empty filter.
func (f Filter) IsZero() bool { return f.expr == "" }

// Eq is field==value.
func Eq(field string, value any) Filter { return term(field, "==", value) }

// Ne is field!=value.
func Ne(field string, value any) Filter { return term(field, "!=", value) }

// Lt is field<value.
func Lt(field string, value any) Filter { return term(field, "<", value) }

// Gt is field>value.
func Gt(field string, value any) Filter { return term(field, ">", value) }

// Le is field<=value.
func Le(field string, value any) Filter { return term(field, "<=", value) }

// Ge is field>=value.
func Ge(field string, value any) Filter { return term(field, ">=", value) }

// And joins filters with ";". Zero filters are skipped; Or groups get parentheses.
func And(fs ...Filter) Filter { return group(';', fs) }

// Or joins filters with ",". Zero filters are skipped; And groups get parentheses.
func Or(fs ...Filter) Filter { return group(',', fs) }

func group(op byte, fs []Filter) Filter {
	var parts []string
	var only Filter
	for _, f := range fs {
		if f.IsZero() {
			continue
		}
		only = f
		if f.op != 0 && f.op != op {
			parts = append(parts, "("+f.expr+")")
		} else {
			parts = append(parts, f.expr)
		}
	}
	switch len(parts) {
	case 0:
		return Filter{}
	case 1:
		return only
	}
	return Filter{expr: strings.Join(parts, string(op)), op: op}
}

func term(field, op string, value any) Filter {
	if !validField(field) {
		panic(fmt.Sprintf("emclient: invalid filter field name %q", field))
	}
	return Filter{expr: field + op + filterValue(value)}
}

func filterValue(v any) string {
	switch v := v.(type) {
	case string:
		return quote(v)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.FormatInt(int64(v), 10)
	case int8:
		return strconv.FormatInt(int64(v), 10)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint:
		return strconv.FormatUint(uint64(v), 10)
	case uint8:
		return strconv.FormatUint(uint64(v), 10)
	case uint16:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case time.Time:
		// EM accepts UTC only.
		return quote(v.UTC().Format(time.RFC3339))
	case Time:
		return quote(v.UTC().Format(time.RFC3339))
	}
	panic(fmt.Sprintf("emclient: unsupported filter value type %T", v))
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// validField reports whether s is [A-Za-z][A-Za-z0-9]*.
func validField(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Query is one request to EM's query service (GET /api/query).
type Query struct {
	Type     string // "AgentBackupJob", "BackupJobSession", ...
	Entities bool   // format=Entities instead of references
	Filter   Filter
	SortAsc  string
	SortDesc string
	PageSize int // 0: EM's default
	Page     int // 1-based; 0 means 1 when PageSize is set
}

func (q Query) values() (url.Values, error) {
	if !validField(q.Type) {
		return nil, fmt.Errorf("emclient: invalid query type %q", q.Type)
	}
	v := url.Values{"type": {q.Type}}
	if q.Entities {
		v.Set("format", "Entities")
	}
	if !q.Filter.IsZero() {
		v.Set("filter", q.Filter.String())
	}
	if q.SortAsc != "" && q.SortDesc != "" {
		return nil, errors.New("emclient: query has both SortAsc and SortDesc")
	}
	for name, f := range map[string]string{"sortAsc": q.SortAsc, "sortDesc": q.SortDesc} {
		if f == "" {
			continue
		}
		if !validField(f) {
			return nil, fmt.Errorf("emclient: invalid sort field %q", f)
		}
		v.Set(name, f)
	}
	if q.PageSize < 0 || q.Page < 0 {
		return nil, errors.New("emclient: negative page size or page")
	}
	if q.PageSize > 0 {
		v.Set("pageSize", strconv.Itoa(q.PageSize))
		page := q.Page
		if page == 0 {
			page = 1
		}
		v.Set("page", strconv.Itoa(page))
	} else if q.Page > 0 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v, nil
}

// Query runs one page of a query.
func (c *Client) Query(ctx context.Context, q Query) (*QueryResult, error) {
	v, err := q.values()
	if err != nil {
		return nil, err
	}
	var res QueryResult
	err = c.exec(ctx, &call{method: "GET", route: "/query", path: "/query", query: v, list: true, out: &res})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// maxQueryPages bounds QueryPages when EM reports no page count.
const maxQueryPages = 10000

// QueryPages runs q page by page and calls fn for each page until EM reports the
// last page (PagesCount) or, when it reports none, a page without a Next link.
// The next page is requested by rebuilding the query with page=N+1 rather than by
// following EM's Next href, so nothing EM sends can redirect the client to another
// host or path. PageSize defaults to 100. An error from fn stops the walk and is
// returned unchanged.
func (c *Client) QueryPages(ctx context.Context, q Query, fn func(*QueryResult) error) error {
	if q.PageSize == 0 {
		q.PageSize = 100
	}
	if q.Page == 0 {
		q.Page = 1
	}
	for n := 0; n < maxQueryPages; n++ {
		res, err := c.Query(ctx, q)
		if err != nil {
			return err
		}
		if err := fn(res); err != nil {
			return err
		}
		if lastPage(q, res.PagingInfo) {
			return nil
		}
		q.Page++
	}
	return fmt.Errorf("emclient: query %s: more than %d pages", q.Type, maxQueryPages)
}

// lastPage reports whether q asked for the last page of its answer: by the
// page count where EM gives one, else by the absence of a Next link.
func lastPage(q Query, pi PagingInfo) bool {
	if pi.PagesCount > 0 {
		return q.Page >= pi.PagesCount
	}
	return !pi.Links.Has("Next")
}
