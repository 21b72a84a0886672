package policy

import (
	"strings"
	"testing"
)

func TestCanAudit(t *testing.T) {
	p, err := Parse([]byte(`
roles:
  admin:      { actions: [view, start], audit: true }
  helpdesk:   { actions: [view, start], jobs: { servers: [vbr-berlin] } }
  compliance: { audit: true }
  quiet:      { actions: [view], audit: false }
  mine:       { actions: [view], jobs: { own_computers: true }, audit: true }
bindings:
  - { group: admins,     roles: [admin] }
  - { group: helpdesk,   roles: [helpdesk] }
  - { group: compliance, roles: [compliance] }
  - { group: quiet,      roles: [quiet] }
  - { group: mine,       roles: [mine] }
self_service: { computer_claims: [computer] }
`))
	if err != nil {
		t.Fatal(err)
	}
	job := Job{Name: "j", Server: "vbr-berlin"}
	tests := []struct {
		groups    []string
		audit     bool
		view      bool
		wantRoles string
	}{
		{[]string{"admins"}, true, true, "admin"},
		{[]string{"helpdesk"}, false, true, "helpdesk"},
		{[]string{"compliance"}, true, false, "compliance"},
		{[]string{"quiet"}, false, true, "quiet"},
		// The audit permission does not depend on jobs: a role whose selector
		// can never match this user (no computer claim) still grants it.
		{[]string{"mine"}, true, false, "mine"},
		{[]string{"helpdesk", "compliance"}, true, true, "helpdesk,compliance"},
		{nil, false, false, ""},
	}
	for _, tt := range tests {
		g := p.For(Subject{Groups: tt.groups})
		if g.CanAudit() != tt.audit || g.Can(job, View) != tt.view || strings.Join(g.Roles(), ",") != tt.wantRoles {
			t.Errorf("groups %v: CanAudit=%v view=%v roles=%v; want %v %v %q", tt.groups, g.CanAudit(), g.Can(job, View), g.Roles(), tt.audit, tt.view, tt.wantRoles)
		}
	}
	var none *Grant
	if none.CanAudit() {
		t.Error("a nil grant may audit")
	}
	if !Unrestricted("break glass").CanAudit() {
		t.Error("the break-glass administrator cannot audit")
	}
}

func TestAuditParseErrors(t *testing.T) {
	const b = "bindings: [ { group: g, roles: [r] } ]\n"
	tests := []struct{ src, want string }{
		{"roles:\n  r: { actions: [view], audit: yes }\n" + b, `role "r": audit: want true or false, got "yes"`},
		{"roles:\n  r: { audit: true, jobs: { servers: [a] } }\n" + b, `role "r": jobs without actions`},
		{"roles:\n  r: { audit: false }\n" + b, `role "r": actions missing`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", tt.src, err, tt.want)
		}
	}
}

func TestExamplePolicyAuditors(t *testing.T) {
	p, err := Parse(Default())
	if err != nil {
		t.Fatal(err)
	}
	for group, want := range map[string]bool{"agentdesk-admins": true, "auditors": true, "helpdesk-berlin": false} {
		if got := p.For(Subject{Groups: []string{group}}).CanAudit(); got != want {
			t.Errorf("example policy: %s CanAudit = %v, want %v", group, got, want)
		}
	}
	if p.For(Subject{Claims: map[string]string{"computer": "erin-laptop"}}).CanAudit() {
		t.Error("example policy: an end user may audit")
	}
}
