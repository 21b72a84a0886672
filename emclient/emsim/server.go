package emsim

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Role is an Enterprise Manager role of an account.
type Role string

// EM roles. Only a PortalAdministrator may post job actions.
const (
	PortalAdministrator Role = "PortalAdministrator"
	PortalUser          Role = "PortalUser"
	RestoreOperator     Role = "RestoreOperator"
)

// Account is an EM account that may log on.
type Account struct {
	Name, Password string
	Role           Role
}

// Config configures a Server. Zero values select the documented defaults.
type Config struct {
	Accounts     []Account        // default: {"svc","secret",PortalAdministrator}
	Seed         int64            // fleet seed (default 1)
	Jobs         int              // fleet size (default 48)
	IdleTimeout  time.Duration    // logon session idle timeout (default 15m)
	SessionSpeed time.Duration    // run time of a backup started through the API (default 20s)
	Now          func() time.Time // clock (default time.Now)
	// HistoryEnd is the instant the fleet's history is built up to (default:
	// Now() at New). Two servers of one seed and one HistoryEnd hold the same
	// fleet; built a moment apart they may not, since a scheduled run that
	// fell into the window in between shifts every random draw after it.
	HistoryEnd time.Time
	Logger     *slog.Logger
	// Refusal is how an action that cannot run now (start while running, stop
	// while idle, retry after success) is refused; SetRefusal changes it later.
	Refusal Refusal
}

// Refusal selects one of the two ways the EM documentation leaves open for
// refusing an action that cannot run now.
type Refusal struct {
	// Status 0 (the default): the action is accepted (202) and its task
	// finishes with Result Success="false" and EM's message. Otherwise the
	// action is answered with this HTTP status and an Error body carrying
	// the same message (e.g. 400 or 500).
	Status int
}

// Faults injects latency and failures; see the package documentation.
type Faults struct {
	Latency, Jitter time.Duration
	Status          int  // answer every call (except GET /api/) with this status and an Error body
	Unauthorized    bool // 401 storm: every call (except GET /api/) is answered 401
	ResetAfterRead  bool // process the request, then drop the connection without an answer
	BlackHole       bool // never answer until the request context ends
	SlowBody        time.Duration
	HugeBody        int64
	HugeRoot        string // root element of the HugeBody document (default EntityReferences)
	Garbage         bool
	Paths           []string // limit faults to paths containing one of these; empty = all
	Methods         []string // limit faults to these HTTP methods (e.g. "POST"); empty = all
}

// Stats are request counters since New or the last ResetStats.
type Stats struct {
	Logons      int64
	Requests    map[string]int64 // by "METHOD pattern", pattern without the /api prefix, e.g. "GET /agents/jobs/{id}"
	ActionCalls map[string]int64 // by ActionKey(jobID, action); counts actions EM accepted and carried out
}

// ActionKey is the key of Stats.ActionCalls.
func ActionKey(jobID, action string) string { return jobID + " " + action }

// JobSummary describes one generated job.
type JobSummary struct {
	ID, UID, Name, Server, Platform string
	Policy                          bool
	Computers                       []string
	ScheduleEnabled                 bool
}

// Server is an in-memory Enterprise Manager. It is an http.Handler serving /api/...
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	// mu guards everything below. Reads (GET handlers, Jobs, Stats) take it
	// shared, so concurrent clients are not serialized behind one another;
	// logons, counters, faults and actions take it exclusively.
	mu       sync.RWMutex
	fleet    *fleet
	logons   map[string]*logon // by token
	nextTask int64
	rng      *mrand.Rand
	faults   Faults
	refusal  Refusal

	// statsMu guards stats alone, so that counting a request does not take
	// mu exclusively. Lock order: mu before statsMu.
	statsMu sync.Mutex
	stats   Stats
}

type logon struct {
	id, token string
	userName  string
	account   Account
	lastSeen  atomic.Int64 // Unix nanoseconds; updated under mu held shared
	tasks     map[string]*task
	taskOrder []*task
}

// New builds the fleet and returns a ready Server.
func New(cfg Config) *Server {
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = []Account{{Name: "svc", Password: "secret", Role: PortalAdministrator}}
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Jobs <= 0 {
		cfg.Jobs = 48
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 15 * time.Minute
	}
	if cfg.SessionSpeed <= 0 {
		cfg.SessionSpeed = 20 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		logons: map[string]*logon{},
		rng:    mrand.New(mrand.NewPCG(uint64(cfg.Seed), 42)),
	}
	s.refusal = cfg.Refusal
	end := cfg.HistoryEnd
	if end.IsZero() {
		end = cfg.Now()
	}
	s.fleet = buildFleet(cfg.Seed, cfg.Jobs, end.UTC())
	s.resetStatsLocked()
	s.routes()
	return s
}

func (s *Server) now() time.Time { return s.cfg.Now().UTC() }

// taskDelay is how long a task stays Running; stops take as long to complete.
func (s *Server) taskDelay() time.Duration { return max(s.cfg.SessionSpeed/20, time.Millisecond) }

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := Stats{Logons: s.stats.Logons, Requests: map[string]int64{}, ActionCalls: map[string]int64{}}
	for k, v := range s.stats.Requests {
		out.Requests[k] = v
	}
	for k, v := range s.stats.ActionCalls {
		out.ActionCalls[k] = v
	}
	return out
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.resetStatsLocked()
}

func (s *Server) resetStatsLocked() {
	s.stats = Stats{Requests: map[string]int64{}, ActionCalls: map[string]int64{}}
}

// ExpireSessions ends every logon session now (and with them their tasks).
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logons = map[string]*logon{}
}

// SetFaults replaces the active faults; the zero Faults clears them.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Paths = append([]string(nil), f.Paths...)
	f.Methods = append([]string(nil), f.Methods...)
	s.faults = f
}

// SetRefusal changes how actions that cannot run now are refused.
func (s *Server) SetRefusal(r Refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusal = r
}

// Jobs lists the fleet in its fixed order.
func (s *Server) Jobs() []JobSummary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]JobSummary, 0, len(s.fleet.jobs))
	for _, j := range s.fleet.jobs {
		out = append(out, summary(j))
	}
	return out
}

// JobState returns the current summary of one job.
func (s *Server) JobState(id string) (JobSummary, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	j, ok := s.fleet.jobByID[strings.ToLower(id)]
	if !ok {
		return JobSummary{}, false
	}
	return summary(j), true
}

func summary(j *job) JobSummary {
	return JobSummary{
		ID: j.id, UID: j.uid(), Name: j.name, Server: j.srv.name, Platform: j.platform(),
		Policy: j.policy, Computers: j.computers(), ScheduleEnabled: j.enabled,
	}
}

// ---- routing ----

// call carries what a handler needs besides the request.
type call struct {
	b      base
	logon  *logon
	params map[string]string // query parameters, keys lower-cased
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

type route struct {
	s       *Server
	public  bool
	methods map[string]handlerFunc
	allow   string
}

func (s *Server) handle(pattern string, public bool, methods map[string]handlerFunc) {
	var allow []string
	for m := range methods {
		allow = append(allow, m)
	}
	s.mux.Handle(pattern, &route{s: s, public: public, methods: methods, allow: strings.Join(allow, ", ")})
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.handle("/api/{$}", true, map[string]handlerFunc{"GET": s.getEntryPoint})
	s.handle("/api/sessionMngr/{$}", true, map[string]handlerFunc{"POST": s.postLogon})
	s.handle("/api/sessionMngr", true, map[string]handlerFunc{"POST": s.postLogon})
	s.handle("/api/logonSessions", false, map[string]handlerFunc{"GET": s.getLogonSessions})
	s.handle("/api/logonSessions/{id}", false, map[string]handlerFunc{"GET": s.getLogonSession, "DELETE": s.deleteLogonSession})
	s.handle("/api/agents", false, map[string]handlerFunc{"GET": s.getAgents})
	s.handle("/api/agents/jobs", false, map[string]handlerFunc{"GET": s.getAgentJobs})
	s.handle("/api/agents/jobs/{id}", false, map[string]handlerFunc{"GET": s.getAgentJob, "POST": s.postJobAction})
	s.handle("/api/agents/jobs/{id}/includes", false, map[string]handlerFunc{"GET": s.getIncludes})
	s.handle("/api/agents/jobs/{id}/includes/{oid}", false, map[string]handlerFunc{"GET": s.getInclude})
	s.handle("/api/agents/jobs/{id}/backupSessions", false, map[string]handlerFunc{"GET": s.getJobSessions})
	s.handle("/api/agents/backupSessions", false, map[string]handlerFunc{"GET": s.getAgentSessions})
	s.handle("/api/backupSessions", false, map[string]handlerFunc{"GET": s.getAgentSessions})
	s.handle("/api/backupSessions/{id}", false, map[string]handlerFunc{"GET": s.getSession, "POST": s.postSessionAction})
	s.handle("/api/backupSessions/{id}/agentManagementSessions", false, map[string]handlerFunc{"GET": s.getChildSessions})
	s.handle("/api/backupServers", false, map[string]handlerFunc{"GET": s.getServers})
	s.handle("/api/backupServers/{id}", false, map[string]handlerFunc{"GET": s.getServer})
	s.handle("/api/query", false, map[string]handlerFunc{"GET": s.getQuery})
	s.handle("/api/tasks", false, map[string]handlerFunc{"GET": s.getTasks})
	s.handle("/api/tasks/{id}", false, map[string]handlerFunc{"GET": s.getTask, "DELETE": s.deleteTask})
}

// statsKey names a request by method and route pattern without the /api prefix.
func statsKey(method, pattern string) string {
	if pattern == "" {
		return method + " (unmatched)"
	}
	p := strings.TrimSuffix(strings.TrimPrefix(pattern, "/api"), "{$}")
	if p == "" {
		p = "/"
	}
	return method + " " + p
}

// ServeHTTP counts the request, applies faults and dispatches it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	s.statsMu.Lock()
	s.stats.Requests[statsKey(r.Method, pattern)]++
	s.statsMu.Unlock()
	s.mu.RLock()
	f := s.faults
	s.mu.RUnlock()
	if s.applyFaults(w, r, f) {
		return
	}
	s.dispatch(w, r, pattern)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, pattern string) {
	if pattern == "" {
		writeError(w, http.StatusNotFound, "The requested resource "+r.URL.Path+" was not found.")
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := rt.s
	h, ok := rt.methods[r.Method]
	if !ok {
		w.Header().Set("Allow", rt.allow)
		writeError(w, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed for "+r.URL.Path+".")
		return
	}
	c := &call{b: baseOf(r), params: parseQuery(r.URL.RawQuery)}
	if !rt.public {
		l, msg := s.authenticate(r)
		if l == nil {
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
		c.logon = l
	}
	h(w, r, c)
}

// parseQuery splits on & only: EM filters contain unescaped ';', which
// net/url refuses as a separator.
func parseQuery(raw string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k2, err := url.QueryUnescape(k)
		if err != nil {
			k2 = k
		}
		v2, err := url.QueryUnescape(v)
		if err != nil {
			v2 = v
		}
		k2 = strings.ToLower(k2)
		if _, dup := out[k2]; !dup {
			out[k2] = v2
		}
	}
	return out
}

const tokenName = "X-RestSvcSessionId"

// authenticate resolves the session token. A cookie wins over the header: when
// the cookie is present the header is not looked at.
func (s *Server) authenticate(r *http.Request) (*logon, string) {
	tok := ""
	if ck, err := r.Cookie(tokenName); err == nil {
		tok = ck.Value
	} else {
		tok = r.Header.Get(tokenName)
	}
	if tok == "" {
		return nil, "Authorization header has been expected but not found."
	}
	now := s.now()
	s.mu.RLock()
	l, ok := s.logons[tok]
	s.mu.RUnlock()
	if !ok {
		return nil, "The session is not found or has expired. Log on again."
	}
	if now.Sub(l.seen()) > s.cfg.IdleTimeout {
		s.mu.Lock()
		if s.logons[tok] == l {
			delete(s.logons, tok)
		}
		s.mu.Unlock()
		return nil, "The session has expired. Log on again."
	}
	l.lastSeen.Store(now.UnixNano())
	return l, ""
}

// seen is when the logon session was last used.
func (l *logon) seen() time.Time { return time.Unix(0, l.lastSeen.Load()) }

// sweepLocked drops idle sessions so that the map does not grow forever.
func (s *Server) sweepLocked(now time.Time) {
	for tok, l := range s.logons {
		if now.Sub(l.seen()) > s.cfg.IdleTimeout {
			delete(s.logons, tok)
		}
	}
}

// ---- response writing ----

func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "private")
	h.Set("Server", "Microsoft-HTTPAPI/2.0")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")
}

// encodeXML marshals v as the document root named root in EM's namespace.
func encodeXML(root string, withXSD bool, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	start := xml.StartElement{Name: xml.Name{Space: namespace, Local: root}}
	if withXSD {
		start.Attr = []xml.Attr{
			{Name: xml.Name{Local: "xmlns:xsd"}, Value: nsXSD},
			{Name: xml.Name{Local: "xmlns:xsi"}, Value: nsXSI},
		}
	}
	enc := xml.NewEncoder(&buf)
	if err := enc.EncodeElement(v, start); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeXML(w http.ResponseWriter, status int, root string, withXSD bool, v any) {
	body, err := encodeXML(root, withXSD, v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "emsim: cannot encode "+root+": "+err.Error())
		return
	}
	setHeaders(w)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := encodeXML("Error", false, errorBody{
		Message: msg, StatusCode: status, Status: strings.ReplaceAll(http.StatusText(status), " ", ""),
		FirstChanceExceptionMessage: msg,
	})
	setHeaders(w)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ---- logon ----

func (s *Server) getEntryPoint(w http.ResponseWriter, r *http.Request, c *call) {
	writeXML(w, http.StatusOK, "EnterpriseManager", true, c.b.entryPoint())
}

func (s *Server) postLogon(w http.ResponseWriter, r *http.Request, c *call) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	switch v := c.params["v"]; v {
	case "latest", "v1_5", "v1_6", "v1_7":
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Unsupported REST API version %q. Supported versions: v1_5, v1_6, v1_7, latest.", v))
		return
	}
	user, pass, ok := r.BasicAuth()
	var acct *Account
	if ok {
		for i := range s.cfg.Accounts {
			a := &s.cfg.Accounts[i]
			if strings.EqualFold(a.Name, user) && a.Password == pass {
				acct = a
				break
			}
		}
	}
	if acct == nil {
		w.Header().Set("WWW-Authenticate", "Basic Realm=RestSvc")
		writeError(w, http.StatusUnauthorized, "Authentication failed: the user name or password is incorrect, or the account has no Enterprise Manager role.")
		return
	}
	id := randomGUID()
	l := &logon{
		id: id, token: base64.StdEncoding.EncodeToString([]byte(id)), account: *acct,
		userName: userName(acct.Name), tasks: map[string]*task{},
	}
	now := s.now()
	l.lastSeen.Store(now.UnixNano())
	s.mu.Lock()
	s.sweepLocked(now)
	s.logons[l.token] = l
	s.mu.Unlock()
	s.statsMu.Lock()
	s.stats.Logons++
	s.statsMu.Unlock()
	w.Header().Set(tokenName, l.token)
	w.Header().Set("Set-Cookie", tokenName+"="+l.token+"; Path=/api")
	w.Header().Set("Location", c.b.url("/logonSessions/"+id))
	writeXML(w, http.StatusCreated, "LogonSession", false, c.b.logonBody(l))
}

// userName shows the account in the DOMAIN\user form EM uses.
func userName(name string) string {
	if strings.ContainsAny(name, `\@`) {
		return name
	}
	return `EMSIM\` + name
}

func randomGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) getLogonSessions(w http.ResponseWriter, r *http.Request, c *call) {
	now := s.now()
	s.mu.Lock()
	s.sweepLocked(now)
	body := logonSessionsBody{}
	for _, l := range s.logons {
		body.Sessions = append(body.Sessions, c.b.logonBody(l))
	}
	s.mu.Unlock()
	sortBy(body.Sessions, func(x logonSessionBody) string { return x.SessionID })
	writeXML(w, http.StatusOK, "LogonSessions", false, body)
}

func (s *Server) findLogon(id string) *logon {
	for _, l := range s.logons {
		if strings.EqualFold(l.id, id) {
			return l
		}
	}
	return nil
}

func (s *Server) getLogonSession(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	s.mu.Lock()
	l := s.findLogon(id)
	s.mu.Unlock()
	if l == nil {
		writeError(w, http.StatusNotFound, "Logon session "+id+" was not found.")
		return
	}
	writeXML(w, http.StatusOK, "LogonSession", false, c.b.logonBody(l))
}

func (s *Server) deleteLogonSession(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := pathID(w, r, "id")
	if !ok {
		return
	}
	s.mu.Lock()
	l := s.findLogon(id)
	if l != nil {
		delete(s.logons, l.token)
	}
	s.mu.Unlock()
	if l == nil {
		writeError(w, http.StatusNotFound, "Logon session "+id+" was not found.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pathID reads a GUID path value; a malformed one is answered 400.
func pathID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	id := strings.ToLower(r.PathValue(name))
	if !validGUID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid identifier %q: a GUID is expected.", r.PathValue(name)))
		return "", false
	}
	return id, true
}

func validGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
