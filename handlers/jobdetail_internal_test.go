package handlers

import (
	"testing"
	"time"

	"github.com/agentdesk/agentdesk/emclient"
	"github.com/agentdesk/agentdesk/jobs"
	"github.com/agentdesk/agentdesk/views"
)

// TestDetailMemoFollowsItsInputs: a kept model is served only for the very
// job, page of sessions and server it was made from; any of them read again
// (a new pointer, even with equal contents) makes a new one, and a page with
// a running session, whose rows depend on the clock, is never kept.
func TestDetailMemoFollowsItsInputs(t *testing.T) {
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	j := &jobs.Job{ID: "a1"}
	done := &jobs.SessionPage{Page: 1, Pages: 1, Sessions: []*jobs.Session{{ID: "s1", Start: start, End: start.Add(time.Minute)}}}
	srv := &emclient.BackupServer{Name: "vbr1"}
	m := views.JobDetail{ID: "a1", Name: "kept"}
	var d detailMemo
	d.put(j, done, srv, m)
	if got, ok := d.get(j, done, srv); !ok || got.Name != "kept" {
		t.Fatalf("the same inputs: got %q, %v", got.Name, ok)
	}
	again := *j
	pageAgain := *done
	srvAgain := *srv
	for name, miss := range map[string]func() bool{
		"job read again":      func() bool { _, ok := d.get(&again, done, srv); return !ok },
		"sessions read again": func() bool { _, ok := d.get(j, &pageAgain, srv); return !ok },
		"server read again":   func() bool { _, ok := d.get(j, done, &srvAgain); return !ok },
		"server unknown":      func() bool { _, ok := d.get(j, done, nil); return !ok },
		"another page": func() bool {
			_, ok := d.get(j, &jobs.SessionPage{Page: 2, Pages: 2}, srv)
			return !ok
		},
	} {
		if !miss() {
			t.Errorf("%s: the kept model was served", name)
		}
	}

	running := &jobs.SessionPage{Page: 1, Pages: 1, Sessions: []*jobs.Session{{ID: "s2", Start: start}}}
	d.put(j, running, srv, views.JobDetail{ID: "a1", Name: "running"})
	if _, ok := d.get(j, running, srv); ok {
		t.Error("a page with a running session was kept")
	}

	for i := range 2 * detailMemoLimit {
		d.put(&jobs.Job{ID: string(rune('a'+i%26)) + time.Duration(i).String()}, done, srv, m)
	}
	if n := len(d.entries); n > detailMemoLimit {
		t.Errorf("%d entries kept, limit %d", n, detailMemoLimit)
	}
}
