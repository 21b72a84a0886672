package paths

import (
	"net/url"
	"testing"

	"github.com/agentdesk/agentdesk/jobs"
)

const id = "0f3c2b1a-1111-4222-8333-444455556666"

func TestPaths(t *testing.T) {
	for _, base := range []string{"", "/backup"} {
		p := New(base)
		tests := []struct{ got, want string }{
			{p.Base(), base},
			{p.Home(), base + "/"},
			{p.Local("/jobs/" + id + "?spage=2"), base + "/jobs/" + id + "?spage=2"},
			{p.Jobs(), base + "/jobs"},
			{p.Job(id), base + "/jobs/" + id},
			{p.JobCard(id, JobView), base + "/jobs/" + id + "/card"},
			{p.JobCard(id, MineView), base + "/jobs/" + id + "/card?view=mine"},
			{p.JobRow(id), base + "/jobs/" + id + "/row"},
			{p.JobHistory(id), base + "/jobs/" + id + "/history"},
			{p.JobStatus(id, JobView), base + "/jobs/" + id + "/status"},
			{p.JobStatus(id, RowView), base + "/jobs/" + id + "/status?view=row"},
			{p.JobStatus(id, MineView), base + "/jobs/" + id + "/status?view=mine"},
			{p.JobConfirm(id, jobs.Start), base + "/jobs/" + id + "/confirm/start"},
			{p.JobAction(id, jobs.Disable), base + "/jobs/" + id + "/actions/" + string(jobs.Disable)},
			{p.SessionComputers(id, "s-1"), base + "/jobs/" + id + "/sessions/s-1/computers"},
			{p.Audit(nil), base + "/audit"},
			{p.Audit(url.Values{"user": {"a b&c"}, "action": {"start"}}), base + "/audit?action=start&user=a+b%26c"},
			{p.AuditCSV(url.Values{}), base + "/audit.csv"},
			{p.AuditCSV(url.Values{"job": {id}}), base + "/audit.csv?job=" + id},
			{p.JobAudit(id), base + "/audit?job=" + id},
			{p.Status(), base + "/status"},
			{p.StatusSessions(), base + "/status/sessions"},
			{p.SignIn(""), base + "/auth/signin"},
			{p.SignIn("/jobs/" + id + "?spage=2&x=1"), base + "/auth/signin?return_to=%2Fjobs%2F" + id + "%3Fspage%3D2%26x%3D1"},
			{p.Login("/embed/done"), base + "/auth/login?return_to=%2Fembed%2Fdone"},
			{p.Login(""), base + "/auth/login"},
			{p.Callback(), base + "/auth/callback"},
			{p.SignOut(), base + "/auth/signout"},
			{p.BreakGlass(), base + "/auth/breakglass"},
			{p.CSPReport(), base + "/csp-report"},
			{p.EmbedJob(id), base + "/embed/jobs/" + id},
			{p.EmbedMine(), base + "/embed/my-backups"},
			{p.EmbedHandoff(), base + "/embed/handoff"},
			{p.AuthPrefix(), base + "/auth/"},
			{p.EmbedPrefix(), base + "/embed/"},
			{p.StaticPrefix(), base + "/static/"},
		}
		for i, tc := range tests {
			if tc.got != tc.want {
				t.Errorf("base %q, case %d: %q, want %q", base, i, tc.got, tc.want)
			}
		}
	}
}

// An id never changes the shape of an address: no extra segment, query or
// fragment, whatever it holds.
func TestPathsEscapeIDs(t *testing.T) {
	p := New("/backup")
	for _, tc := range []struct{ got, want string }{
		{p.Job("a/b"), "/backup/jobs/a%2Fb"},
		{p.Job("../audit"), "/backup/jobs/..%2Faudit"},
		{p.JobCard("a?b=c", MineView), "/backup/jobs/a%3Fb=c/card?view=mine"},
		{p.JobRow("a#b"), "/backup/jobs/a%23b/row"},
		{p.JobAction("x y", jobs.Action("st/art")), "/backup/jobs/x%20y/actions/st%2Fart"},
		{p.SessionComputers("j", "s/../t"), "/backup/jobs/j/sessions/s%2F..%2Ft/computers"},
		{p.EmbedJob("%2F"), "/backup/embed/jobs/%252F"},
		{p.JobAudit("a&b=c"), "/backup/audit?job=a%26b%3Dc"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
		u, err := url.Parse(tc.got)
		if err != nil {
			t.Errorf("%q: %v", tc.got, err)
		}
		if u.Fragment != "" {
			t.Errorf("%q has a fragment", tc.got)
		}
	}
}

func TestInView(t *testing.T) {
	p := New("/backup")
	for _, tc := range []struct{ got, want string }{
		{InView(p.JobConfirm(id, jobs.Start), MineView), p.JobConfirm(id, jobs.Start) + "?view=mine"},
		{InView(p.JobCard(id, MineView), RowView), p.JobCard(id, JobView) + "?view=row"},
		{InView(p.JobStatus(id, RowView), JobView), p.JobStatus(id, JobView)},
		{InView(p.Audit(url.Values{"job": {id}}), MineView), "/backup/audit?job=" + id + "&view=mine"},
		{InView("/jobs/a%2Fb/card", MineView), "/jobs/a%2Fb/card?view=mine"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}

func TestViewOf(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want View
	}{
		{"", JobView}, {"view=row", RowView}, {"view=mine", MineView}, {"view=MINE", JobView}, {"view=other", JobView},
	} {
		q, _ := url.ParseQuery(tc.q)
		if got := ViewOf(q); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.q, got, tc.want)
		}
	}
}

// A job's address is one allocation however many parts it joins: the jobs
// list builds several per row.
func TestJobAddressesAllocateOnce(t *testing.T) {
	p := New("/backup")
	for name, f := range map[string]func(){
		"Job":        func() { _ = p.Job(id) },
		"JobRow":     func() { _ = p.JobRow(id) },
		"JobConfirm": func() { _ = p.JobConfirm(id, jobs.Disable) },
		"JobAction":  func() { _ = p.JobAction(id, jobs.Start) },
		"JobCard":    func() { _ = p.JobCard(id, JobView) },
		"JobStatus":  func() { _ = p.JobStatus(id, RowView) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 1 {
			t.Errorf("%s: %v allocations, want 1", name, n)
		}
	}
}
