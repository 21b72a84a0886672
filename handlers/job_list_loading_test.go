package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/agentdesk/agentdesk/jobs"
)

// TestListStillLoadingPage: the first job list that outlasts its bounded wait
// is a 503 in plain words saying the reading goes on, not a generic error.
func TestListStillLoadingPage(t *testing.T) {
	ev := (&Handler{}).errorView(context.Background(), fmt.Errorf("list: %w", jobs.ErrListLoading))
	if ev.Status != http.StatusServiceUnavailable || ev.Title != "The job list is still loading" || !strings.Contains(ev.Message, "try again in a moment") {
		t.Fatalf("error view %d %q: %q", ev.Status, ev.Title, ev.Message)
	}
}
