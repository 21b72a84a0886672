package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// demo is a running `agentdesk demo` process.
type demo struct {
	URL     string // the portal, without a trailing slash
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// defaultDemoArgs keep the fleet small and backups short, so a started job
// finishes while a test watches. Later flags override them.
var defaultDemoArgs = []string{"-addr", "127.0.0.1:0", "-jobs", "30", "-backup-duration", "4s"}

// launchDemo starts the demo with extra flags and waits until it prints the
// portal's URL.
func launchDemo(dir string, args ...string) (*demo, error) {
	cmd := exec.Command(binary, append(append([]string{"demo"}, defaultDemoArgs...), args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &demo{cmd: cmd, logPath: filepath.Join(dir, "demo.log"), done: make(chan struct{})}
	logFile, err := os.Create(d.logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start demo: %w", err)
	}
	go func() { cmd.Wait(); logFile.Close(); close(d.done) }()
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Portal:\s+(\S+)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- strings.TrimRight(m[1], "/")
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case d.URL = <-found:
		return d, nil
	case <-d.done:
		return nil, errors.New("the demo exited before printing its URL:\n" + d.logs())
	case <-time.After(60 * time.Second):
		d.stop()
		return nil, errors.New("the demo did not print its URL:\n" + d.logs())
	}
}

// stop interrupts the demo and kills it if it does not end.
func (d *demo) stop() {
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *demo) logs() string {
	b, _ := os.ReadFile(d.logPath)
	return string(b)
}

// startDemo runs a demo of the test's own (for flags the shared one lacks) and
// returns its portal URL; it is stopped when the test ends.
func startDemo(t *testing.T, args ...string) string {
	t.Helper()
	d, err := launchDemo(t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("---- demo log ----\n%s", truncate(d.logs(), 20000))
		}
	})
	return d.URL
}

// signInAt signs user in at base+path through the demo provider's login form
// and returns once the browser is back on the portal.
func signInAt(t *testing.T, ctx context.Context, base, path, user string) {
	t.Helper()
	do(t, ctx, "open "+path, chromedp.Navigate(base+path))
	do(t, ctx, "sign-in page", chromedp.WaitVisible(chromedp.CSS(`[data-testid="signin-button"]`)))
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`[data-testid="signin-button"]`))); err != nil {
		t.Fatalf("start sign-in: %v", err)
	}
	do(t, ctx, "identity provider login form",
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SetValue(chromedp.ID("username"), user),
		chromedp.SetValue(chromedp.ID("password"), "demo"),
	)
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[data-testid="login-form"] button[type="submit"]`))); err != nil {
		t.Fatalf("submit the login form: %v", err)
	}
	waitFor(t, ctx, "back on the portal", fmt.Sprintf(`location.href.startsWith(%q) && !!document.querySelector('[data-testid="site-header"]')`, base), 30*time.Second)
}
