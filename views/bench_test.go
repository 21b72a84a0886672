package views

import (
	"context"
	"io"
	"testing"

	"github.com/a-h/templ"
)

// Render benchmarks for every page and fragment the handlers send. The issue's
// budget is BenchmarkJobTable50 < 500 allocs/op (the 50-row list fragment).
// Rows, the job page's body and the list's are memoised (memo.go), so these
// measure warm renders, the memos holding the markup after the first
// iteration; the Fresh ones measure renders the memos do not hold.
//
//	go test -run '^$' -bench . -benchmem ./views/

func benchRender(b *testing.B, c templ.Component) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Render(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJobTable50(b *testing.B) { benchRender(b, JobTable(sampleList(50))) }

func BenchmarkJobListPage50(b *testing.B) {
	benchRender(b, JobListPage(sampleLayout(), sampleList(50)))
}

func BenchmarkJobRow(b *testing.B) { benchRender(b, JobRowView(sampleRow(jobID, "Erin's laptop", 2))) }

// The Fresh benchmarks render with the memos off (memo.go): the cost of a
// row or a job page the memo does not hold.
func BenchmarkJobTable50Fresh(b *testing.B) {
	withoutMemos(b)
	benchRender(b, JobTable(sampleList(50)))
}

func BenchmarkJobPageFresh(b *testing.B) {
	withoutMemos(b)
	benchRender(b, JobPage(sampleLayout(), sampleDetail("Erin's laptop", "Laptop of Erin")))
}

func BenchmarkJobPage(b *testing.B) {
	benchRender(b, JobPage(sampleLayout(), sampleDetail("Erin's laptop", "Laptop of Erin")))
}

func BenchmarkJobCard(b *testing.B) {
	benchRender(b, JobCard(sampleDetail("Erin's laptop", "Laptop of Erin")))
}

func BenchmarkJobSessions(b *testing.B) {
	benchRender(b, JobSessions(sampleDetail("Erin's laptop", "Laptop of Erin")))
}

func BenchmarkConfirmPanel(b *testing.B) {
	benchRender(b, ConfirmPanel(Confirm{
		JobID: jobID, JobName: "Erin's laptop", Action: actionsFor(jobID, false)[0],
		CancelURL: "/backup/jobs/" + jobID, CSRFToken: token,
	}))
}

func BenchmarkActionStatus(b *testing.B) {
	benchRender(b, ActionStatus(ActionState{
		JobID: jobID, Action: ActionStart, Label: "Start", State: StateRunning, Message: "Backup started on 1 computer.",
		Progress: 42, TaskID: "task-42", PollURL: "/backup/jobs/" + jobID + "/status", CardURL: "/backup/jobs/" + jobID + "/card",
	}))
}

func BenchmarkErrorPage(b *testing.B) {
	benchRender(b, ErrorPage(sampleLayout(), ErrorView{Status: 502, Title: "Enterprise Manager is not answering",
		Message: "Try again in a minute.", RetryURL: "/backup/jobs", RequestID: "abc123"}))
}

func BenchmarkErrorFragment(b *testing.B) {
	benchRender(b, ErrorFragment(ErrorView{Status: 404, Message: "This job does not exist.", RequestID: "abc123"}))
}

func BenchmarkSignInPage(b *testing.B) {
	l := sampleLayout()
	l.User = nil
	benchRender(b, SignInPage(l, SignIn{ReturnTo: "/backup/jobs"}))
}
