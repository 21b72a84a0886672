package policy

import "testing"

func TestSelfServiceOnly(t *testing.T) {
	p := mustParse(t, string(Default()))
	subjects := demoSubjects()
	// alice also has a computer claim: an administrator who owns a laptop is
	// still staff.
	aliceLaptop := subjects["alice"]
	aliceLaptop.Claims = map[string]string{"computer": "alice-laptop"}
	subjects["alice+laptop"] = aliceLaptop
	tests := []struct {
		user string
		want bool
	}{
		{"alice", false},
		{"alice+laptop", false},
		{"harry", false},
		{"audrey", false}, // reads the audit log: staff
		{"erin", true},
		{"nobody", false}, // sees nothing at all
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			if got := p.For(subjects[tt.user]).SelfServiceOnly(); got != tt.want {
				t.Errorf("SelfServiceOnly = %v, want %v", got, tt.want)
			}
		})
	}
	if (*Grant)(nil).SelfServiceOnly() {
		t.Error("nil grant is self-service")
	}

	// A role that mixes own computers with another selector makes the user staff.
	mixed := mustParse(t, `
roles:
  mixed: { actions: [view], jobs: [ { own_computers: true }, { servers: [vbr-berlin.corp.example] } ] }
  own:   { actions: [view, start], jobs: { own_computers: true, platforms: [windows] } }
bindings:
  - { group: g1, roles: [mixed] }
  - { group: g2, roles: [own] }
self_service: { computer_claims: [computer] }
`)
	claims := map[string]string{"computer": "erin-laptop.corp.example"}
	if mixed.For(Subject{Groups: []string{"g1"}, Claims: claims}).SelfServiceOnly() {
		t.Error("own computers plus a server selector counted as self-service only")
	}
	if !mixed.For(Subject{Groups: []string{"g2"}, Claims: claims}).SelfServiceOnly() {
		t.Error("own computers narrowed by platform is still self-service only")
	}
	// Without the claim the own_computers role can never match: not an end user.
	if mixed.For(Subject{Groups: []string{"g2"}}).SelfServiceOnly() {
		t.Error("self-service without any computer claim")
	}
}

func TestOwns(t *testing.T) {
	p := mustParse(t, string(Default()))
	s := demoSubjects()
	erin := p.For(s["erin"])
	if !erin.Owns(erinsJob) {
		t.Error("erin does not own her laptop's job")
	}
	if erin.Owns(berlinWin) {
		t.Error("erin owns a file server job")
	}
	// Hostname matching: the claim "erin-laptop" owns erin-laptop.corp.example.
	short := p.For(Subject{Claims: map[string]string{"computer": "ERIN-LAPTOP"}})
	if !short.Owns(erinsJob) {
		t.Error("bare host name in the claim does not match the FQDN in hostname mode")
	}
	// Owning is not a permission: alice owns nothing, yet may do everything.
	if p.For(s["alice"]).Owns(erinsJob) {
		t.Error("alice owns erin's laptop")
	}
	if (*Grant)(nil).Owns(erinsJob) {
		t.Error("nil grant owns a job")
	}
}
