package policy

import (
	"slices"
	"strings"
	"testing"
)

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return p
}

var (
	berlinWin = Job{UID: "1", Name: "Berlin File Servers", Server: "vbr-berlin.corp.example", Platform: "AgentForWindows", Kind: "job", Computers: []string{"fs01.corp.example", "fs02.corp.example"}}
	munichLin = Job{UID: "2", Name: "Munich DB (Linux)", Server: "vbr-munich.corp.example", Platform: "AgentForLinux", Kind: "policy", Computers: []string{"db01.munich.corp.example"}}
	erinsJob  = Job{UID: "3", Name: "Erin's laptop", Server: "vbr-munich.corp.example", Platform: "AgentForWindows", Kind: "job", Computers: []string{"erin-laptop.corp.example"}}
)

func demoSubjects() map[string]Subject {
	return map[string]Subject{
		"alice":  {Key: "i|alice", Groups: []string{"agentdesk-admins"}},
		"harry":  {Key: "i|harry", Groups: []string{"helpdesk-berlin"}},
		"audrey": {Key: "i|audrey", Groups: []string{"auditors"}},
		"erin":   {Key: "i|erin", Groups: []string{"employees"}, Claims: map[string]string{"computer": "erin-laptop.corp.example", "preferred_username": "erin"}},
		"nobody": {Key: "i|nobody", Groups: []string{"employees"}, Claims: map[string]string{"preferred_username": "nobody"}},
	}
}

func TestDefaultPolicy(t *testing.T) {
	p, err := Parse(Default())
	if err != nil {
		t.Fatalf("Default() does not parse: %v", err)
	}
	if got := p.GroupsClaim(); got != "groups" {
		t.Errorf("GroupsClaim = %q", got)
	}
	if got, want := p.Claims(), []string{"computer"}; !slices.Equal(got, want) {
		t.Errorf("Claims = %v, want %v", got, want)
	}
	subjects := demoSubjects()
	tests := []struct {
		user  string
		roles []string
		job   Job
		want  []Action
		why   string // for the first action, if any
	}{
		{"alice", []string{"admin"}, munichLin, []Action{View, Start, Stop, Retry, Enable, Disable}, "you are in agentdesk-admins"},
		{"harry", []string{"helpdesk"}, berlinWin, []Action{View, Start, Retry}, "you are in helpdesk-berlin"},
		{"harry", []string{"helpdesk"}, munichLin, nil, ""},
		{"audrey", []string{"auditor"}, erinsJob, []Action{View}, "you are in auditors"},
		{"erin", []string{"enduser"}, erinsJob, []Action{View, Start}, "this job protects your computer erin-laptop.corp.example"},
		{"erin", []string{"enduser"}, berlinWin, nil, ""},
		{"nobody", nil, berlinWin, nil, ""},
		{"nobody", nil, erinsJob, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.job.Name, func(t *testing.T) {
			s := subjects[tt.user]
			if got := p.Roles(s); !slices.Equal(got, tt.roles) {
				t.Errorf("Roles = %v, want %v", got, tt.roles)
			}
			g := p.For(s)
			if got := g.Roles(); !slices.Equal(got, tt.roles) {
				t.Errorf("Grant.Roles = %v, want %v", got, tt.roles)
			}
			if got := g.Actions(tt.job); !slices.Equal(got, tt.want) {
				t.Errorf("Actions = %v, want %v", got, tt.want)
			}
			for _, a := range AllActions() {
				want := slices.Contains(tt.want, a)
				if got := g.Can(tt.job, a); got != want {
					t.Errorf("Can(%s) = %v, want %v", a, got, want)
				}
				if why := g.Why(tt.job, a); (why != "") != want {
					t.Errorf("Why(%s) = %q, want non-empty = %v", a, why, want)
				}
			}
			if got := g.Visible(tt.job); got != (len(tt.want) > 0) {
				t.Errorf("Visible = %v", got)
			}
			if len(tt.want) > 0 {
				if got := g.Why(tt.job, tt.want[0]); got != tt.why {
					t.Errorf("Why = %q, want %q", got, tt.why)
				}
			}
		})
	}
}

func TestDenyByDefault(t *testing.T) {
	p := mustParse(t, `
roles:
  admin: { actions: [view, start, stop, retry, enable, disable] }
bindings:
  - { group: agentdesk-admins, roles: [admin] }
`)
	for name, s := range map[string]Subject{
		"no groups":      {},
		"other group":    {Groups: []string{"agentdesk-admin"}},
		"case differs":   {Groups: []string{"AgentDesk-Admins"}},
		"group as claim": {Claims: map[string]string{"groups": "agentdesk-admins"}},
	} {
		g := p.For(s)
		if g.Visible(berlinWin) || len(g.Actions(berlinWin)) != 0 || g.Why(berlinWin, View) != "" {
			t.Errorf("%s: job visible without a binding", name)
		}
		for _, a := range AllActions() {
			if g.CanAny(a) {
				t.Errorf("%s: CanAny(%s) = true", name, a)
			}
		}
		if r := p.Roles(s); len(r) != 0 {
			t.Errorf("%s: Roles = %v", name, r)
		}
	}
	var nilGrant *Grant
	if nilGrant.Can(berlinWin, View) || nilGrant.Actions(berlinWin) != nil || nilGrant.CanAny(View) {
		t.Error("nil Grant allows something")
	}
	var nilPolicy *Policy
	if nilPolicy.For(demoSubjects()["alice"]).Visible(berlinWin) {
		t.Error("nil Policy allows something")
	}
	if p.For(demoSubjects()["alice"]).Can(berlinWin, Action("restart")) {
		t.Error("unknown action allowed")
	}
}

// TestSelectors checks every selector field against matching and
// non-matching jobs.
func TestSelectors(t *testing.T) {
	tests := []struct {
		name  string
		jobs  string // the role's jobs: value
		claim string // the user's computer claim
		match Job
		miss  []Job
	}{
		{
			name:  "servers exact, case-insensitive",
			jobs:  `{ servers: ["VBR-Berlin.corp.example"] }`,
			match: berlinWin,
			miss:  []Job{munichLin, {Server: "vbr-berlin.corp.example.evil"}, {Server: "vbr-berlin"}},
		},
		{
			name:  "names glob",
			jobs:  `{ names: ["berlin *"] }`,
			match: berlinWin,
			miss:  []Job{munichLin, {Name: "xberlin files"}, {Name: "Berlin /sub"}},
		},
		{
			name:  "names literal",
			jobs:  `{ names: ["erin's LAPTOP"] }`,
			match: erinsJob,
			miss:  []Job{berlinWin, {Name: "Erin's laptop 2"}},
		},
		{
			name:  "names class and ?",
			jobs:  `{ names: ["munich d[a-c] (linu?)"] }`,
			match: munichLin,
			miss:  []Job{berlinWin, {Name: "Munich DD (Linux)"}},
		},
		{
			name:  "platforms windows",
			jobs:  `{ platforms: [windows] }`,
			match: berlinWin,
			miss:  []Job{munichLin, {Platform: "VMware"}},
		},
		{
			name:  "platforms linux",
			jobs:  `{ platforms: [Linux] }`,
			match: munichLin,
			miss:  []Job{berlinWin, erinsJob},
		},
		{
			name:  "kinds policy",
			jobs:  `{ kinds: [policy] }`,
			match: munichLin,
			miss:  []Job{berlinWin, erinsJob},
		},
		{
			name:  "kinds job",
			jobs:  `{ kinds: [job] }`,
			match: berlinWin,
			miss:  []Job{munichLin},
		},
		{
			name:  "own computers",
			jobs:  `{ own_computers: true }`,
			claim: "erin-laptop.corp.example",
			match: erinsJob,
			miss:  []Job{berlinWin, munichLin, {Computers: []string{"erin-laptop.corp.example.evil"}}, {Computers: []string{"erin-laptop"}}},
		},
		{
			name:  "all fields must match",
			jobs:  `{ servers: [vbr-berlin.corp.example], platforms: [windows], kinds: [job], names: ["*file*"] }`,
			match: berlinWin,
			miss: []Job{
				{Name: "Berlin File Servers", Server: "vbr-berlin.corp.example", Platform: "AgentForLinux", Kind: "job"},
				{Name: "Berlin File Servers", Server: "vbr-berlin.corp.example", Platform: "AgentForWindows", Kind: "policy"},
				{Name: "Berlin Mail", Server: "vbr-berlin.corp.example", Platform: "AgentForWindows", Kind: "job"},
				munichLin,
			},
		},
		{
			name:  "list of selectors: any matches",
			jobs:  `[ { servers: [nowhere] }, { kinds: [policy], platforms: [linux] } ]`,
			match: munichLin,
			miss:  []Job{berlinWin, erinsJob},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "roles:\n  r: { actions: [view, stop], jobs: " + tt.jobs + " }\n" +
				"bindings:\n  - { group: g, roles: [r] }\n" +
				"self_service: { computer_claims: [computer], match: exact }\n"
			p := mustParse(t, src)
			s := Subject{Groups: []string{"g"}, Claims: map[string]string{"computer": tt.claim}}
			g := p.For(s)
			if !g.Can(tt.match, Stop) || !g.Visible(tt.match) {
				t.Errorf("job %q not matched", tt.match.Name)
			}
			if g.Can(tt.match, Start) {
				t.Errorf("start allowed but not granted")
			}
			for _, j := range tt.miss {
				if g.Visible(j) || g.Can(j, Stop) {
					t.Errorf("job %+v matched", j)
				}
			}
			// Without the binding's group nothing matches.
			if p.For(Subject{Claims: s.Claims}).Visible(tt.match) {
				t.Error("matched without the role")
			}
		})
	}
}

func TestHostnameMatch(t *testing.T) {
	tests := []struct {
		claim, computer string
		exact, hostname bool
	}{
		{"erin-laptop.corp.example", "erin-laptop.corp.example", true, true},
		{"ERIN-LAPTOP.corp.example", "erin-laptop.CORP.example.", true, true},
		{"erin-laptop", "erin-laptop.corp.example", false, true},
		{"erin-laptop.corp.example", "ERIN-LAPTOP", false, true},
		{"erin-laptop.corp.example", "erin-laptop.other.example", false, false},
		{"erin-laptop", "erin-laptop2.corp.example", false, false},
		{"erin", "erin-laptop.corp.example", false, false},
		{"10", "10.0.0.5", false, false},
		{"10.0.0.5", "10.0.0.5", true, true},
		{"10.0.0.5", "10", false, false},
		{"", "erin-laptop", false, false},
	}
	for _, tt := range tests {
		for _, mode := range []string{"exact", "hostname"} {
			p := mustParse(t, `
roles: { enduser: { actions: [view], jobs: { own_computers: true } } }
bindings: [ { claim: { name: computer, present: true }, roles: [enduser] } ]
self_service: { computer_claims: [computer], match: `+mode+` }
`)
			g := p.For(Subject{Claims: map[string]string{"computer": tt.claim}})
			want := tt.exact
			if mode == "hostname" {
				want = tt.hostname
			}
			if got := g.Visible(Job{Computers: []string{"other", tt.computer}}); got != want {
				t.Errorf("%s: claim %q vs computer %q = %v, want %v", mode, tt.claim, tt.computer, got, want)
			}
		}
	}
}

func TestComputerClaims(t *testing.T) {
	p := mustParse(t, `
roles: { enduser: { actions: [view, start], jobs: { own_computers: true } } }
bindings: [ { group: employees, roles: [enduser] } ]
self_service: { computer_claims: [computer, preferred_username], match: hostname }
`)
	tests := []struct {
		name   string
		claims map[string]string
		job    Job
		want   bool
		why    string
	}{
		{"second claim", map[string]string{"preferred_username": "erin-laptop"}, erinsJob, true, "this job protects your computer erin-laptop.corp.example"},
		{"several values", map[string]string{"computer": "pc1, erin-laptop.corp.example"}, erinsJob, true, "this job protects your computer erin-laptop.corp.example"},
		{"no claim", nil, erinsJob, false, ""},
		{"other claim ignored", map[string]string{"email": "erin-laptop.corp.example"}, erinsJob, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := p.For(Subject{Groups: []string{"employees"}, Claims: tt.claims})
			if got := g.Can(tt.job, Start); got != tt.want {
				t.Errorf("Can = %v, want %v", got, tt.want)
			}
			if got := g.Why(tt.job, Start); got != tt.why {
				t.Errorf("Why = %q, want %q", got, tt.why)
			}
			// A user without any computer holds the role, but it grants nothing.
			if tt.claims == nil && g.CanAny(View) {
				t.Error("CanAny(view) without computers")
			}
		})
	}
}

func TestBindings(t *testing.T) {
	p := mustParse(t, `
roles:
  a: { actions: [view] }
  b: { actions: [view, retry], jobs: { kinds: [job] } }
  c: { actions: [view, enable, disable] }
bindings:
  - { claim: { name: department, equals: IT }, roles: [b] }
  - { claim: { name: computer, present: true }, roles: [a] }
  - { group: ops, roles: [a, b] }
  - { group: ops, roles: [c] }
`)
	tests := []struct {
		name  string
		s     Subject
		roles []string
		why   map[Action]string // on berlinWin
	}{
		{"claim equals", Subject{Claims: map[string]string{"department": "IT"}}, []string{"b"},
			map[Action]string{Retry: `your department claim is "IT"`, View: `your department claim is "IT"`}},
		{"claim equals is exact", Subject{Claims: map[string]string{"department": "it"}}, nil, nil},
		{"claim present", Subject{Claims: map[string]string{"computer": "x"}}, []string{"a"},
			map[Action]string{View: "you have a computer claim"}},
		{"claim present but blank", Subject{Claims: map[string]string{"computer": " "}}, nil, nil},
		{"group, two bindings", Subject{Groups: []string{"ops"}}, []string{"a", "b", "c"},
			map[Action]string{View: "you are in ops", Retry: "you are in ops", Disable: "you are in ops", Stop: ""}},
		{"first binding gives the reason", Subject{Groups: []string{"ops"}, Claims: map[string]string{"department": "IT"}}, []string{"a", "b", "c"},
			map[Action]string{Retry: `your department claim is "IT"`, View: `your department claim is "IT"`, Enable: "you are in ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Roles(tt.s); !slices.Equal(got, tt.roles) {
				t.Errorf("Roles = %v, want %v", got, tt.roles)
			}
			g := p.For(tt.s)
			if got := g.Roles(); !slices.Equal(got, tt.roles) {
				t.Errorf("Grant.Roles = %v, want %v", got, tt.roles)
			}
			for a, want := range tt.why {
				if got := g.Why(berlinWin, a); got != want {
					t.Errorf("Why(%s) = %q, want %q", a, got, want)
				}
			}
		})
	}
}

func TestCanAnyAndActionsOrder(t *testing.T) {
	p := mustParse(t, `
roles:
  viewer: { actions: [view] }
  operator: { actions: [disable, view, start], jobs: { servers: [vbr-berlin.corp.example] } }
bindings:
  - { group: g, roles: [operator, viewer] }
`)
	g := p.For(Subject{Groups: []string{"g"}})
	want := map[Action]bool{View: true, Start: true, Disable: true}
	for _, a := range AllActions() {
		if got := g.CanAny(a); got != want[a] {
			t.Errorf("CanAny(%s) = %v", a, got)
		}
	}
	if got := g.Actions(berlinWin); !slices.Equal(got, []Action{View, Start, Disable}) {
		t.Errorf("Actions(berlin) = %v", got)
	}
	if got := g.Actions(munichLin); !slices.Equal(got, []Action{View}) {
		t.Errorf("Actions(munich) = %v", got)
	}
	if got := g.Roles(); !slices.Equal(got, []string{"viewer", "operator"}) {
		t.Errorf("Roles = %v (want file order)", got)
	}
}

func TestParseAction(t *testing.T) {
	for _, a := range AllActions() {
		if got, ok := ParseAction(string(a)); !ok || got != a {
			t.Errorf("ParseAction(%q) = %q, %v", a, got, ok)
		}
	}
	for _, s := range []string{"", "View", "restart", "toggleScheduleEnabled"} {
		if _, ok := ParseAction(s); ok {
			t.Errorf("ParseAction(%q) accepted", s)
		}
	}
}

// TestVisibleDoesNotAllocate guards the property BenchmarkFilter10k measures.
func TestVisibleDoesNotAllocate(t *testing.T) {
	p := mustParse(t, benchPolicy)
	jobs := benchJobs(200)
	for _, who := range benchSubjects {
		g := p.For(who.s)
		allocs := testing.AllocsPerRun(20, func() {
			for i := range jobs {
				g.Visible(jobs[i])
				g.Can(jobs[i], Start)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per pass over %d jobs", who.name, allocs, len(jobs))
		}
	}
}

func TestClaimsListsEveryClaim(t *testing.T) {
	p := mustParse(t, `
groups_claim: roles
roles: { a: { actions: [view] } }
bindings:
  - { claim: { name: dept, equals: x }, roles: [a] }
  - { claim: { name: computer, present: true }, roles: [a] }
self_service: { computer_claims: [computer, hostnames] }
`)
	if got := strings.Join(p.Claims(), ","); got != "dept,computer,hostnames" {
		t.Errorf("Claims = %s", got)
	}
	if p.GroupsClaim() != "roles" {
		t.Errorf("GroupsClaim = %s", p.GroupsClaim())
	}
}

func TestUnrestrictedAllowsEverything(t *testing.T) {
	g := Unrestricted("you signed in as the break-glass administrator")
	j := Job{UID: "urn:veeam:AgentBackupJob:x", Name: "any", Server: "s", Platform: "AgentForLinux", Kind: "policy"}
	for _, a := range AllActions() {
		if !g.Can(j, a) {
			t.Errorf("Unrestricted cannot %s", a)
		}
	}
	if why := g.Why(j, Stop); why == "" {
		t.Error("Unrestricted gives no reason")
	}
}
