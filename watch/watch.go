// Package watch reports changes to a workspace's files in debounced
// batches: recursive fsnotify watches, ignore rules (built in and
// .msxignore), and a rescan whenever the kernel may have lost events.
package watch

import (
	"context"
	"errors"
	"fmt"
	"github.com/msx-dev/msx/clock"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options configure a Watcher. Zero values take the defaults.
type Options struct {
	// Quiet is how long no change must come before a batch is ready; each
	// change restarts it.
	Quiet time.Duration
	// MaxWait bounds how long a batch waits for quiet after its first
	// change.
	MaxWait time.Duration
	// Ignore holds extra patterns, in the syntax of .msxignore, applied
	// after the workspace's .msxignore.
	Ignore []string
	// Clock makes the debounce timers; nil is the real clock.
	Clock clock.Clock
}

// Watcher watches one workspace.
type Watcher struct {
	root   string
	opts   Options
	ignore *Ignore

	// newWatcher makes the fsnotify watcher; tests replace it.
	newWatcher func() (*fsnotify.Watcher, error)
}

// New returns a watcher of the workspace at root. It reads root/.msxignore
// once: a change to it takes effect at the next msx up.
func New(root string, opts Options) (*Watcher, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if opts.Quiet <= 0 {
		opts.Quiet = DefaultQuiet
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.MaxWait < opts.Quiet {
		opts.MaxWait = opts.Quiet
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real
	}
	ig, err := LoadIgnore(abs)
	if err != nil {
		return nil, err
	}
	extra, err := ParseIgnore(opts.Ignore)
	if err != nil {
		return nil, err
	}
	ig.rules = append(ig.rules, extra.rules...)
	return &Watcher{root: abs, opts: opts, ignore: ig, newWatcher: fsnotify.NewWatcher}, nil
}

// Run watches until ctx is done, sending a Batch to out for each
// debounced set of changes; it never drops a change while the consumer is
// busy (changes join the batch that waits). warn receives one line for a
// problem that does not stop the watching: a kernel limit reached, lost
// events (followed by a rescan that reports every file as changed).
func (w *Watcher) Run(ctx context.Context, out chan<- Batch, warn func(msg string)) error {
	fw, err := w.newWatcher()
	if err != nil {
		if errors.Is(err, syscall.EMFILE) && runtime.GOOS == "linux" {
			return fmt.Errorf("cannot watch %s: too many inotify instances; raise the limit with: sudo sysctl fs.inotify.max_user_instances=1024", w.root)
		}
		if errors.Is(err, syscall.EMFILE) {
			return fmt.Errorf("cannot watch %s: too many open files; raise the limit with: ulimit -n 10240", w.root)
		}
		return fmt.Errorf("cannot watch %s: %w", w.root, err)
	}
	defer fw.Close()
	if warn == nil {
		warn = func(string) {}
	}
	s := &session{w: w, add: fw.Add, warn: warn}
	if _, err := s.addTree(w.root, false); err != nil {
		return err
	}

	in := make(chan []string)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		debounce(ctx, in, out, w.opts.Clock, w.opts.Quiet, w.opts.MaxWait)
	}()
	defer wg.Wait()
	emit := func(paths []string) bool {
		if len(paths) == 0 {
			return true
		}
		select {
		case in <- paths:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if !emit(s.event(ev)) {
				return nil
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				warn(fmt.Sprintf("watching %s: %v; rescanning", w.root, err))
			} else {
				warn("the kernel's inotify queue overflowed and changes were lost; rescanning (raise the queue with: sudo sysctl fs.inotify.max_queued_events=65536)")
			}
			paths, err := s.addTree(w.root, true)
			if err != nil {
				return err
			}
			if !emit(paths) {
				return nil
			}
		}
	}
}

// session is the state of one Run.
type session struct {
	w           *Watcher
	add         func(path string) error // adds an inotify watch; tests replace it
	warn        func(string)
	limitWarned bool
	fdWarned    bool // the open-file limit (kqueue) was reported
	failWarned  bool // a folder that cannot be watched was reported
}

// rel is p relative to the root, slash-separated.
func (s *session) rel(p string) string {
	r, err := filepath.Rel(s.w.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// event turns one fsnotify event into the changed paths it stands for. A
// new folder is watched, and the files already in it are reported: they
// may have been written before the watch was in place.
func (s *session) event(ev fsnotify.Event) []string {
	if ev.Op == fsnotify.Chmod {
		return nil // touch, chmod and editors' attribute writes change no content
	}
	info, err := os.Lstat(ev.Name)
	isDir := err == nil && info.IsDir()
	if s.w.ignore.Ignored(s.rel(ev.Name), isDir) {
		return nil
	}
	if isDir && ev.Has(fsnotify.Create) {
		paths, _ := s.addTree(ev.Name, true)
		return paths
	}
	if isDir {
		return nil
	}
	return []string{ev.Name}
}

// addTree watches dir and every folder under it that is not ignored.
// With files, it returns the files under dir that are not ignored.
func (s *session) addTree(dir string, files bool) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && p == s.w.root {
				return err
			}
			return nil // gone meanwhile, or unreadable: nothing to watch
		}
		if p != s.w.root && s.w.ignore.Ignored(s.rel(p), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			if files && d.Type().IsRegular() {
				paths = append(paths, p)
			}
			return nil
		}
		if err := s.add(p); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				if !s.limitWarned {
					s.limitWarned = true
					s.warn(fmt.Sprintf("the kernel's inotify watch limit is reached, so some folders of %s are not watched; raise it with: sudo sysctl fs.inotify.max_user_watches=524288", s.w.root))
				}
				return nil
			}
			if p == s.w.root {
				return err
			}
			s.warnUnwatched(p, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot watch %s: %w", s.w.root, err)
	}
	return paths, nil
}

// warnUnwatched reports, once, a folder below the root that cannot be
// watched: with kqueue (macOS) every watched file and folder holds a file
// descriptor, and on Windows a path past 260 characters can fail unless long
// paths are enabled. Its changes would otherwise be missed in silence.
func (s *session) warnUnwatched(p string, err error) {
	if errors.Is(err, syscall.EMFILE) {
		if !s.fdWarned {
			s.fdWarned = true
			s.warn(fmt.Sprintf("the open-file limit is reached, so some folders of %s are not watched (kqueue needs a descriptor per watched file); raise it with: ulimit -n 10240, or list big folders in %s", s.w.root, IgnoreFile))
		}
		return
	}
	if !s.failWarned {
		s.failWarned = true
		s.warn(fmt.Sprintf("cannot watch %s (%v), so changes under it are not rebuilt; list it in %s if it holds no code", p, err, IgnoreFile))
	}
}
