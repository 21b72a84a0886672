package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"

	"github.com/agentdesk/agentdesk/store/pgtest"
)

// TestGracefulShutdown sends SIGTERM to a real `agentdesk serve` while an action
// it started is still running in EM: readiness turns 503 at once, the process
// exits cleanly after the drain period, the action's audit entry is completed (not left pending), and
// the EM logon session is logged off.
func TestGracefulShutdown(t *testing.T) {
	if os.Getenv(pgtest.Env) == "" {
		t.Skip(pgtest.Env + " must be set")
	}
	dbURL := pgtest.NewDatabase(t)
	em := startEMSim(t)
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	issuer := startIdP(t, base)
	r := startReplica(t, "S", port, []string{
		"AGENTDESK_EM_URL=" + em, "AGENTDESK_EM_USER=svc", "AGENTDESK_EM_PASSWORD=secret",
		"AGENTDESK_OIDC_ISSUER=" + issuer, "AGENTDESK_OIDC_CLIENT_ID=agentdesk", "AGENTDESK_OIDC_CLIENT_SECRET=replica-test-secret",
		"AGENTDESK_OIDC_SCOPES=openid profile email groups", "AGENTDESK_OIDC_EXTRA_CLAIMS=preferred_username computer",
		"AGENTDESK_DATABASE_URL=" + dbURL, "AGENTDESK_SHUTDOWN_TIMEOUT=20s", "AGENTDESK_SHUTDOWN_DRAIN=10s",
		"AGENTDESK_LOG_FORMAT=text",
	})

	c := newBrowser(t)
	c.signIn(base, "alice")
	list := c.get(base + "/jobs?q=Erin")
	jobID := ""
	list.testid("job-row").Each(func(_ int, s *goquery.Selection) { jobID, _ = s.Attr("data-job-id") })
	if jobID == "" {
		t.Fatal("no Erin's laptop in the list")
	}
	token := c.csrf(c.get(base + "/jobs/" + jobID))

	// Slow EM's task answers so the action is still being followed when the
	// signal arrives.
	emFaults(t, em, `{"Latency": 1500000000, "Paths": ["/tasks/"]}`)
	if p := c.action(base, token, jobID, "start"); p.StatusCode != http.StatusOK {
		t.Fatalf("start: %d\n%s", p.StatusCode, truncate(p.Body, 1000))
	}
	logoffsBefore := emStats(t, em).Requests["DELETE /logonSessions/{id}"]

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Readiness answers 503 while the portal still serves, for the drain
	// period (10 s here, far longer than a few requests take even on a loaded
	// machine), before the listener closes: a refused connection is not a
	// drain. The loop ends at the first answer that is not "ready".
	hc := &http.Client{Timeout: 5 * time.Second}
	status := http.StatusOK
	for status == http.StatusOK {
		status = statusOf(hc, base+"/readyz")
	}
	if status != http.StatusServiceUnavailable {
		t.Errorf("readiness after SIGTERM: %d (0 = connection refused), want 503 before the listener closes", status)
	}
	select {
	case <-r.done:
	case <-time.After(45 * time.Second):
		t.Fatal("the portal did not exit within 45s of SIGTERM")
	}
	if code := r.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var result, message string
	err = conn.QueryRow(ctx, `SELECT result, COALESCE(message, '') FROM audit_log WHERE kind = 'action' AND job_id = $1 AND action = 'start'`, jobID).Scan(&result, &message)
	if err != nil {
		t.Fatalf("the start has no audit entry: %v", err)
	}
	t.Logf("audit entry after shutdown: %s %q", result, message)
	// Draining follows the EM task to its answer: the start is known to have
	// been performed. Without the drain the follower is cancelled and the entry
	// says unknown (or stays pending if nothing completes it).
	if result != "performed" {
		t.Errorf("audit result after shutdown = %q, want performed", result)
	}
	if n := emStats(t, em).Requests["DELETE /logonSessions/{id}"]; n <= logoffsBefore {
		t.Errorf("EM log-offs %d → %d: the portal did not log off EM on shutdown", logoffsBefore, n)
	}
	if b, _ := os.ReadFile(r.log); !strings.Contains(string(b), "shutting down") {
		t.Error("the log does not say it shut down")
	}
}
