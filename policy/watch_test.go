package policy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	policyV1 = "roles: { admin: { actions: [view] } }\nbindings: [ { group: v1, roles: [admin] } ]\n"
	policyV2 = "roles: { admin: { actions: [view] } }\nbindings: [ { group: v2, roles: [admin] } ]\n"
	policyV3 = "roles: { admin: { actions: [view] } }\nbindings: [ { group: v3, roles: [admin] } ]\n"
	broken   = "roles: { admin: { actions: [view, restart] } }\nbindings: [ { group: v2, roles: [admin] } ]\n"
)

type reload struct {
	p   *Policy
	err error
}

func startWatcher(t *testing.T, path string) (*Watcher, chan reload) {
	t.Helper()
	ch := make(chan reload, 16)
	w, err := NewWatcher(t.Context(), path, nil, func(p *Policy, err error) { ch <- reload{p, err} })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, ch
}

func next(t *testing.T, ch chan reload) reload {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no reload reported")
		return reload{}
	}
}

// group returns the group the test policies bind, to tell versions apart.
func group(p *Policy) string {
	for _, g := range []string{"v1", "v2", "v3"} {
		if slices.Equal(p.Roles(Subject{Groups: []string{g}}), []string{"admin"}) {
			return g
		}
	}
	return "?"
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// renameOver writes content the way editors and config tools do: a new file
// renamed over the old one.
func renameOver(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	write(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, policyV1)
	w, ch := startWatcher(t, path)
	if g := group(w.Current()); g != "v1" {
		t.Fatalf("initial policy %s", g)
	}

	write(t, path, policyV2)
	r := next(t, ch)
	if r.err != nil || group(r.p) != "v2" || group(w.Current()) != "v2" {
		t.Fatalf("after write: err %v, current %s", r.err, group(w.Current()))
	}

	write(t, path, broken)
	r = next(t, ch)
	if r.err == nil || r.p != nil {
		t.Fatalf("broken file reported as %+v", r)
	}
	if !strings.Contains(r.err.Error(), `policy.yaml:1: role "admin": unknown action "restart"`) {
		t.Errorf("error does not name file, line and problem: %v", r.err)
	}
	if g := group(w.Current()); g != "v2" {
		t.Errorf("after broken write current = %s, want the last good v2", g)
	}

	renameOver(t, path, policyV3)
	r = next(t, ch)
	if r.err != nil || group(w.Current()) != "v3" {
		t.Fatalf("after rename: err %v, current %s", r.err, group(w.Current()))
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	r = next(t, ch)
	if r.err == nil || !os.IsNotExist(unwrapAll(r.err)) {
		t.Errorf("removed file reported as %v", r.err)
	}
	if g := group(w.Current()); g != "v3" {
		t.Errorf("after removal current = %s", g)
	}
	write(t, path, policyV1)
	if r = next(t, ch); r.err != nil || group(w.Current()) != "v1" {
		t.Errorf("after re-create: err %v, current %s", r.err, group(w.Current()))
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// TestWatcherConfigMapSwap mimics how the kubelet updates a mounted
// ConfigMap: policy.yaml -> ..data/policy.yaml, ..data -> ..2024_x, and an
// update re-points ..data by renaming a new symlink over it.
func TestWatcherConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "policy.yaml"), content)
	}
	mk("..v1", policyV1)
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy.yaml")
	if err := os.Symlink(filepath.Join("..data", "policy.yaml"), path); err != nil {
		t.Fatal(err)
	}
	w, ch := startWatcher(t, path)
	if g := group(w.Current()); g != "v1" {
		t.Fatalf("initial %s", g)
	}
	mk("..v2", policyV2)
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	r := next(t, ch)
	if r.err != nil || group(w.Current()) != "v2" {
		t.Fatalf("after swap: err %v, current %s", r.err, group(w.Current()))
	}
}

func TestWatcherIgnoresUnchangedContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, policyV1)
	w, ch := startWatcher(t, path)
	// Drive reload by hand so the test does not depend on event timing.
	w.Close()
	write(t, path, policyV1)
	w.reload()
	select {
	case r := <-ch:
		t.Fatalf("reload reported for unchanged content: %+v", r)
	default:
	}
	write(t, path, policyV2)
	w.reload()
	select {
	case r := <-ch:
		if r.err != nil || group(r.p) != "v2" {
			t.Fatalf("report %+v", r)
		}
	default:
		t.Fatal("changed content not reported")
	}
}

func TestNewWatcherFailsOnBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, broken)
	_, err := NewWatcher(context.Background(), path, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "policy.yaml:1:") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewWatcher(context.Background(), path+".missing", nil, nil); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestWatcherStopsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write(t, path, policyV1)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := NewWatcher(ctx, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher goroutine still running after cancel")
	}
	if w.Current() == nil {
		t.Error("Current is nil after stop")
	}
	w.Close() // safe after the context ended
}
