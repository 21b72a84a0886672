package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxSize is the largest policy file Parse accepts.
const MaxSize = 1 << 20

// Error is one problem in a policy file.
type Error struct {
	File string // base name of the file, when known
	Line int    // 1-based; 0 when unknown
	Msg  string // e.g. `role "helpdesk": unknown action "restart" (want view, start, ...)`
}

func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// ParseFile reads and parses the policy file at path. Errors name the file.
func ParseFile(path string) (*Policy, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, withFile(err, filepath.Base(path))
	}
	return p, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	return data, nil
}

func withFile(err error, file string) error {
	var list interface{ Unwrap() []error }
	if errors.As(err, &list) {
		errs := list.Unwrap()
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = withFile(e, file)
		}
		return errors.Join(out...)
	}
	var pe *Error
	if errors.As(err, &pe) {
		c := *pe
		c.File = file
		return &c
	}
	return err
}

// Parse parses and validates a policy (YAML; JSON works too, being YAML).
// Unknown fields, unknown actions or roles, malformed globs and empty lists
// are errors: in an access policy a typo must not silently widen or narrow
// access. The error is an *Error, or several joined with errors.Join.
func Parse(data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, &Error{Msg: fmt.Sprintf("file is larger than %d bytes", MaxSize)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		// An empty file is more likely a half-written one than a wish to
		// lock everybody out: refuse it, so a reload keeps the old policy.
		return nil, &Error{Msg: "policy is empty"}
	}
	doc, err := decodeNode(data)
	if err != nil {
		return nil, err
	}
	p := &parser{}
	pol := p.policy(doc)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	pol.warnings = editableClaimWarnings(pol)
	return pol, nil
}

// decodeNode decodes exactly one YAML document. The document is walked by
// hand rather than decoded into structs: yaml's KnownFields does not reach
// into custom unmarshalers (needed for `jobs`, a map or a list), and its
// messages name Go types instead of policy fields.
func decodeNode(data []byte) (doc *yaml.Node, err error) {
	defer func() {
		// The YAML library is not ours; a panic in it must not take a
		// reloading server down.
		if r := recover(); r != nil {
			doc, err = nil, &Error{Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Msg: "policy is empty"}
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, &Error{Line: extra.Line, Msg: "more than one YAML document"}
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) != 1 {
			return nil, &Error{Msg: "policy is empty"}
		}
		return n.Content[0], nil
	}
	return &n, nil
}

// yamlError turns "yaml: line 3: did not find expected key" into an *Error
// with a line number.
func yamlError(err error) error {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "yaml: line ")
	if ok {
		num, text, ok := strings.Cut(rest, ": ")
		if n, err := strconv.Atoi(num); ok && err == nil {
			return &Error{Line: n, Msg: "invalid YAML: " + text}
		}
	}
	return &Error{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type parser struct {
	errs []error
}

const maxErrors = 20

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	if len(p.errs) == maxErrors {
		p.errs = append(p.errs, &Error{Msg: "too many errors"})
	}
	if len(p.errs) > maxErrors {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{Line: line, Msg: fmt.Sprintf(format, args...)})
}

type field struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// mapping checks that n is a mapping with only the allowed keys, each at
// most once, and returns its fields in file order.
func (p *parser) mapping(n *yaml.Node, what string, allowed ...string) ([]field, bool) {
	if !p.plain(n, what) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping, got %s", what, describe(n))
		return nil, false
	}
	var out []field
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, "%s: keys must be plain names", what)
			ok = false
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			p.errorf(k, "%s: unknown field %q (want %s)", what, k.Value, strings.Join(allowed, ", "))
			ok = false
			continue
		}
		if slices.ContainsFunc(out, func(f field) bool { return f.key == k.Value }) {
			p.errorf(k, "%s: %s given twice", what, k.Value)
			ok = false
			continue
		}
		out = append(out, field{key: k.Value, keyN: k, value: v})
	}
	return out, ok
}

// plain rejects aliases: they would let a small file expand into a huge one,
// and a policy has no need for them.
func (p *parser) plain(n *yaml.Node, what string) bool {
	if n.Kind == yaml.AliasNode {
		p.errorf(n, "%s: YAML aliases are not supported", what)
		return false
	}
	return true
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if !p.plain(n, what) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!bool" || n.Tag == "!!binary" {
		p.errorf(n, "%s: want a string, got %s", what, describe(n))
		return "", false
	}
	v := strings.TrimSpace(n.Value)
	if v == "" {
		p.errorf(n, "%s: must not be empty", what)
		return "", false
	}
	return v, true
}

func (p *parser) strList(n *yaml.Node, what string) ([]string, bool) {
	if !p.plain(n, what) {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: want a list, got %s", what, describe(n))
		return nil, false
	}
	if len(n.Content) == 0 {
		p.errorf(n, "%s: list is empty", what)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		s, good := p.str(c, what)
		if !good {
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

func (p *parser) boolean(n *yaml.Node, what string) (bool, bool) {
	if !p.plain(n, what) {
		return false, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errorf(n, "%s: want true or false, got %s", what, describe(n))
		return false, false
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		p.errorf(n, "%s: want true or false, got %s", what, describe(n))
		return false, false
	}
	return b, true
}

var actionNames = func() string {
	s := make([]string, len(actionOrder))
	for i, a := range actionOrder {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}()

var platformNames = map[string]string{"windows": "AgentForWindows", "linux": "AgentForLinux"}

func (p *parser) policy(n *yaml.Node) *Policy {
	pol := &Policy{groupsClaim: "groups"}
	fields, _ := p.mapping(n, "policy", "groups_claim", "roles", "bindings", "self_service")
	var rolesN, bindingsN, selfN *yaml.Node
	for _, f := range fields {
		switch f.key {
		case "groups_claim":
			if s, ok := p.str(f.value, "groups_claim"); ok {
				pol.groupsClaim = s
			}
		case "roles":
			rolesN = f.value
		case "bindings":
			bindingsN = f.value
		case "self_service":
			selfN = f.value
		}
	}
	// self_service first: roles need to know whether own_computers can work.
	if selfN != nil {
		p.selfService(selfN, pol)
	}
	if rolesN == nil {
		p.errorf(n, "policy: roles missing (a policy without roles grants nothing; say what admins may do)")
	} else {
		p.roles(rolesN, pol)
	}
	if bindingsN == nil {
		p.errorf(n, "policy: bindings missing (without bindings nobody has a role)")
	} else {
		p.bindings(bindingsN, pol)
	}
	return pol
}

func (p *parser) selfService(n *yaml.Node, pol *Policy) {
	fields, _ := p.mapping(n, "self_service", "computer_claims", "match", "user_editable_claims")
	pol.computerClaims = nil
	seenClaims := false
	for _, f := range fields {
		switch f.key {
		case "computer_claims":
			seenClaims = true
			if l, ok := p.strList(f.value, "self_service: computer_claims"); ok {
				pol.computerClaims = l
			}
		case "user_editable_claims":
			if l, ok := p.strList(f.value, "self_service: user_editable_claims"); ok {
				pol.editableClaims = l
			}
		case "match":
			s, ok := p.str(f.value, "self_service: match")
			if !ok {
				continue
			}
			switch s {
			case "exact":
				pol.hostnameMatch = false
			case "hostname":
				pol.hostnameMatch = true
			default:
				p.errorf(f.value, "self_service: unknown match %q (want exact, hostname)", s)
			}
		}
	}
	if !seenClaims {
		p.errorf(n, "self_service: computer_claims missing")
	}
}

func (p *parser) roles(n *yaml.Node, pol *Policy) {
	if !p.plain(n, "roles") {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "roles: want a mapping of role names, got %s", describe(n))
		return
	}
	if len(n.Content) == 0 {
		p.errorf(n, "roles: no roles defined")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := p.str(k, "roles: role name")
		if !ok {
			continue
		}
		if slices.ContainsFunc(pol.roles, func(r role) bool { return r.name == name }) {
			p.errorf(k, "role %q defined twice", name)
			continue
		}
		r := p.role(v, name, pol)
		pol.roles = append(pol.roles, r)
	}
}

func (p *parser) role(n *yaml.Node, name string, pol *Policy) role {
	what := fmt.Sprintf("role %q", name)
	r := role{name: name}
	fields, _ := p.mapping(n, what, "actions", "jobs", "audit")
	hasActions, hasJobs := false, false
	for _, f := range fields {
		switch f.key {
		case "actions":
			hasActions = true
			r.actions = p.actions(f.value, what)
		case "jobs":
			hasJobs = true
			r.selectors = p.jobs(f.value, what, pol)
		case "audit":
			r.audit, _ = p.boolean(f.value, what+": audit")
		}
	}
	switch {
	case !hasActions && r.audit && hasJobs:
		// The audit log is not limited to jobs; a selector here would suggest it is.
		p.errorf(n, "%s: jobs without actions (the audit permission covers every job)", what)
	case !hasActions && !r.audit && n.Kind == yaml.MappingNode:
		p.errorf(n, "%s: actions missing (want some of %s, or audit: true)", what, actionNames)
	}
	return r
}

func (p *parser) actions(n *yaml.Node, what string) actionSet {
	what += ": actions"
	if !p.plain(n, what) {
		return 0
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n, "%s: want a list of some of %s, got %s", what, actionNames, describe(n))
		return 0
	}
	var set actionSet
	var list []string
	for _, c := range n.Content {
		s, ok := p.str(c, what)
		if !ok {
			continue
		}
		a, ok := ParseAction(s)
		if !ok {
			p.errorf(c, "%s: unknown action %q (want %s)", strings.TrimSuffix(what, ": actions"), s, actionNames)
			continue
		}
		if set&a.bit() != 0 {
			p.errorf(c, "%s: %q listed twice", what, s)
		}
		set |= a.bit()
		list = append(list, s)
	}
	if set != 0 && set&View.bit() == 0 {
		// Acting on a job one cannot see makes no sense in the portal, and
		// an implicit view would be a surprise: ask for it explicitly.
		p.errorf(n, "%s: [%s] lacks view (a role that may act on a job must also see it)", what, strings.Join(list, ", "))
	}
	return set
}

// jobs reads one selector (a mapping) or a list of them (any may match).
func (p *parser) jobs(n *yaml.Node, what string, pol *Policy) []selector {
	what += ": jobs"
	if !p.plain(n, what) {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		s, ok := p.selector(n, what, pol)
		if !ok {
			return nil
		}
		return []selector{s}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			p.errorf(n, "%s: list is empty (omit jobs to select every job)", what)
			return nil
		}
		var out []selector
		for i, c := range n.Content {
			s, ok := p.selector(c, fmt.Sprintf("%s[%d]", what, i), pol)
			if ok {
				out = append(out, s)
			}
		}
		return out
	}
	p.errorf(n, "%s: want a selector or a list of selectors, got %s (omit jobs to select every job)", what, describe(n))
	return nil
}

func (p *parser) selector(n *yaml.Node, what string, pol *Policy) (selector, bool) {
	var s selector
	fields, ok := p.mapping(n, what, "servers", "names", "platforms", "kinds", "own_computers")
	if !ok {
		return s, false
	}
	if len(fields) == 0 {
		p.errorf(n, "%s: selector is empty (omit jobs to select every job)", what)
		return s, false
	}
	for _, f := range fields {
		fw := what + ": " + f.key
		switch f.key {
		case "servers":
			l, good := p.strList(f.value, fw)
			ok = ok && good
			for _, v := range l {
				s.servers = append(s.servers, strings.ToLower(v))
			}
		case "names":
			l, good := p.strList(f.value, fw)
			ok = ok && good
			for i, v := range l {
				g, err := compileGlob(v)
				if err != nil {
					p.errorf(f.value.Content[i], "%s: bad pattern %q: %v", fw, v, err)
					ok = false
					continue
				}
				s.names = append(s.names, g)
			}
		case "platforms":
			l, good := p.strList(f.value, fw)
			ok = ok && good
			for i, v := range l {
				em, known := platformNames[strings.ToLower(v)]
				if !known {
					p.errorf(f.value.Content[i], "%s: unknown platform %q (want windows, linux)", fw, v)
					ok = false
					continue
				}
				s.platforms = append(s.platforms, em)
			}
		case "kinds":
			l, good := p.strList(f.value, fw)
			ok = ok && good
			for i, v := range l {
				v = strings.ToLower(v)
				if v != "job" && v != "policy" {
					p.errorf(f.value.Content[i], "%s: unknown kind %q (want job, policy)", fw, v)
					ok = false
					continue
				}
				s.kinds = append(s.kinds, v)
			}
		case "own_computers":
			b, good := p.boolean(f.value, fw)
			if !good {
				ok = false
				continue
			}
			if !b {
				p.errorf(f.value, "%s: only true is meaningful; omit the field instead", fw)
				ok = false
				continue
			}
			if len(pol.computerClaims) == 0 {
				p.errorf(f.value, "%s: needs self_service.computer_claims to know the user's computers", fw)
				ok = false
				continue
			}
			s.ownComputers = true
		}
	}
	return s, ok
}

func (p *parser) bindings(n *yaml.Node, pol *Policy) {
	if !p.plain(n, "bindings") {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "bindings: want a list, got %s", describe(n))
		return
	}
	for i, c := range n.Content {
		what := fmt.Sprintf("bindings[%d]", i)
		fields, ok := p.mapping(c, what, "group", "claim", "roles")
		if !ok {
			continue
		}
		var b binding
		var rolesN *yaml.Node
		hasWho := false
		for _, f := range fields {
			switch f.key {
			case "group":
				if hasWho {
					p.errorf(f.keyN, "%s: give either group or claim, not both", what)
					continue
				}
				hasWho = true
				if s, ok := p.str(f.value, what+": group"); ok {
					b.group = s
					what = fmt.Sprintf("bindings[%d] (group %s)", i, s)
				}
			case "claim":
				if hasWho {
					p.errorf(f.keyN, "%s: give either group or claim, not both", what)
					continue
				}
				hasWho = true
				p.claimMatch(f.value, what+": claim", &b)
				if b.claim != "" {
					what = fmt.Sprintf("bindings[%d] (claim %s)", i, b.claim)
				}
			case "roles":
				rolesN = f.value
			}
		}
		if !hasWho {
			p.errorf(c, "%s: group or claim missing", what)
		}
		if rolesN == nil {
			p.errorf(c, "%s: roles missing", what)
			continue
		}
		names, _ := p.strList(rolesN, what+": roles")
		for j, name := range names {
			ri := slices.IndexFunc(pol.roles, func(r role) bool { return r.name == name })
			if ri < 0 {
				p.errorf(rolesN.Content[j], "%s: unknown role %q (want %s)", what, name, strings.Join(pol.RoleNames(), ", "))
				continue
			}
			if !slices.Contains(b.roles, ri) {
				b.roles = append(b.roles, ri)
			}
		}
		pol.bindings = append(pol.bindings, b)
	}
}

func (p *parser) claimMatch(n *yaml.Node, what string, b *binding) {
	fields, ok := p.mapping(n, what, "name", "present", "equals")
	if !ok {
		return
	}
	var name string
	var hasPresent bool
	for _, f := range fields {
		switch f.key {
		case "name":
			name, _ = p.str(f.value, what+": name")
		case "present":
			v, good := p.boolean(f.value, what+": present")
			if !good {
				continue
			}
			if !v {
				// Granting a role for a missing claim would grant it to
				// anyone whose IdP forgot to send the claim.
				p.errorf(f.value, "%s: present: false is not supported (roles are granted for what a user has)", what)
				continue
			}
			hasPresent = true
		case "equals":
			if f.value.Kind != yaml.ScalarNode || f.value.Tag == "!!null" {
				p.errorf(f.value, "%s: equals: want a string, got %s", what, describe(f.value))
				continue
			}
			b.equals, b.hasEquals = f.value.Value, true
		}
	}
	if name == "" {
		p.errorf(n, "%s: name missing", what)
		return
	}
	if hasPresent == b.hasEquals {
		p.errorf(n, "%s: give exactly one of present: true or equals: VALUE", what)
		return
	}
	b.claim = name
	b.present = hasPresent
}
