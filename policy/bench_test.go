package policy

import (
	"fmt"
	"testing"
)

const benchPolicy = `
roles:
  admin:    { actions: [view, start, stop, retry, enable, disable] }
  helpdesk: { actions: [view, start, retry], jobs: { servers: ["vbr-berlin.corp.example"] } }
  sql:      { actions: [view, retry], jobs: [ { names: ["*-SQL-*", "db?? *"] }, { platforms: [linux], kinds: [policy] } ] }
  enduser:  { actions: [view, start], jobs: { own_computers: true } }
bindings:
  - { group: agentdesk-admins, roles: [admin] }
  - { group: helpdesk-berlin,  roles: [helpdesk] }
  - { group: dba,              roles: [sql] }
  - { claim: { name: computer, present: true }, roles: [enduser] }
self_service: { computer_claims: [computer], match: hostname }
`

var benchSubjects = []struct {
	name string
	s    Subject
}{
	{"admin", Subject{Groups: []string{"agentdesk-admins"}}},
	{"helpdesk", Subject{Groups: []string{"helpdesk-berlin"}}},
	{"globs", Subject{Groups: []string{"dba"}}},
	{"enduser", Subject{Claims: map[string]string{"computer": "host-04242"}}},
	{"mixed", Subject{Groups: []string{"dba", "helpdesk-berlin"}, Claims: map[string]string{"computer": "host-04242.corp.example"}}},
	{"nobody", Subject{Groups: []string{"employees"}}},
}

func benchJobs(n int) []Job {
	servers := []string{"VBR-Berlin.corp.example", "vbr-munich.corp.example"}
	platforms := []string{"AgentForWindows", "AgentForLinux"}
	kinds := []string{"job", "policy"}
	names := []string{"Berlin-SQL-%05d", "DB%02d Nightly", "Laptop %d", "Ünïcode Jöb %d"}
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{
			UID:       fmt.Sprintf("urn:veeam:AgentBackupJob:%08d", i),
			Name:      fmt.Sprintf(names[i%len(names)], i%100000),
			Server:    servers[i%2],
			Platform:  platforms[(i/2)%2],
			Kind:      kinds[(i/3)%2],
			Computers: []string{fmt.Sprintf("host-%05d.corp.example", i), fmt.Sprintf("host-%05d-b.corp.example", i)},
		}
	}
	return jobs
}

// BenchmarkFilter10k filters a 10,000-job fleet through one user's Grant,
// as a job list page does.
func BenchmarkFilter10k(b *testing.B) {
	p := mustParse(b, benchPolicy)
	jobs := benchJobs(10000)
	for _, who := range benchSubjects {
		b.Run(who.name, func(b *testing.B) {
			g := p.For(who.s)
			b.ReportAllocs()
			visible := 0
			for b.Loop() {
				visible = 0
				for i := range jobs {
					if g.Visible(jobs[i]) {
						visible++
					}
				}
			}
			b.ReportMetric(float64(visible), "visible")
		})
	}
}

func BenchmarkFor(b *testing.B) {
	p := mustParse(b, benchPolicy)
	s := benchSubjects[4].s
	b.ReportAllocs()
	for b.Loop() {
		p.For(s)
	}
}
