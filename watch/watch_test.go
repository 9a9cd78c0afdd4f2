package watch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchRig runs a Watcher over a temporary workspace with a short quiet
// period on the real clock. Tests wait for batches with a deadline; none
// sleeps.
type watchRig struct {
	t     *testing.T
	root  string
	out   chan Batch
	fw    chan *fsnotify.Watcher
	mu    sync.Mutex
	warns []string
	seen  map[string]bool
	done  chan error
}

func newWatchRig(t *testing.T, files map[string]string) *watchRig {
	t.Helper()
	root := t.TempDir()
	for rel, data := range files {
		write(t, filepath.Join(root, rel), data)
	}
	w, err := New(root, Options{Quiet: 5 * time.Millisecond, MaxWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := &watchRig{t: t, root: w.root, out: make(chan Batch), fw: make(chan *fsnotify.Watcher, 1), seen: map[string]bool{}, done: make(chan error, 1)}
	w.newWatcher = func() (*fsnotify.Watcher, error) {
		fw, err := fsnotify.NewWatcher()
		r.fw <- fw
		return fw, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		r.done <- w.Run(ctx, r.out, func(msg string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.warns = append(r.warns, msg)
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	r.ready()
	return r
}

// ready writes a probe file until the watcher reports it: then the
// watches are in place.
func (r *watchRig) ready() {
	r.t.Helper()
	probe := filepath.Join(r.root, "probe.txt")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		write(r.t, probe, time.Now().String())
		select {
		case b := <-r.out:
			if slices.Contains(b.Paths, probe) {
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.t.Fatal("the watcher never reported the probe file")
}

// waitFor collects batches until every path in want was reported, and
// fails if an unwanted path was.
func (r *watchRig) waitFor(want []string, unwanted ...string) {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		missing := false
		for _, p := range want {
			if !r.seen[filepath.Join(r.root, p)] {
				missing = true
			}
		}
		for _, p := range unwanted {
			if r.seen[filepath.Join(r.root, p)] {
				r.t.Fatalf("%s was reported", p)
			}
		}
		if !missing {
			return
		}
		select {
		case b := <-r.out:
			if !slices.IsSorted(b.Paths) || len(slices.Compact(slices.Clone(b.Paths))) != len(b.Paths) {
				r.t.Errorf("batch not sorted and deduplicated: %v", b.Paths)
			}
			for _, p := range b.Paths {
				if !filepath.IsAbs(p) {
					r.t.Errorf("relative path %q in a batch", p)
				}
				r.seen[p] = true
			}
		case <-deadline:
			r.t.Fatalf("not reported in time: %v (seen %v)", want, r.seen)
		}
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherReportsChangesButNotIgnoredFiles(t *testing.T) {
	r := newWatchRig(t, map[string]string{
		"go.mod":                  "module example.com/w\n",
		"services/orders/main.go": "package main\n",
		".msxignore":              "*.log\n",
		".git/HEAD":               "ref\n",
	})
	// Ignored writes first: had they been reported, they would arrive no
	// later than the change after them.
	write(t, filepath.Join(r.root, ".git/HEAD"), "ref2\n")
	write(t, filepath.Join(r.root, ".msx/build/bin/orders"), "ELF")
	write(t, filepath.Join(r.root, "services/orders/.main.go.swp"), "x")
	write(t, filepath.Join(r.root, "services/orders/4913"), "")
	write(t, filepath.Join(r.root, "services/orders/app.log"), "log")
	write(t, filepath.Join(r.root, "services/orders/main.go"), "package main // v2\n")
	r.waitFor([]string{"services/orders/main.go"},
		".git/HEAD", ".msx/build/bin/orders", "services/orders/.main.go.swp", "services/orders/4913", "services/orders/app.log")
}

func TestWatcherWatchesNewFolders(t *testing.T) {
	r := newWatchRig(t, map[string]string{"go.mod": "module example.com/w\n"})
	// A whole tree at once: files written before the new folder's watch is
	// in place are reported by the scan of the new folder.
	write(t, filepath.Join(r.root, "services/billing/api/types.go"), "package api\n")
	write(t, filepath.Join(r.root, "services/billing/main.go"), "package main\n")
	r.waitFor([]string{"services/billing/api/types.go", "services/billing/main.go"})
	// And the new folder is watched from then on.
	write(t, filepath.Join(r.root, "services/billing/api/routes.go"), "package api\n")
	r.waitFor([]string{"services/billing/api/routes.go"})
}

func TestWatcherRescansAfterAnOverflow(t *testing.T) {
	r := newWatchRig(t, map[string]string{
		"go.mod":                  "module example.com/w\n",
		"services/orders/main.go": "package main\n",
		".msx/secret":             "x",
	})
	fw := <-r.fw
	fw.Errors <- fsnotify.ErrEventOverflow
	r.waitFor([]string{"go.mod", "services/orders/main.go"}, ".msx/secret")
	r.mu.Lock()
	if len(r.warns) != 1 || !strings.Contains(r.warns[0], "overflowed") || !strings.Contains(r.warns[0], "sysctl fs.inotify.max_queued_events=") {
		t.Errorf("warnings = %q", r.warns)
	}
	r.mu.Unlock()
	// Watching carries on.
	clear(r.seen)
	write(t, filepath.Join(r.root, "services/orders/main.go"), "package main // v2\n")
	r.waitFor([]string{"services/orders/main.go"})
}

func TestWatcherWarnsOnceAtTheWatchLimitAndCarriesOn(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", "b", "c"} {
		write(t, filepath.Join(root, d, "x.go"), "package x\n")
	}
	w, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	s := &session{w: w, warn: func(m string) { warns = append(warns, m) }}
	var added []string
	s.add = func(p string) error {
		if p != w.root {
			return syscall.ENOSPC
		}
		added = append(added, p)
		return nil
	}
	if _, err := s.addTree(w.root, false); err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "sudo sysctl fs.inotify.max_user_watches=") {
		t.Errorf("warnings = %q, want one with the fix", warns)
	}
	if !slices.Equal(added, []string{w.root}) {
		t.Errorf("watched %v", added)
	}
}

// A folder that cannot be watched is reported once, not skipped in silence:
// kqueue's descriptor limit (macOS) and Windows' long paths end up here.
func TestWatcherWarnsOnceForFoldersItCannotWatch(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", "b", "c"} {
		write(t, filepath.Join(root, d, "x.go"), "package x\n")
	}
	w, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{syscall.EMFILE, "ulimit -n 10240"},
		{errors.New("The filename or extension is too long."), "too long.), so changes under it are not rebuilt"},
	} {
		var warns []string
		s := &session{w: w, warn: func(m string) { warns = append(warns, m) }}
		s.add = func(p string) error {
			if p != w.root {
				return tc.err
			}
			return nil
		}
		if _, err := s.addTree(w.root, false); err != nil {
			t.Fatal(err)
		}
		if len(warns) != 1 || !strings.Contains(warns[0], tc.want) {
			t.Errorf("%v: warnings = %q, want one with %q", tc.err, warns, tc.want)
		}
	}
}
