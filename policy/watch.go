package policy

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Debounce is how long the watcher waits after the last change in the
// policy's directory before reading the file: editors and ConfigMap updates
// touch several files in a burst.
const Debounce = 200 * time.Millisecond

// Watcher keeps a policy file loaded and reloads it when it changes.
//
// It watches the file's directory, not the file: editors replace the file by
// renaming a new one over it, and Kubernetes swaps a ConfigMap by re-pointing
// a symlink, and both break a watch on the file itself. Every change in the
// directory leads (after Debounce) to a re-read of the path; identical
// content is ignored. A file that does not parse keeps the last good policy.
type Watcher struct {
	path     string
	log      *slog.Logger
	onReload func(*Policy, error)

	cur  atomic.Pointer[Policy]
	last []byte // content of the last read, good or bad; only the loop touches it

	fsw    *fsnotify.Watcher
	cancel context.CancelFunc
	done   chan struct{}
}

// NewWatcher loads the policy at path and watches it until ctx ends or Close
// is called. It fails when the first load fails: the portal must not start
// without a policy. onReload (may be nil) is called from the watcher's
// goroutine after each reload attempt that follows a change: with the new
// policy, or with nil and the error while Current keeps the previous one.
func NewWatcher(ctx context.Context, path string, logger *slog.Logger, onReload func(*Policy, error)) (*Watcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if onReload == nil {
		onReload = func(*Policy, error) {}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	data, err := readLimited(abs)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, withFile(err, filepath.Base(abs))
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("policy: watch %s: %w", abs, err)
	}
	if err := fsw.Add(filepath.Dir(abs)); err != nil {
		fsw.Close()
		return nil, fmt.Errorf("policy: watch %s: %w", filepath.Dir(abs), err)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{
		path:     abs,
		log:      logger.With("policy_file", abs),
		onReload: onReload,
		last:     data,
		fsw:      fsw,
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	w.cur.Store(p)
	go w.loop(ctx)
	return w, nil
}

// Current returns the policy in force. It never returns nil.
func (w *Watcher) Current() *Policy { return w.cur.Load() }

// Close stops watching and waits for the watcher's goroutine to end.
func (w *Watcher) Close() error {
	w.cancel()
	<-w.done
	return nil
}

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	defer w.fsw.Close()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case _, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			timer.Reset(Debounce)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			// Events may have been lost (queue overflow): read the file
			// again in case one of them was ours.
			w.log.Warn("policy watch error", "err", err)
			timer.Reset(Debounce)
		case <-timer.C:
			w.reload()
		}
	}
}

func (w *Watcher) reload() {
	data, err := readLimited(w.path)
	if err != nil {
		w.last = nil
		err = fmt.Errorf("policy: %w", err)
		w.log.Error("policy reload failed; keeping the previous policy", "err", err)
		w.onReload(nil, err)
		return
	}
	if w.last != nil && bytes.Equal(data, w.last) {
		return
	}
	w.last = data
	p, err := Parse(data)
	if err != nil {
		err = withFile(err, filepath.Base(w.path))
		w.log.Error("policy reload failed; keeping the previous policy", "err", err)
		w.onReload(nil, err)
		return
	}
	w.cur.Store(p)
	w.log.Info("policy reloaded", "roles", len(p.roles), "bindings", len(p.bindings))
	w.onReload(p, nil)
}
