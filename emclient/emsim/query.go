package emsim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ---- field model ----

type fieldKind int

const (
	kString fieldKind = iota // case-insensitive text
	kUID                     // urn:veeam:<Type>:<guid> or a bare GUID; compared by GUID
	kEnum                    // compared by declared index
	kBool
	kDate
	kInt
)

type value struct {
	null bool
	s    string
	n    int64
	t    time.Time
}

type field struct {
	name string
	kind fieldKind
	enum []string
	get  func(item any) value
}

type queryType struct {
	name   string
	fields map[string]*field // by lower-case name
	// items lists the candidates in their documented order; filter is the
	// parsed filter (nil for none), which a type may use to skip items that
	// cannot match. getQuery applies the whole filter to what is returned.
	items  func(s *Server, c *call, filter node, now time.Time) []any
	render func(b base, items []any, entities bool, now time.Time) queryResult
}

func str(s string) value       { return value{s: s} }
func uidValue(id string) value { return value{s: strings.ToLower(id)} }
func boolValue(b bool) value {
	if b {
		return value{n: 1}
	}
	return value{}
}
func enumValue(list []string, v string) value {
	for i, e := range list {
		if strings.EqualFold(e, v) {
			return value{n: int64(i)}
		}
	}
	return value{null: true}
}

var (
	sessionStates = []string{"Starting", "Stopping", "Working", "Pausing", "Resuming", "Stopped"}
	// None (still running) sorts before the documented Success < Warning < Failed.
	sessionResults = []string{"None", "Success", "Warning", "Failed"}
	taskStates     = []string{"Running", "OperationFinished", "Finished"}
)

type taskItem struct {
	t    *task
	body taskBody
}

func fields(fs ...*field) map[string]*field {
	m := make(map[string]*field, len(fs))
	for _, f := range fs {
		m[strings.ToLower(f.name)] = f
	}
	return m
}

func jobField(name string, k fieldKind, get func(j *job) value) *field {
	return &field{name: name, kind: k, get: func(it any) value { return get(it.(*job)) }}
}

func sessField(name string, k fieldKind, enum []string, get func(v sessionView) value) *field {
	return &field{name: name, kind: k, enum: enum, get: func(it any) value { return get(it.(sessionView)) }}
}

func serverField(name string, k fieldKind, get func(s *backupServer) value) *field {
	return &field{name: name, kind: k, get: func(it any) value { return get(it.(*backupServer)) }}
}

func taskField(name string, k fieldKind, enum []string, get func(t taskItem) value) *field {
	return &field{name: name, kind: k, enum: enum, get: func(it any) value { return get(it.(taskItem)) }}
}

var queryTypes = map[string]*queryType{}

func init() {
	for _, qt := range []*queryType{
		{
			name: "AgentBackupJob",
			fields: fields(
				jobField("UID", kUID, func(j *job) value { return uidValue(j.id) }),
				jobField("Name", kString, func(j *job) value { return str(j.name) }),
				jobField("Description", kString, func(j *job) value { return str(j.desc) }),
				jobField("JobType", kString, func(j *job) value { return str("AgentBackup") }),
				jobField("Platform", kString, func(j *job) value { return str(j.platform()) }),
				jobField("ScheduleConfigured", kBool, func(j *job) value { return boolValue(j.sched.configured) }),
				jobField("ScheduleEnabled", kBool, func(j *job) value { return boolValue(j.enabled) }),
				jobField("BackupServerUid", kUID, func(j *job) value { return uidValue(j.srv.id) }),
				jobField("BackupServerName", kString, func(j *job) value { return str(j.srv.name) }),
			),
			items: func(s *Server, c *call, filter node, now time.Time) []any {
				out := make([]any, len(s.fleet.jobs))
				for i, j := range s.fleet.jobs {
					out[i] = j
				}
				return out
			},
			render: func(b base, items []any, entities bool, now time.Time) queryResult {
				if entities {
					e := &agentBackupJobs{Jobs: make([]agentBackupJob, 0, len(items))}
					for _, it := range items {
						e.Jobs = append(e.Jobs, b.jobEntity(it.(*job), now))
					}
					return queryResult{Entities: &queryEntities{AgentBackupJobs: e}}
				}
				rs := &queryRefs{Refs: make([]ref, 0, len(items))}
				for _, it := range items {
					rs.Refs = append(rs.Refs, b.jobRef(it.(*job)))
				}
				return queryResult{Refs: rs}
			},
		},
		{
			name: "BackupJobSession",
			fields: fields(
				sessField("UID", kUID, nil, func(v sessionView) value { return uidValue(v.s.id) }),
				sessField("Name", kString, nil, func(v sessionView) value { return str(v.s.name()) }),
				sessField("JobType", kString, nil, func(v sessionView) value {
					if v.s.parent != nil {
						return str("AgentManagement")
					}
					return str("AgentBackup")
				}),
				sessField("JobUid", kUID, nil, func(v sessionView) value { return uidValue(v.s.jobID()) }),
				sessField("JobName", kString, nil, func(v sessionView) value { return str(v.s.jobName()) }),
				sessField("CreationTime", kDate, nil, func(v sessionView) value { return value{t: v.s.created} }),
				sessField("EndTime", kDate, nil, func(v sessionView) value {
					if v.end.IsZero() {
						return value{null: true}
					}
					return value{t: v.end}
				}),
				sessField("State", kEnum, sessionStates, func(v sessionView) value { return enumValue(sessionStates, v.state) }),
				sessField("Result", kEnum, sessionResults, func(v sessionView) value { return enumValue(sessionResults, v.result) }),
				sessField("IsRetry", kBool, nil, func(v sessionView) value { return boolValue(v.s.isRetry) }),
				sessField("BackupServerUid", kUID, nil, func(v sessionView) value { return uidValue(v.s.job.srv.id) }),
				sessField("BackupServerName", kString, nil, func(v sessionView) value { return str(v.s.job.srv.name) }),
			),
			items: func(s *Server, c *call, filter node, now time.Time) []any {
				var views []sessionView
				if uids, ok := jobUIDs(filter); ok {
					// The portal's per-job query: read only the sessions of
					// the jobs the filter names, not the whole fleet.
					views = sessionsOf(s.fleet.jobsByUID(uids), now)
				} else {
					views = s.allSessions(now)
				}
				out := make([]any, len(views))
				for i, v := range views {
					out[i] = v
				}
				return out
			},
			render: func(b base, items []any, entities bool, now time.Time) queryResult {
				if entities {
					e := &backupJobSessions{Sessions: make([]backupJobSession, 0, len(items))}
					for _, it := range items {
						e.Sessions = append(e.Sessions, b.sessionEntity(it.(sessionView)))
					}
					return queryResult{Entities: &queryEntities{BackupJobSessions: e}}
				}
				rs := &queryRefs{Refs: make([]ref, 0, len(items))}
				for _, it := range items {
					rs.Refs = append(rs.Refs, b.sessionRef(it.(sessionView)))
				}
				return queryResult{Refs: rs}
			},
		},
		{
			name: "BackupServer",
			fields: fields(
				serverField("UID", kUID, func(s *backupServer) value { return uidValue(s.id) }),
				serverField("Name", kString, func(s *backupServer) value { return str(s.name) }),
				serverField("Description", kString, func(s *backupServer) value { return str(s.desc) }),
				serverField("IpOrDnsName", kString, func(s *backupServer) value { return str(s.name) }),
				serverField("Port", kInt, func(s *backupServer) value { return value{n: 9392} }),
				serverField("Version", kString, func(s *backupServer) value { return str(s.version) }),
			),
			items: func(s *Server, c *call, filter node, now time.Time) []any {
				out := make([]any, len(s.fleet.servers))
				for i, sv := range s.fleet.servers {
					out[i] = sv
				}
				return out
			},
			render: func(b base, items []any, entities bool, now time.Time) queryResult {
				if entities {
					e := &backupServersBody{}
					for _, it := range items {
						e.Servers = append(e.Servers, b.serverEntity(it.(*backupServer)))
					}
					return queryResult{Entities: &queryEntities{BackupServers: e}}
				}
				rs := &queryRefs{}
				for _, it := range items {
					rs.Refs = append(rs.Refs, b.serverRef(it.(*backupServer)))
				}
				return queryResult{Refs: rs}
			},
		},
		{
			name: "Task",
			fields: fields(
				taskField("TaskId", kString, nil, func(t taskItem) value { return str(t.t.id) }),
				taskField("State", kEnum, taskStates, func(t taskItem) value { return enumValue(taskStates, t.body.State) }),
				taskField("Operation", kString, nil, func(t taskItem) value { return str(t.t.op) }),
			),
			items: func(s *Server, c *call, filter node, now time.Time) []any {
				out := make([]any, 0, len(c.logon.taskOrder))
				for _, t := range c.logon.taskOrder {
					out = append(out, taskItem{t: t, body: s.taskBody(c.b, t, now)})
				}
				return out
			},
			render: func(b base, items []any, entities bool, now time.Time) queryResult {
				ts := &tasksBody{}
				for _, it := range items {
					ts.Tasks = append(ts.Tasks, it.(taskItem).body)
				}
				return queryResult{Resources: &queryResources{Tasks: ts}}
			},
		},
	} {
		queryTypes[strings.ToLower(qt.name)] = qt
	}
}

// ---- filter grammar ----
//
//	expr   = term   { "," term }      OR
//	term   = factor { ";" factor }    AND (binds tighter than OR)
//	factor = "(" expr ")" | field op value
//	op     = "==" | "!=" | "<=" | ">=" | "<" | ">"
//	value  = '"' { char | '""' } '"' | unquoted text up to ; , ) (spaces dropped)

type node interface{ match(item any) bool }

type andNode []node

func (n andNode) match(it any) bool {
	for _, c := range n {
		if !c.match(it) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) match(it any) bool {
	for _, c := range n {
		if c.match(it) {
			return true
		}
	}
	return false
}

type cmpNode struct {
	f   *field
	op  string
	lit value
}

func (n cmpNode) match(it any) bool {
	v := n.f.get(it)
	if v.null {
		return n.op == "!="
	}
	if n.f.kind == kString && (n.op == "==" || n.op == "!=") {
		return strings.EqualFold(v.s, n.lit.s) == (n.op == "==")
	}
	c := compareValues(n.f.kind, v, n.lit)
	switch n.op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case ">":
		return c > 0
	case "<=":
		return c <= 0
	default:
		return c >= 0
	}
}

func compareValues(k fieldKind, a, b value) int {
	switch {
	case a.null && b.null:
		return 0
	case a.null:
		return -1
	case b.null:
		return 1
	}
	switch k {
	case kString:
		return strings.Compare(strings.ToLower(a.s), strings.ToLower(b.s))
	case kUID:
		return strings.Compare(a.s, b.s)
	case kDate:
		return a.t.Compare(b.t)
	default:
		switch {
		case a.n < b.n:
			return -1
		case a.n > b.n:
			return 1
		}
		return 0
	}
}

type filterParser struct {
	s  string
	i  int
	qt *queryType
}

func parseFilter(qt *queryType, s string) (node, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := &filterParser{s: s, qt: qt}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.skip()
	if p.i < len(p.s) {
		return nil, fmt.Errorf("unexpected %q at position %d", p.s[p.i:], p.i)
	}
	return n, nil
}

func (p *filterParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *filterParser) peek(c byte) bool {
	p.skip()
	return p.i < len(p.s) && p.s[p.i] == c
}

func (p *filterParser) or() (node, error) {
	var terms orNode
	for {
		t, err := p.and()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		if !p.peek(',') {
			break
		}
		p.i++
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *filterParser) and() (node, error) {
	var terms andNode
	for {
		t, err := p.factor()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		if !p.peek(';') {
			break
		}
		p.i++
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *filterParser) factor() (node, error) {
	if p.peek('(') {
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peek(')') {
			return nil, errors.New("missing )")
		}
		p.i++
		return n, nil
	}
	return p.comparison()
}

func (p *filterParser) comparison() (node, error) {
	p.skip()
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			p.i++
			continue
		}
		break
	}
	name := p.s[start:p.i]
	if name == "" {
		return nil, fmt.Errorf("field name expected at position %d", start)
	}
	f := p.qt.fields[strings.ToLower(name)]
	if f == nil {
		return nil, fmt.Errorf("unknown field %q for type %s", name, p.qt.name)
	}
	p.skip()
	var op string
	for _, o := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(p.s[p.i:], o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("comparison operator expected after %q", name)
	}
	p.i += len(op)
	raw, err := p.value()
	if err != nil {
		return nil, err
	}
	lit, err := literal(f, raw)
	if err != nil {
		return nil, err
	}
	return cmpNode{f: f, op: op, lit: lit}, nil
}

func (p *filterParser) value() (string, error) {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == '"' {
		var b strings.Builder
		p.i++
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c == '"' {
				if p.i+1 < len(p.s) && p.s[p.i+1] == '"' {
					b.WriteByte('"')
					p.i += 2
					continue
				}
				p.i++
				return b.String(), nil
			}
			b.WriteByte(c)
			p.i++
		}
		return "", errors.New("unterminated quoted value")
	}
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(";,)", rune(p.s[p.i])) {
		p.i++
	}
	return strings.ReplaceAll(p.s[start:p.i], " ", ""), nil
}

func literal(f *field, raw string) (value, error) {
	switch f.kind {
	case kUID:
		if i := strings.LastIndexByte(raw, ':'); i >= 0 {
			raw = raw[i+1:]
		}
		return uidValue(raw), nil
	case kEnum:
		v := enumValue(f.enum, raw)
		if v.null {
			return value{}, fmt.Errorf("invalid value %q for %s; expected one of %s", raw, f.name, strings.Join(f.enum, ", "))
		}
		return v, nil
	case kBool:
		switch strings.ToLower(raw) {
		case "true":
			return boolValue(true), nil
		case "false":
			return boolValue(false), nil
		}
		return value{}, fmt.Errorf("invalid boolean %q for %s", raw, f.name)
	case kDate:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, raw); err == nil {
				return value{t: t.UTC()}, nil
			}
		}
		return value{}, fmt.Errorf("invalid date-time %q for %s (UTC, e.g. 2025-08-15T06:00:00Z)", raw, f.name)
	case kInt:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return value{}, fmt.Errorf("invalid number %q for %s", raw, f.name)
		}
		return value{n: n}, nil
	}
	return str(raw), nil
}

// jobUIDs returns the lower-cased GUIDs a session must have as JobUid to
// match n, and false when n does not restrict JobUid to a finite set. The set
// may be larger than what matches: the caller still applies n.
func jobUIDs(n node) (map[string]bool, bool) {
	switch n := n.(type) {
	case cmpNode:
		if n.op == "==" && n.f.name == "JobUid" {
			return map[string]bool{n.lit.s: true}, true
		}
	case andNode:
		for _, c := range n {
			if ids, ok := jobUIDs(c); ok {
				return ids, true
			}
		}
	case orNode:
		all := map[string]bool{}
		for _, c := range n {
			ids, ok := jobUIDs(c)
			if !ok {
				return nil, false
			}
			for id := range ids {
				all[id] = true
			}
		}
		return all, true
	}
	return nil, false
}

// ---- the query handler ----

const defaultPageSize = 100

func (s *Server) getQuery(w http.ResponseWriter, r *http.Request, c *call) {
	qt := queryTypes[strings.ToLower(c.params["type"])]
	if qt == nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Unsupported query type %q. emsim supports AgentBackupJob, BackupJobSession, BackupServer and Task.", c.params["type"]))
		return
	}
	format := c.params["format"]
	entities := strings.EqualFold(format, "Entities") || strings.EqualFold(format, "Entity")
	if format != "" && !entities && !strings.EqualFold(format, "Refs") && !strings.EqualFold(format, "References") {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid format %q.", format))
		return
	}
	filterText := c.params["filter"]
	filter, err := parseFilter(qt, filterText)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid filter: "+err.Error())
		return
	}
	var sortField *field
	sortDesc := false
	sortParam, sortName := "", ""
	if v, ok := c.params["sortasc"]; ok {
		sortParam, sortName = "sortAsc", v
	} else if v, ok := c.params["sortdesc"]; ok {
		sortParam, sortName, sortDesc = "sortDesc", v, true
	}
	if sortParam != "" {
		sortField = qt.fields[strings.ToLower(strings.TrimSpace(sortName))]
		if sortField == nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid %s field %q for type %s.", sortParam, sortName, qt.name))
			return
		}
	}
	pageSize, page := defaultPageSize, 1
	if v, ok := c.params["pagesize"]; ok {
		if pageSize, err = strconv.Atoi(v); err != nil || pageSize <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid pageSize %q.", v))
			return
		}
	}
	if v, ok := c.params["page"]; ok {
		if page, err = strconv.Atoi(v); err != nil || page <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid page %q.", v))
			return
		}
	}

	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	items := qt.items(s, c, filter, now)
	if filter != nil {
		kept := items[:0]
		for _, it := range items {
			if filter.match(it) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if sortField != nil {
		keys := make([]value, len(items))
		idx := make([]int, len(items))
		kind := sortField.kind
		for i, it := range items {
			keys[i], idx[i] = sortField.get(it), i
			if kind == kString { // lower-case once, not on every comparison
				keys[i].s = strings.ToLower(keys[i].s)
			}
		}
		if kind == kString {
			kind = kUID // plain byte comparison of the lower-cased keys
		}
		sort.SliceStable(idx, func(a, b int) bool {
			c := compareValues(kind, keys[idx[a]], keys[idx[b]])
			if sortDesc {
				return c > 0
			}
			return c < 0
		})
		sorted := make([]any, len(items))
		for i, k := range idx {
			sorted[i] = items[k]
		}
		items = sorted
	}
	pages := max(1, (len(items)+pageSize-1)/pageSize)
	lo := min((page-1)*pageSize, len(items))
	hi := min(lo+pageSize, len(items))
	res := qt.render(c.b, items[lo:hi], entities, now)

	qs := "type=" + qt.name
	if entities && qt.name != "Task" {
		qs += "&format=Entities"
	}
	if sortParam != "" {
		qs += "&" + sortParam + "=" + sortField.name
	}
	pageLink := func(rel string, n int) link {
		h := qs + "&pageSize=" + strconv.Itoa(pageSize) + "&page=" + strconv.Itoa(n)
		if filterText != "" {
			h += "&filter=" + strings.ReplaceAll(url.QueryEscape(filterText), "+", "%20")
		}
		return link{Rel: rel, Href: c.b.url("/query?" + h)}
	}
	res.PagingInfo = pagingInfo{PagesCount: pages, PageSize: pageSize, PageNum: page}
	res.PagingInfo.Links = append(res.PagingInfo.Links, pageLink("First", 1))
	if page > 1 {
		res.PagingInfo.Links = append(res.PagingInfo.Links, pageLink("Previous", min(page-1, pages)))
	}
	if page < pages {
		res.PagingInfo.Links = append(res.PagingInfo.Links, pageLink("Next", page+1))
	}
	res.PagingInfo.Links = append(res.PagingInfo.Links, pageLink("Last", pages))
	writeXML(w, http.StatusOK, "QueryResult", false, res)
}
