package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	const okBindings = "bindings: [ { group: g, roles: [r] } ]\n"
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error
	}{
		{"unknown action", "roles:\n  helpdesk: { actions: [view, restart] }\n" + "bindings: [ { group: g, roles: [helpdesk] } ]\n",
			[]string{`line 2: role "helpdesk": unknown action "restart" (want view, start, stop, retry, enable, disable)`}},
		{"unknown top-level field", "role:\n  r: { actions: [view] }\n" + okBindings,
			[]string{`line 1: policy: unknown field "role" (want groups_claim, roles, bindings, self_service)`}},
		{"unknown role field", "roles:\n  r: { actions: [view], job: { servers: [a] } }\n" + okBindings,
			[]string{`line 2: role "r": unknown field "job" (want actions, jobs, audit)`}},
		{"unknown selector field", "roles:\n  r:\n    actions: [view]\n    jobs: { server: [a] }\n" + okBindings,
			[]string{`line 4: role "r": jobs: unknown field "server" (want servers, names, platforms, kinds, own_computers)`}},
		{"unknown selector field in list", "roles:\n  r:\n    actions: [view]\n    jobs:\n      - { servers: [a] }\n      - { platform: [windows] }\n" + okBindings,
			[]string{`line 6: role "r": jobs[1]: unknown field "platform"`}},
		{"bad glob", "roles:\n  r: { actions: [view], jobs: { names: [\"ok*\", \"[abc\"] } }\n" + okBindings,
			[]string{`line 2: role "r": jobs: names: bad pattern "[abc": syntax error in pattern`}},
		{"bad glob escape", "roles:\n  r: { actions: [view], jobs: { names: ['x\\'] } }\n" + okBindings,
			[]string{`bad pattern "x\\"`}},
		{"unknown platform", "roles:\n  r: { actions: [view], jobs: { platforms: [macos] } }\n" + okBindings,
			[]string{`unknown platform "macos" (want windows, linux)`}},
		{"unknown kind", "roles:\n  r: { actions: [view], jobs: { kinds: [jobs] } }\n" + okBindings,
			[]string{`unknown kind "jobs" (want job, policy)`}},
		{"empty selector", "roles:\n  r: { actions: [view], jobs: {} }\n" + okBindings,
			[]string{`role "r": jobs: selector is empty`}},
		{"empty selector list", "roles:\n  r: { actions: [view], jobs: [] }\n" + okBindings,
			[]string{`role "r": jobs: list is empty`}},
		{"empty server list", "roles:\n  r: { actions: [view], jobs: { servers: [] } }\n" + okBindings,
			[]string{`role "r": jobs: servers: list is empty`}},
		{"own_computers false", "roles:\n  r: { actions: [view], jobs: { own_computers: false } }\n" + okBindings + "self_service: { computer_claims: [c] }\n",
			[]string{`own_computers: only true is meaningful`}},
		{"own_computers without self_service", "roles:\n  r: { actions: [view], jobs: { own_computers: true } }\n" + okBindings,
			[]string{`own_computers: needs self_service.computer_claims`}},
		{"own_computers not bool", "roles:\n  r: { actions: [view], jobs: { own_computers: yes } }\n" + okBindings + "self_service: { computer_claims: [c] }\n",
			[]string{`own_computers: want true or false, got "yes"`}},
		{"actions without view", "roles:\n  r: { actions: [start] }\n" + okBindings,
			[]string{`role "r": actions: [start] lacks view`}},
		{"actions missing", "roles:\n  r: { jobs: { kinds: [job] } }\n" + okBindings,
			[]string{`role "r": actions missing`}},
		{"empty actions", "roles:\n  r: { actions: [] }\n" + okBindings,
			[]string{`role "r": actions: want a list`}},
		{"duplicate action", "roles:\n  r: { actions: [view, view] }\n" + okBindings,
			[]string{`"view" listed twice`}},
		{"duplicate role", "roles:\n  r: { actions: [view] }\n  r: { actions: [view] }\n" + okBindings,
			[]string{`line 3: role "r" defined twice`}},
		{"duplicate key", "roles:\n  r: { actions: [view], actions: [view, start] }\n" + okBindings,
			[]string{`role "r": actions given twice`}},
		{"unknown role in binding", "roles:\n  r: { actions: [view] }\nbindings:\n  - { group: g, roles: [r, admin] }\n",
			[]string{`line 4: bindings[0] (group g): unknown role "admin" (want r)`}},
		{"binding without who", "roles:\n  r: { actions: [view] }\nbindings:\n  - { roles: [r] }\n",
			[]string{`bindings[0]: group or claim missing`}},
		{"binding with both", "roles:\n  r: { actions: [view] }\nbindings:\n  - { group: g, claim: { name: c, present: true }, roles: [r] }\n",
			[]string{`give either group or claim, not both`}},
		{"binding without roles", "roles:\n  r: { actions: [view] }\nbindings:\n  - { group: g }\n",
			[]string{`bindings[0] (group g): roles missing`}},
		{"binding unknown field", "roles:\n  r: { actions: [view] }\nbindings:\n  - { groups: g, roles: [r] }\n",
			[]string{`bindings[0]: unknown field "groups" (want group, claim, roles)`}},
		{"claim present false", "roles:\n  r: { actions: [view] }\nbindings:\n  - { claim: { name: c, present: false }, roles: [r] }\n",
			[]string{`present: false is not supported`}},
		{"claim without test", "roles:\n  r: { actions: [view] }\nbindings:\n  - { claim: { name: c }, roles: [r] }\n",
			[]string{`give exactly one of present: true or equals: VALUE`}},
		{"claim with both tests", "roles:\n  r: { actions: [view] }\nbindings:\n  - { claim: { name: c, present: true, equals: x }, roles: [r] }\n",
			[]string{`give exactly one of present: true or equals: VALUE`}},
		{"claim without name", "roles:\n  r: { actions: [view] }\nbindings:\n  - { claim: { present: true }, roles: [r] }\n",
			[]string{`claim: name missing`}},
		{"bad match", "roles:\n  r: { actions: [view] }\n" + okBindings + "self_service: { computer_claims: [c], match: fuzzy }\n",
			[]string{`self_service: unknown match "fuzzy" (want exact, hostname)`}},
		{"self_service without claims", "roles:\n  r: { actions: [view] }\n" + okBindings + "self_service: { match: exact }\n",
			[]string{`self_service: computer_claims missing`}},
		{"roles missing", okBindings, []string{`roles missing`}},
		{"bindings missing", "roles:\n  r: { actions: [view] }\n", []string{`bindings missing`}},
		{"roles not a mapping", "roles: [admin]\n" + okBindings, []string{`roles: want a mapping of role names, got a list`}},
		{"empty file", "", []string{"policy is empty"}},
		{"only a comment", "# nothing\n", []string{"policy is empty"}},
		{"not a mapping", "- a\n- b\n", []string{"policy: want a mapping, got a list"}},
		{"syntax error", "roles:\n  r: { actions: [view]\n" + okBindings, []string{"invalid YAML"}},
		{"two documents", "roles: { r: { actions: [view] } }\n" + okBindings + "---\nroles: {}\n", []string{"line 3: more than one YAML document"}},
		{"alias", "roles:\n  r: { actions: &a [view] }\n  s: { actions: *a }\n" + okBindings, []string{`role "s": actions: YAML aliases are not supported`}},
		{"group not a string", "roles:\n  r: { actions: [view] }\nbindings:\n  - { group: [a], roles: [r] }\n", []string{`bindings[0]: group: want a string, got a list`}},
		{"several errors reported", "roles:\n  r: { actions: [view, restart] }\n  s: { actions: [view], jobs: { kinds: [x] } }\n" + okBindings,
			[]string{`unknown action "restart"`, `unknown kind "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			if p != nil {
				t.Error("Parse returned a policy with an error")
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *policy.Error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", err, w)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct{ name, src string }{
		{"json", `{"roles": {"r": {"actions": ["view"], "jobs": [{"servers": ["a"]}]}}, "bindings": [{"group": "g", "roles": ["r"]}]}`},
		{"no bindings yet", "roles: { r: { actions: [view] } }\nbindings: []\n"},
		{"numeric group", "roles: { r: { actions: [view] } }\nbindings: [ { group: 1234, roles: [r] } ]\n"},
		{"all selector fields", `
roles:
  r:
    actions: [view, start, stop, retry, enable, disable]
    jobs:
      servers: [a, b]
      names: ["x*", "y?", "[a-z]*", "\\*literal"]
      platforms: [windows, linux]
      kinds: [job, policy]
      own_computers: true
bindings: [ { group: g, roles: [r] } ]
self_service: { computer_claims: [c], match: exact }
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.src)); err != nil {
				t.Fatal(err)
			}
		})
	}
	p := mustParse(t, "roles: { r: { actions: [view] } }\nbindings: [ { group: 1234, roles: [r] } ]\n")
	if !p.For(Subject{Groups: []string{"1234"}}).Visible(berlinWin) {
		t.Error("numeric group name not matched as a string")
	}
}

func TestParseFileNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	src := "roles:\n  helpdesk: { actions: [view, restart] }\nbindings: [ { group: g, roles: [helpdesk] } ]\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path)
	want := `policy.yaml:2: role "helpdesk": unknown action "restart" (want view, start, stop, retry, enable, disable)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant   %s", err, want)
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	big := make([]byte, MaxSize+1)
	for i := range big {
		big[i] = ' '
	}
	if _, err := Parse(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("err = %v", err)
	}
}
