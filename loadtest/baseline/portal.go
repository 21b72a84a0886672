package baseline

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"sync"
)

// Portal is the minimal portal: GET /jobs/{id} reads the job entity and the
// first page of its sessions from EM in parallel, as the real portal does on
// a cold job page, and renders them with html/template. No cache, no sign-in,
// no policy: what a job page costs at the least.
func Portal(emURL, user, pass string) http.Handler {
	p := &portal{em: newEM(emURL, user, pass)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jobs/{id}", p.showJob)
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

type portal struct{ em *em }

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (p *portal) showJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !guid.MatchString(id) {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	var (
		wg     sync.WaitGroup
		ent    job
		page   queryResult
		e1, e2 error
	)
	wg.Go(func() { _, e1 = p.em.get(ctx, "/agents/jobs/"+id, url.Values{"format": {"Entity"}}, &ent) })
	wg.Go(func() { _, e2 = p.em.get(ctx, "/query", sessionsQuery(id), &page) })
	wg.Wait()
	if e1 != nil || e2 != nil {
		http.Error(w, "Enterprise Manager did not answer", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	jobPage.Execute(w, struct {
		Job      job
		Server   string
		Sessions []session
	}{ent, ent.server(), page.Sessions})
}

var jobPage = template.Must(template.New("job").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Job.Name}}</title></head>
<body><main>
<h1>{{.Job.Name}}</h1>
<dl>
<dt>Platform</dt><dd>{{.Job.Platform}}</dd>
<dt>Backup server</dt><dd>{{.Server}}</dd>
<dt>Schedule</dt><dd>{{if .Job.ScheduleEnabled}}enabled{{else}}disabled{{end}}</dd>
<dt>Next run</dt><dd>{{.Job.NextRun}}</dd>
<dt>Description</dt><dd>{{.Job.Description}}</dd>
</dl>
<form method="post" action="/jobs/{{.Job.UID}}/actions/start"><button>Start</button></form>
<table><thead><tr><th>Session</th><th>Started</th><th>Ended</th><th>State</th><th>Result</th><th>Progress</th></tr></thead>
<tbody>{{range .Sessions}}<tr><td>{{.Name}}</td><td>{{.CreationTime}}</td><td>{{.EndTime}}</td><td>{{.State}}</td><td>{{.Result}}</td><td>{{.Progress}}%</td></tr>
{{end}}</tbody></table>
</main></body></html>
`))
