package policy

import (
	"fmt"
	"testing"
)

// TestVisibilityKey: grants with equal keys see exactly the same jobs (so a
// cache keyed by it never shows one user another's jobs), across policies that
// select by server, name, platform, kind and own computers in both match
// modes, and users of the same roles share a key (so the cache is shared at
// all).
func TestVisibilityKey(t *testing.T) {
	policies := map[string]string{
		"example": string(Default()),
		"selectors": `
roles:
  berlin:  { actions: [view, start], jobs: { servers: [vbr-berlin.corp.example] } }
  munich:  { actions: [view], jobs: { servers: [vbr-munich.corp.example] } }
  sql:     { actions: [view], jobs: [ { names: ["sql*", "*db*"] }, { platforms: [linux], kinds: [policy] } ] }
  winjobs: { actions: [view, stop], jobs: { platforms: [windows], kinds: [job] } }
  mine:    { actions: [view, start], jobs: { own_computers: true } }
  auditor: { audit: true }
bindings:
  - { group: berlin, roles: [berlin] }
  - { group: munich, roles: [munich] }
  - { group: dba, roles: [sql] }
  - { group: win, roles: [winjobs] }
  - { group: audit, roles: [auditor] }
  - { claim: { name: computer, present: true }, roles: [mine] }
self_service: { computer_claims: [computer], match: hostname }
`,
		"exact": `
roles:
  mine: { actions: [view, start], jobs: { own_computers: true } }
bindings:
  - { claim: { name: computer, present: true }, roles: [mine] }
self_service: { computer_claims: [computer], match: exact }
`,
	}
	groups := [][]string{nil, {"agentdesk-admins"}, {"helpdesk-berlin"}, {"auditors"}, {"employees"},
		{"berlin"}, {"munich"}, {"berlin", "munich"}, {"munich", "berlin"}, {"dba"}, {"win"}, {"dba", "win"}, {"audit"}, {"audit", "berlin"}}
	computers := []string{"", "erin-laptop", "erin-laptop.corp.example", "fs01.corp.example", "db01", "10.0.0.7", "fs01.corp.example,db01"}

	servers := []string{"vbr-berlin.corp.example", "VBR-Munich.corp.example", "vbr-paris.corp.example"}
	names := []string{"SQL nightly", "Berlin DB", "Erin's laptop", "web", "[brackets]"}
	platforms := []string{"AgentForWindows", "AgentForLinux"}
	kinds := []string{"", "job", "policy"}
	jobComputers := [][]string{nil, {"erin-laptop.corp.example"}, {"ERIN-LAPTOP"}, {"fs01"}, {"db01.corp.example", "10.0.0.7"}}
	var jobs []Job
	for i := 0; i < 600; i++ {
		jobs = append(jobs, Job{UID: fmt.Sprint(i), Name: names[i%len(names)], Server: servers[i/5%len(servers)],
			Platform: platforms[i/15%2], Kind: kinds[i/30%3], Computers: jobComputers[i/90%len(jobComputers)]})
	}

	seen := map[string][]bool{} // key -> what that key's first grant sees
	from := map[string]string{}
	for pname, src := range policies {
		p := mustParse(t, src)
		for _, gs := range groups {
			for _, pc := range computers {
				for _, who := range []string{"a", "b"} { // two users alike
					s := Subject{Key: "i|" + who, Groups: gs, Claims: map[string]string{"preferred_username": who}}
					if pc != "" {
						s.Claims["computer"] = pc
					}
					g := p.For(s)
					key := g.VisibilityKey()
					vis := make([]bool, len(jobs))
					for i, j := range jobs {
						vis[i] = g.Visible(j)
					}
					desc := fmt.Sprintf("policy %s, groups %v, computer %q, user %s", pname, gs, pc, who)
					if first, ok := seen[key]; ok {
						for i := range jobs {
							if vis[i] != first[i] {
								t.Fatalf("key %q: %s sees job %+v: %v, but %s: %v", key, desc, jobs[i], vis[i], from[key], first[i])
							}
						}
						continue
					}
					seen[key], from[key] = vis, desc
				}
			}
		}
	}
	// Users of the same roles share a key, whoever they are.
	p := mustParse(t, policies["selectors"])
	alike := func(name string) string {
		return p.For(Subject{Key: "i|" + name, Groups: []string{"berlin", "dba"}, Claims: map[string]string{"preferred_username": name}}).VisibilityKey()
	}
	if a, b := alike("ann"), alike("bob"); a != b {
		t.Errorf("two users of the same roles: keys %q and %q", a, b)
	}
	for _, tc := range []struct {
		name string
		g    *Grant
		want string
	}{
		{"nil", nil, "none"},
		{"no role", p.For(Subject{}), "none"},
		{"audit only", p.For(Subject{Groups: []string{"audit"}}), "none"},
		{"break glass", Unrestricted("test"), "all"},
		{"admin", mustParse(t, string(Default())).For(Subject{Groups: []string{"agentdesk-admins"}}), "all"},
	} {
		if got := tc.g.VisibilityKey(); got != tc.want {
			t.Errorf("%s: key %q, want %q", tc.name, got, tc.want)
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct keys: the test does not tell grants apart", len(seen))
	}
}
