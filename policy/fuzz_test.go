package policy

import (
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts can
// be used. The seed corpus lives in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(Default())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned with an error")
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		s := Subject{Groups: []string{"g", "agentdesk-admins"}, Claims: map[string]string{"computer": "erin-laptop"}}
		g := p.For(s)
		j := Job{Name: "Erin's laptop", Server: "vbr-berlin.corp.example", Platform: "AgentForWindows", Kind: "job", Computers: []string{"erin-laptop.corp.example"}}
		for _, a := range AllActions() {
			if g.Can(j, a) != (g.Why(j, a) != "") {
				t.Fatalf("Can and Why disagree on %s", a)
			}
		}
		_ = g.Actions(j)
		_ = p.Roles(s)
	})
}
