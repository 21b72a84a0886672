package emclient

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/agentdesk/agentdesk/emclient/internal/xmltok"
)

// The job list needs a dozen fields of each job, while EM's entity carries its
// whole schedule and options (~8.8 KB of XML each). The rows below are what the
// list shows; their decoders walk the query answer token by token and skip every
// subtree they do not use, so an answer of 10,000 jobs never becomes 10,000 full
// models. The job page reads the whole entity, by a walk of its own (entity.go).

// JobRow is what the job list reads of an AgentBackupJob entity.
type JobRow struct {
	UID                string
	Name               string
	Platform           string
	Description        string
	ScheduleConfigured bool
	ScheduleEnabled    bool
	NextRun            time.Time // zero when EM names none
	// Links keeps each link's Rel and Type, and Name and Href only for the
	// backup server's (Rel=Up, Type=BackupServerReference): the list asks
	// which actions EM offers (Links.Has) and names the server, nothing more.
	Links    Links
	Includes []IncludeRow
}

// IncludeRow is what the list reads of one ObjectInAgentBackupJob.
type IncludeRow struct {
	Name            string
	DisplayName     string
	HierarchyObjRef string
}

// SessionRow is what the job list reads of a BackupJobSession entity.
type SessionRow struct {
	UID            string
	Name           string
	JobUID         string
	JobName        string
	JobType        string
	Created        time.Time
	Ended          time.Time // zero while running
	State          string
	Result         string
	Progress       int
	FailureMessage string
	IsRetry        bool
	// ParentHref is the Up BackupJobSessionReference link of a per-computer
	// session ("" for a parent session).
	ParentHref string
}

// JobRows runs an AgentBackupJob entities query page by page (PageSize
// default 100) and calls fn with each job's list fields as they are read.
// fn must copy the row, not keep the pointer: the next row is read into it.
// An error from fn stops the walk and is returned unchanged.
func (c *Client) JobRows(ctx context.Context, q Query, fn func(*JobRow) error) error {
	q.Type, q.Entities = "AgentBackupJob", true
	return rowPages(ctx, c, q, &rowQuery[JobRow]{plural: "AgentBackupJobs", entity: "AgentBackupJob", decode: decodeJobRow, fn: fn})
}

// SessionRows runs a BackupJobSession entities query page by page and calls fn
// with each session's list fields as they are read; fn must copy the row.
func (c *Client) SessionRows(ctx context.Context, q Query, fn func(*SessionRow) error) error {
	q.Type, q.Entities = "BackupJobSession", true
	return rowPages(ctx, c, q, &rowQuery[SessionRow]{plural: "BackupJobSessions", entity: "BackupJobSession", decode: decodeSessionRow, fn: fn})
}

// SessionPage runs ONE page of a BackupJobSession entities query (q.Page,
// default 1) and calls fn with each session's fields as they are read; fn
// must copy the row. It returns the page's PagingInfo. A job page reads its
// sessions this way, not through Query's full model.
func (c *Client) SessionPage(ctx context.Context, q Query, fn func(*SessionRow) error) (PagingInfo, error) {
	q.Type, q.Entities = "BackupJobSession", true
	rq := &rowQuery[SessionRow]{plural: "BackupJobSessions", entity: "BackupJobSession", decode: decodeSessionRow, fn: fn}
	err := rowPage(ctx, c, q, rq)
	return rq.paging, err
}

// rowPages walks the pages of q as QueryPages does (page=N+1, never EM's Next
// href), decoding each page as it arrives.
func rowPages[T any](ctx context.Context, c *Client, q Query, rq *rowQuery[T]) error {
	if q.PageSize == 0 {
		q.PageSize = 100
	}
	if q.Page == 0 {
		q.Page = 1
	}
	for n := 0; n < maxQueryPages; n++ {
		if err := rowPage(ctx, c, q, rq); err != nil {
			return err
		}
		if lastPage(q, rq.paging) {
			return nil
		}
		q.Page++
	}
	return fmt.Errorf("emclient: query %s: more than %d pages", q.Type, maxQueryPages)
}

// rowPage reads the one page q names into rq.
func rowPage[T any](ctx context.Context, c *Client, q Query, rq *rowQuery[T]) error {
	v, err := q.values()
	if err != nil {
		return err
	}
	rq.paging = PagingInfo{}
	rq.fnErr = nil
	if err := c.exec(ctx, &call{method: "GET", route: "/query", path: "/query", query: v, list: true, out: rq}); err != nil {
		if rq.fnErr != nil {
			return rq.fnErr
		}
		return err
	}
	return nil
}

// tokenDecoder is a decoding target that reads the answer's tokens itself
// (readAnswer hands it a tokenizer instead of calling encoding/xml's Decode).
type tokenDecoder interface {
	decodeTokens(d *xmltok.Decoder) error
}

// rowQuery decodes one page of a query answer into rows of T, calling fn for
// each. Everything but QueryResult/Entities/<plural>/<entity> and PagingInfo is
// skipped unread, in any namespace, as encoding/xml does for the full model.
type rowQuery[T any] struct {
	plural string // the collection element under Entities
	entity string
	// decode reads one entity, its start element just read.
	decode func(d *xmltok.Decoder, row *T) error
	fn     func(*T) error

	row    T
	paging PagingInfo
	fnErr  error // fn's error: the caller's, returned unchanged
}

func (rq *rowQuery[T]) decodeTokens(d *xmltok.Decoder) error {
	if err := firstStart(d, "QueryResult"); err != nil {
		return err
	}
	return eachChild(d, func(name []byte) error {
		switch string(name) {
		case "PagingInfo":
			return decodePaging(d, &rq.paging)
		case "Entities":
			return eachChild(d, func(name []byte) error {
				if string(name) != rq.plural {
					return d.Skip()
				}
				return eachChild(d, func(name []byte) error {
					if string(name) != rq.entity {
						return d.Skip()
					}
					var zero T
					rq.row = zero
					if err := rq.decode(d, &rq.row); err != nil {
						return err
					}
					if err := rq.fn(&rq.row); err != nil {
						rq.fnErr = err
						return err
					}
					return nil
				})
			})
		}
		return d.Skip()
	})
}

// decodePaging reads a PagingInfo element into p as encoding/xml's
// DecodeElement does: attributes present overwrite (the last of a name
// wins), every Links/Link appends.
func decodePaging(d *xmltok.Decoder, p *PagingInfo) error {
	for _, f := range []struct {
		name string
		dst  *int
	}{{"PagesCount", &p.PagesCount}, {"PageSize", &p.PageSize}, {"PageNum", &p.PageNum}} {
		if err := intAttr(d, f.name, f.dst); err != nil {
			return err
		}
	}
	return eachChild(d, func(name []byte) error {
		if string(name) != "Links" {
			return d.Skip()
		}
		return eachChild(d, func(name []byte) error {
			if string(name) != "Link" {
				return d.Skip()
			}
			var l Link
			for i := range d.NumAttr() {
				_, local, v := d.AttrAt(i)
				switch string(local) {
				case "Rel":
					l.Rel = string(v)
				case "Type":
					l.Type = string(v)
				case "Href":
					l.Href = string(v)
				case "Name":
					l.Name = string(v)
				}
			}
			p.Links = append(p.Links, l)
			return d.Skip()
		})
	})
}

// firstStart reads up to the document's root element, which must be root.
func firstStart(d *xmltok.Decoder, root string) error {
	for {
		k, err := d.Next()
		if err != nil {
			return err
		}
		if k == xmltok.StartElement {
			if string(d.Name()) != root {
				return fmt.Errorf("expected element type <%s> but have <%s>", root, d.Name())
			}
			return nil
		}
	}
}

// eachChild calls fn with the local name of each child element of the
// element just started, up to its end. fn must consume the child up to and
// including its end element; name, and the child's attributes (attr), are
// valid until it reads on.
func eachChild(d *xmltok.Decoder, fn func(name []byte) error) error {
	for {
		k, err := d.Next()
		if err != nil {
			return err
		}
		switch k {
		case xmltok.StartElement:
			if err := fn(d.Name()); err != nil {
				return err
			}
		case xmltok.EndElement:
			return nil
		}
	}
}

// text reads the character data of the element just started, up to its end;
// nested elements are skipped. The usual element, one run of text, costs one
// allocation: the string.
func text(d *xmltok.Decoder) (string, error) {
	var (
		s string
		b []byte // from the second run of text on
		n int    // runs of text
	)
	for {
		k, err := d.Next()
		if err != nil {
			return "", err
		}
		switch k {
		case xmltok.Text:
			t := d.Text()
			switch n {
			case 0:
				s = string(t)
			case 1:
				b = append([]byte(s), t...)
			default:
				b = append(b, t...)
			}
			n++
		case xmltok.StartElement:
			if err := d.Skip(); err != nil {
				return "", err
			}
		case xmltok.EndElement:
			if n > 1 {
				return string(b), nil
			}
			return s, nil
		}
	}
}

// scalar is text for a number, bool or date: the character data appended to
// buf (a caller's array on the stack), nothing allocated when it fits.
func scalar(d *xmltok.Decoder, buf []byte) ([]byte, error) {
	for {
		k, err := d.Next()
		if err != nil {
			return nil, err
		}
		switch k {
		case xmltok.Text:
			buf = append(buf, d.Text()...)
		case xmltok.StartElement:
			if err := d.Skip(); err != nil {
				return nil, err
			}
		case xmltok.EndElement:
			return buf, nil
		}
	}
}

// The scalar readers parse as encoding/xml does for the tagged types (no
// text is zero, text is trimmed and must then parse), so a value the tagged
// types reject is rejected here too; the usual values parse without
// allocating.

func boolText(d *xmltok.Decoder, name string) (bool, error) {
	var a [16]byte
	b, err := scalar(d, a[:0])
	if err != nil || len(b) == 0 {
		return false, err
	}
	return parseBool(name, bytes.TrimSpace(b))
}

func parseBool(name string, b []byte) (bool, error) {
	switch string(b) {
	case "true", "1", "True", "TRUE", "t", "T":
		return true, nil
	case "false", "0", "False", "FALSE", "f", "F":
		return false, nil
	}
	_, err := strconv.ParseBool(string(b))
	return false, fmt.Errorf("%s: %w", name, err)
}

func intText(d *xmltok.Decoder, name string) (int, error) {
	var a [24]byte
	b, err := scalar(d, a[:0])
	if err != nil || len(b) == 0 {
		return 0, err
	}
	return parseInt(name, b)
}

// parseInt parses a number as encoding/xml does for an int field: trimmed.
func parseInt(name string, b []byte) (int, error) {
	b = bytes.TrimSpace(b)
	// Up to 18 digits cannot overflow; anything else goes to strconv, which
	// also words the error.
	if n := len(b); n > 0 && n <= 18 {
		v, ok := 0, true
		for _, c := range b {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			v = v*10 + int(c-'0')
		}
		if ok {
			return v, nil
		}
	}
	v, err := strconv.ParseInt(string(b), 10, strconv.IntSize)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return int(v), nil
}

// intAttr sets *dst from each attribute of the local name given, as
// encoding/xml does for an int attribute field ("" is 0).
func intAttr(d *xmltok.Decoder, name string, dst *int) error {
	for i := range d.NumAttr() {
		_, local, v := d.AttrAt(i)
		if string(local) != name {
			continue
		}
		if len(v) == 0 {
			*dst = 0
			continue
		}
		n, err := parseInt(name, v)
		if err != nil {
			return err
		}
		*dst = n
	}
	return nil
}

func timeText(d *xmltok.Decoder) (time.Time, error) {
	var a [40]byte
	b, err := scalar(d, a[:0])
	if err != nil {
		return time.Time{}, err
	}
	return parseTime(b)
}

// attr is the value of the element's attribute of the local name given
// (the last of several, as encoding/xml's Unmarshal), "" when it has none.
func attr(d *xmltok.Decoder, name string) string {
	v, _ := d.Attr(name)
	return string(v)
}

// attrIs reports whether the element's attribute name is value.
func attrIs(d *xmltok.Decoder, name, value string) bool {
	v, _ := d.Attr(name)
	return string(v) == value
}

// linkWords interns the Rel and Type values EM documents, so 10,000 jobs of
// eight links each do not hold 160,000 copies of "Alternate".
var linkWords = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{
		"Up", "Down", "Alternate", "Related", "Start", "Stop", "Retry", "ToggleScheduleEnabled", "Delete", "Edit",
		"BackupServerReference", "JobReference", "ObjectInJobList", "BackupJobSessionReferenceList",
		"BackupJobSessionReference", "BackupJobSession", "BackupTaskSessionReferenceList", "RestorePointReference",
	} {
		m[w] = w
	}
	return m
}()

// internAttr is attr for a Rel or Type: a documented value costs no
// allocation.
func internAttr(d *xmltok.Decoder, name string) string {
	v, _ := d.Attr(name)
	if w, ok := linkWords[string(v)]; ok {
		return w
	}
	return string(v)
}

// links reads a Links element: each Link's Rel and Type, and keep(rel, typ)
// says whether its Name and Href are kept too.
func links(d *xmltok.Decoder, keep func(rel, typ string) bool) (Links, error) {
	var out Links
	err := eachChild(d, func(name []byte) error {
		if string(name) == "Link" {
			l := Link{Rel: internAttr(d, "Rel"), Type: internAttr(d, "Type")}
			if keep(l.Rel, l.Type) {
				l.Name, l.Href = attr(d, "Name"), attr(d, "Href")
			}
			out = append(out, l)
		}
		return d.Skip()
	})
	return out, err
}

func decodeJobRow(d *xmltok.Decoder, r *JobRow) error {
	r.UID, r.Name = attr(d, "UID"), attr(d, "Name")
	return eachChild(d, func(name []byte) error {
		var err error
		switch string(name) {
		case "Links":
			r.Links, err = links(d, func(rel, typ string) bool { return rel == "Up" && typ == "BackupServerReference" })
		case "Platform":
			r.Platform, err = text(d)
		case "Description":
			r.Description, err = text(d)
		case "ScheduleConfigured":
			r.ScheduleConfigured, err = boolText(d, "ScheduleConfigured")
		case "ScheduleEnabled":
			r.ScheduleEnabled, err = boolText(d, "ScheduleEnabled")
		case "NextRun":
			r.NextRun, err = timeText(d)
		case "JobInfo":
			err = eachChild(d, func(name []byte) error {
				if string(name) != "Includes" {
					return d.Skip()
				}
				return eachChild(d, func(name []byte) error {
					if string(name) != "ObjectInAgentBackupJob" {
						return d.Skip()
					}
					var inc IncludeRow
					err := eachChild(d, func(name []byte) error {
						var err error
						switch string(name) {
						case "Name":
							inc.Name, err = text(d)
						case "DisplayName":
							inc.DisplayName, err = text(d)
						case "HierarchyObjRef":
							inc.HierarchyObjRef, err = text(d)
						default:
							err = d.Skip()
						}
						return err
					})
					r.Includes = append(r.Includes, inc)
					return err
				})
			})
		default:
			err = d.Skip()
		}
		return err
	})
}

func decodeSessionRow(d *xmltok.Decoder, r *SessionRow) error {
	r.UID, r.Name = attr(d, "UID"), attr(d, "Name")
	return eachChild(d, func(name []byte) error {
		var err error
		switch string(name) {
		case "Links":
			// Only the parent's link is kept, and no list of links is built.
			err = eachChild(d, func(name []byte) error {
				if string(name) == "Link" && r.ParentHref == "" && attrIs(d, "Rel", "Up") && attrIs(d, "Type", "BackupJobSessionReference") {
					r.ParentHref = attr(d, "Href")
				}
				return d.Skip()
			})
		case "JobUid":
			r.JobUID, err = text(d)
		case "JobName":
			r.JobName, err = text(d)
		case "JobType":
			r.JobType, err = text(d)
		case "CreationTimeUTC":
			r.Created, err = timeText(d)
		case "EndTimeUTC":
			r.Ended, err = timeText(d)
		case "State":
			r.State, err = text(d)
		case "Result":
			r.Result, err = text(d)
		case "Progress":
			r.Progress, err = intText(d, "Progress")
		case "FailureMessage":
			r.FailureMessage, err = text(d)
		case "IsRetry":
			r.IsRetry, err = boolText(d, "IsRetry")
		default:
			err = d.Skip()
		}
		return err
	})
}
