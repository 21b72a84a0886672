package handlers_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// listedActions are the buttons of one job's row on the list as c sees it.
func listedActions(t *testing.T, c *client, jobID string) []string {
	t.Helper()
	for _, r := range listRows(t, c.get("/jobs?size=100")) {
		if r.id == jobID {
			return r.actions
		}
	}
	t.Fatalf("job %s is not on the list", jobID)
	return nil
}

// TestListRowsFollowStateAndUser: the list remembers its rows, yet the
// buttons of a row change on the very next list after the job's state
// changed (a disable for a while, then the hold's own re-enable), and two
// people of different roles looking at the same list, in turns, each get
// the buttons of their own role.
func TestListRowsFollowStateAndUser(t *testing.T) {
	t.Parallel()
	var clockMu sync.Mutex
	clock := time.Now()
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	p := newPortal(t, portalOptions{holdDurations: []time.Duration{700 * time.Millisecond}, holdsClock: now})
	alice, harry := p.signIn("alice"), p.signIn("harry")
	// A job both see (harry: the Berlin server's) with its schedule on.
	job := rowWith(t, harry, "schedule=enabled", offers("start"))

	look := func(when string, wantAlice, wantHarry []string) {
		t.Helper()
		// Twice each, in turns: what one was shown must not reach the other.
		for range 2 {
			if got := listedActions(t, alice, job.id); !slices.Equal(got, wantAlice) {
				t.Errorf("%s: alice (admin) is offered %q, want %q", when, got, wantAlice)
			}
			if got := listedActions(t, harry, job.id); !slices.Equal(got, wantHarry) {
				t.Errorf("%s: harry (helpdesk) is offered %q, want %q", when, got, wantHarry)
			}
		}
	}
	harryWants := func(admin []string) []string {
		// The helpdesk role starts and retries, nothing else.
		return slices.DeleteFunc(slices.Clone(admin), func(a string) bool { return a != "start" && a != "retry" })
	}
	before := listedActions(t, alice, job.id)
	if !slices.Contains(before, "disable") || slices.Contains(before, "enable") {
		t.Fatalf("alice is offered %q for %s, a job with its schedule on", before, job.name)
	}
	look("before", before, harryWants(before))

	wantStatus(t, "disable for 700ms", alice.disableFor(job.id, "700ms"), http.StatusOK)
	alice.waitAction(job.id)
	disabled := slices.Clone(before)
	disabled[slices.Index(disabled, "disable")] = "enable"
	look("after the disable", disabled, harryWants(disabled))

	clockMu.Lock()
	clock = clock.Add(time.Hour)
	clockMu.Unlock()
	if n, err := p.holds.Tick(context.Background()); err != nil || n != 1 {
		t.Fatalf("Tick after the hold is due: %d, %v; want 1 hold closed", n, err)
	}
	look("after the hold ended", before, harryWants(before))
}
