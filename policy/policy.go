// Package policy decides who may do what to which Veeam Agent job.
//
// Enterprise Manager's service account is a Portal Administrator, so this
// package is the only gatekeeper between a signed-in user and EM. It maps the
// user's groups and claims to roles (bindings), and each role to a set of
// actions on a selection of jobs. Anything not granted is denied: a user who
// matches no binding has no role and sees nothing.
//
// A Policy is immutable once parsed and safe for concurrent use. Policy.For
// compiles the roles of one user into a Grant, which answers per-job questions
// without allocating, so filtering thousands of jobs per request stays cheap.
package policy

import (
	_ "embed"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Action is something a user may do to a job.
type Action string

// The actions a policy can grant, in the order Grant.Actions reports them.
const (
	View    Action = "view"
	Start   Action = "start"
	Stop    Action = "stop"
	Retry   Action = "retry"
	Enable  Action = "enable"  // turn the job's schedule on
	Disable Action = "disable" // turn the job's schedule off
)

var actionOrder = [...]Action{View, Start, Stop, Retry, Enable, Disable}

// AllActions returns every action in display order.
func AllActions() []Action { return slices.Clone(actionOrder[:]) }

// ParseAction maps a string (for example from a URL) to an Action.
func ParseAction(s string) (Action, bool) {
	for _, a := range actionOrder {
		if string(a) == s {
			return a, true
		}
	}
	return "", false
}

// actionSet is a bit set of actions; bit i is actionOrder[i].
type actionSet uint8

func (a Action) bit() actionSet {
	for i, x := range actionOrder {
		if x == a {
			return 1 << i
		}
	}
	return 0
}

func (s actionSet) list() []Action {
	var out []Action
	for i, a := range actionOrder {
		if s&(1<<i) != 0 {
			out = append(out, a)
		}
	}
	return out
}

// Job is what the policy needs to know about an agent job.
type Job struct {
	UID       string
	Name      string
	Server    string   // backup server name, e.g. "vbr-berlin.corp.example"
	Platform  string   // "AgentForWindows" or "AgentForLinux"
	Kind      string   // "job" (managed by the backup server) or "policy" (agent policy)
	Computers []string // computers the job protects
}

// Subject is the signed-in user as the policy sees them.
type Subject struct {
	Key    string // issuer|subject, for logs only
	Groups []string
	Claims map[string]string // string claims copied from the ID token / userinfo
}

//go:embed example.yaml
var example []byte

// Default returns the example policy shipped with AgentDesk (used by the demo).
func Default() []byte { return slices.Clone(example) }

// Policy is a parsed, validated policy file.
type Policy struct {
	groupsClaim    string
	roles          []role // declaration order
	bindings       []binding
	computerClaims []string
	hostnameMatch  bool
	editableClaims []string // self_service.user_editable_claims
	warnings       []string
}

type role struct {
	name      string
	actions   actionSet
	selectors []selector // empty: every job
	audit     bool       // may read the audit log (of every job and user)
}

type selector struct {
	servers      []string // lower case
	names        []glob
	platforms    []string // EM platform names
	kinds        []string
	ownComputers bool
}

type binding struct {
	group     string
	claim     string
	present   bool
	equals    string
	hasEquals bool
	roles     []int // indexes into Policy.roles
}

// GroupsClaim is the claim that holds the user's groups; the sign-in side
// reads groups from it.
func (p *Policy) GroupsClaim() string { return p.groupsClaim }

// Claims lists the non-group claims the policy looks at (binding claims and
// self-service computer claims). The sign-in side must copy them into
// Subject.Claims or bindings on them never match.
func (p *Policy) Claims() []string {
	var out []string
	add := func(c string) {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, b := range p.bindings {
		add(b.claim)
	}
	for _, c := range p.computerClaims {
		add(c)
	}
	return out
}

// RoleNames lists the roles the policy defines, in file order.
func (p *Policy) RoleNames() []string {
	out := make([]string, len(p.roles))
	for i, r := range p.roles {
		out[i] = r.name
	}
	return out
}

func (b *binding) matches(s Subject) bool {
	if b.group != "" {
		return slices.Contains(s.Groups, b.group)
	}
	v, ok := s.Claims[b.claim]
	if b.hasEquals {
		return ok && v == b.equals
	}
	return ok && strings.TrimSpace(v) != ""
}

func (b *binding) reason() string {
	switch {
	case b.group != "":
		return "you are in " + b.group
	case b.hasEquals:
		return fmt.Sprintf("your %s claim is %q", b.claim, b.equals)
	default:
		return fmt.Sprintf("you have a %s claim", b.claim)
	}
}

// Roles returns the names of the roles s holds, in file order.
func (p *Policy) Roles(s Subject) []string {
	if p == nil {
		return nil
	}
	held := make([]bool, len(p.roles))
	for i := range p.bindings {
		if p.bindings[i].matches(s) {
			for _, r := range p.bindings[i].roles {
				held[r] = true
			}
		}
	}
	var out []string
	for i, h := range held {
		if h {
			out = append(out, p.roles[i].name)
		}
	}
	return out
}

// For compiles what s may do. The Grant does not change when the policy is
// reloaded: callers compute a new one per request from the current Policy.
func (p *Policy) For(s Subject) *Grant {
	g := &Grant{}
	if p == nil {
		return g
	}
	g.hostname = p.hostnameMatch
	g.computers = p.userComputers(s)

	held := make([]bool, len(p.roles))
	for i := range p.bindings {
		b := &p.bindings[i]
		if !b.matches(s) {
			continue
		}
		for _, ri := range b.roles {
			if held[ri] {
				continue // the first binding that granted a role gives the reason
			}
			held[ri] = true
			r := &p.roles[ri]
			g.roles = append(g.roles, r.name)
			g.audit = g.audit || r.audit
			if r.actions == 0 {
				continue // an audit-only role
			}
			e := entry{actions: r.actions, role: r.name, reason: b.reason()}
			if len(r.selectors) == 0 {
				e.all = true
				g.all |= r.actions
			} else {
				for _, sel := range r.selectors {
					if sel.ownComputers && len(g.computers) == 0 {
						continue // can never match for this user
					}
					e.selectors = append(e.selectors, sel)
				}
				if len(e.selectors) == 0 {
					continue
				}
			}
			g.any |= r.actions
			g.entries = append(g.entries, e)
		}
	}
	// Report roles in file order, whatever the binding order.
	slices.SortStableFunc(g.roles, func(a, b string) int {
		return slices.IndexFunc(p.roles, func(r role) bool { return r.name == a }) -
			slices.IndexFunc(p.roles, func(r role) bool { return r.name == b })
	})
	return g
}

// userComputers collects the user's computers from the self-service claims.
// A claim may hold several names separated by commas or spaces.
func (p *Policy) userComputers(s Subject) []computer {
	var out []computer
	for _, c := range p.computerClaims {
		for _, f := range strings.FieldsFunc(s.Claims[c], func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == ';'
		}) {
			full := strings.ToLower(strings.TrimSuffix(f, "."))
			if full == "" || slices.ContainsFunc(out, func(x computer) bool { return x.full == full }) {
				continue
			}
			out = append(out, newComputer(full))
		}
	}
	return out
}

type computer struct {
	full  string // lower case, no trailing dot
	short string // first label; "" for IP addresses
	bare  bool   // full has no domain part
}

func newComputer(full string) computer {
	c := computer{full: full}
	if isIP(full) {
		return c
	}
	c.short, _, _ = strings.Cut(full, ".")
	c.bare = c.short == full
	return c
}

// Grant is what one user may do. It is read-only and safe for concurrent use.
// A nil *Grant denies everything.
type Grant struct {
	roles     []string
	entries   []entry
	all       actionSet // actions granted on every job
	any       actionSet // actions granted on at least some jobs
	computers []computer
	hostname  bool
	audit     bool
}

type entry struct {
	actions   actionSet
	all       bool
	selectors []selector
	role      string
	reason    string // why the role applies: the binding's group or claim
}

// Roles returns the user's role names in policy file order.
func (g *Grant) Roles() []string {
	if g == nil {
		return nil
	}
	return slices.Clone(g.roles)
}

// CanAudit reports whether the user may read the audit log. It is not
// limited to jobs: whoever audits sees every entry.
func (g *Grant) CanAudit() bool { return g != nil && g.audit }

// Can reports whether the user may perform a on j.
func (g *Grant) Can(j Job, a Action) bool {
	if g == nil {
		return false
	}
	bit := a.bit()
	if bit == 0 {
		return false
	}
	if g.all&bit != 0 {
		return true
	}
	if g.any&bit == 0 {
		return false
	}
	for i := range g.entries {
		e := &g.entries[i]
		if e.actions&bit != 0 {
			if _, ok := g.match(e, &j); ok {
				return true
			}
		}
	}
	return false
}

// Visible reports whether the user may see j at all.
func (g *Grant) Visible(j Job) bool { return g.Can(j, View) }

// VisibilityKey names what Visible answers for this grant: two grants with
// the same key see the same jobs, whichever job is asked about, so a cache of
// what a user sees (the jobs list's, per snapshot) is shared by every user of
// the same roles rather than kept per user. It holds only what View depends
// on: the selectors of the roles granting View and, when one of them selects
// the user's own computers, those computers and the match mode. Two grants
// seeing the same jobs through differently written roles may still have
// different keys; that costs a cache entry, never a wrong answer.
func (g *Grant) VisibilityKey() string {
	view := View.bit()
	switch {
	case g == nil || g.any&view == 0:
		return "none"
	case g.all&view != 0:
		return "all"
	}
	// Every string is written with its length first, so no two different
	// grants write the same bytes.
	b := make([]byte, 0, 128)
	str := func(tag byte, s string) {
		b = append(b, tag)
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	own := false
	for i := range g.entries {
		e := &g.entries[i]
		if e.actions&view == 0 {
			continue
		}
		b = append(b, 'e')
		for j := range e.selectors {
			sel := &e.selectors[j]
			b = append(b, 's')
			for _, x := range sel.servers {
				str('v', x)
			}
			for k := range sel.names {
				str('n', sel.names[k].pattern)
			}
			for _, x := range sel.platforms {
				str('p', x)
			}
			for _, x := range sel.kinds {
				str('k', x)
			}
			if sel.ownComputers {
				b = append(b, 'o')
				own = true
			}
		}
	}
	if own {
		b = append(b, 'c')
		if g.hostname {
			b = append(b, 'h')
		}
		for _, c := range g.computers {
			str('c', c.full)
		}
	}
	return string(b)
}

// CanAny reports whether the user may perform a on at least some job, for
// deciding whether to show a control at all.
func (g *Grant) CanAny(a Action) bool {
	return g != nil && g.any&a.bit() != 0
}

// Actions returns what the user may do to j, in AllActions order.
func (g *Grant) Actions(j Job) []Action {
	if g == nil {
		return nil
	}
	set := g.all
	for i := range g.entries {
		e := &g.entries[i]
		if e.actions&^set == 0 {
			continue
		}
		if _, ok := g.match(e, &j); ok {
			set |= e.actions
		}
	}
	return set.list()
}

// Why explains, in words for the user, why they may perform a on j: "you are
// in helpdesk-berlin", "this job protects your computer
// erin-laptop.corp.example". It returns "" when the action is not allowed.
func (g *Grant) Why(j Job, a Action) string {
	if g == nil {
		return ""
	}
	bit := a.bit()
	for i := range g.entries {
		e := &g.entries[i]
		if e.actions&bit == 0 {
			continue
		}
		if pc, ok := g.match(e, &j); ok {
			if pc != "" {
				return "this job protects your computer " + pc
			}
			return e.reason
		}
	}
	return ""
}

// match reports whether e covers j. When the match rests on the user's own
// computer, it also returns the job's name for that computer.
func (g *Grant) match(e *entry, j *Job) (string, bool) {
	if e.all {
		return "", true
	}
	for i := range e.selectors {
		if pc, ok := g.matchSelector(&e.selectors[i], j); ok {
			return pc, true
		}
	}
	return "", false
}

func (g *Grant) matchSelector(s *selector, j *Job) (string, bool) {
	if len(s.servers) > 0 && !containsFold(s.servers, j.Server) {
		return "", false
	}
	if len(s.platforms) > 0 && !containsFold(s.platforms, j.Platform) {
		return "", false
	}
	if len(s.kinds) > 0 && !containsFold(s.kinds, j.Kind) {
		return "", false
	}
	if len(s.names) > 0 {
		ok := false
		for i := range s.names {
			if s.names[i].match(j.Name) {
				ok = true
				break
			}
		}
		if !ok {
			return "", false
		}
	}
	if s.ownComputers {
		for _, jc := range j.Computers {
			for i := range g.computers {
				if sameComputer(&g.computers[i], jc, g.hostname) {
					return jc, true
				}
			}
		}
		return "", false
	}
	return "", true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// sameComputer compares the user's computer u with a job's computer name.
// In hostname mode a bare host name on either side matches the first label of
// a fully qualified name on the other ("erin-laptop" ~ "erin-laptop.corp.example").
// IP addresses only ever match exactly.
func sameComputer(u *computer, jc string, hostname bool) bool {
	jc = strings.TrimSuffix(jc, ".")
	if strings.EqualFold(u.full, jc) {
		return true
	}
	if !hostname || u.short == "" {
		return false
	}
	if isIP(jc) {
		return false
	}
	jshort, _, found := strings.Cut(jc, ".")
	if u.bare {
		return found && strings.EqualFold(u.full, jshort)
	}
	return !found && strings.EqualFold(u.short, jc)
}

// isIP reports whether s is an IP address. It screens out host names before
// calling netip.ParseAddr, whose error for them would allocate.
func isIP(s string) bool {
	if !strings.ContainsRune(s, ':') {
		for i := 0; i < len(s); i++ {
			if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
				return false
			}
		}
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// Unrestricted is the grant of the break-glass local administrator: every action
// on every job, whatever the policy file says, because it exists for the day the
// identity provider (and so every group) is unavailable.
func Unrestricted(reason string) *Grant {
	var all actionSet
	for _, a := range AllActions() {
		all |= a.bit()
	}
	return &Grant{
		roles:   []string{"break-glass administrator"},
		entries: []entry{{actions: all, all: true, role: "break-glass administrator", reason: reason}},
		all:     all,
		any:     all,
		audit:   true,
	}
}

// Only grants the given actions on every job, and nothing else, to work
// AgentDesk does by itself on a person's earlier behalf (the timed re-enable
// of a schedule that person disabled for a while); reason says why.
func Only(reason string, actions ...Action) *Grant {
	var set actionSet
	for _, a := range actions {
		set |= a.bit()
	}
	return &Grant{
		roles:   []string{"AgentDesk"},
		entries: []entry{{actions: set, all: true, role: "AgentDesk", reason: reason}},
		all:     set,
		any:     set,
	}
}
