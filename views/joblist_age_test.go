package views

import (
	"strings"
	"testing"
)

// TestJobListAge: the list says how fresh it is: the snapshot's time always,
// and in plain words when a refresh runs or the last one failed.
func TestJobListAge(t *testing.T) {
	for _, tc := range []struct {
		name                string
		refreshing, failed  bool
		wantRefresh, wantEM bool
	}{
		{"fresh", false, false, false, false},
		{"refreshing", true, false, true, false},
		{"failed", false, true, false, true},
		{"failed and retrying", true, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := sampleList(3)
			m.Refreshing, m.RefreshFailed = tc.refreshing, tc.failed
			doc := parse(t, render(t, JobTable(m)))
			if got := doc.Find(`[data-testid="as-of"] time`).Text(); got != m.AsOf.Format(asOfLayout) {
				t.Errorf("as of %q, want %q", got, m.AsOf.Format(asOfLayout))
			}
			if got := doc.Find(`[data-testid="refreshing"]`).Length() == 1; got != tc.wantRefresh {
				t.Errorf("refreshing shown %t, want %t", got, tc.wantRefresh)
			}
			failed := doc.Find(`[data-testid="refresh-failed"]`).Text()
			if (failed != "") != tc.wantEM || tc.wantEM && !strings.Contains(failed, "Enterprise Manager did not answer the last refresh") {
				t.Errorf("failure words %q, want shown %t", failed, tc.wantEM)
			}
		})
	}
}
