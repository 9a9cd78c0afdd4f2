package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/runner"
)

// ReadyWaiter is implemented by an Engine that can wait for a swapped
// container to answer its readiness check (*runner.Runner does); without
// it, a swap is reported when the process was restarted.
type ReadyWaiter interface {
	WaitReady(ctx context.Context, c *devenv.Container) error
}

// buildLoop rebuilds and swaps what changes affect, one build at a time.
// Changes that arrive during a build are collected, never dropped, and
// built together as soon as it ends. A GraphQL change that arrives during
// a build generates after it: gqlgen removes and rewrites the code the
// build is compiling.
func (s *Session) buildLoop(ctx context.Context) {
	changes := make(chan []string, 16)
	if s.opts.Watch != nil {
		warn := func(msg string) { s.publish(activity.Event{Kind: activity.Warning, Detail: msg}) }
		go func() {
			if s.opts.Recover != nil {
				defer s.opts.Recover()
			}
			if err := s.opts.Watch(ctx, changes, warn); err != nil && ctx.Err() == nil {
				warn("watching the workspace stopped: " + sentence(err) + "; changes are no longer rebuilt")
			}
		}()
	}
	if s.opts.LoadGraph != nil {
		g, err := s.opts.LoadGraph(ctx, s.targets(s.programs()))
		switch {
		case err == nil:
			s.setGraph(g)
		case ctx.Err() == nil:
			s.publish(activity.Event{Kind: activity.Warning,
				Detail: "cannot map changes to services (" + sentence(err) + "); every change rebuilds every service"})
		}
	}
	gen := s.generator()    // a GraphQL schema's change generates first
	var toGenerate []string // changed files that generate once no build runs
	pending := map[string]bool{}
	replan := false // msx.yaml changed: the environment is planned again
	building := false
	done := make(chan struct{})
	for {
		select {
		case <-ctx.Done():
			if building {
				<-done
			}
			return
		case paths := <-changes:
			toGenerate = append(toGenerate, paths...)
		case n := <-s.rebuild:
			if slices.Contains(s.programs(), n) {
				pending[n] = true
			}
		case <-done:
			building = false
		}
		if len(toGenerate) > 0 && (!building || !gen.generates(toGenerate)) {
			names, manifest := s.affected(gen.generate(ctx, toGenerate))
			toGenerate = nil
			for _, n := range names {
				pending[n] = true
			}
			replan = replan || manifest
		}
		if building && (len(pending) > 0 || replan || len(toGenerate) > 0) {
			s.cancelPack()
		}
		if !building && replan {
			// Applying the plan builds the images of whatever changed: the
			// programs pending are brought up to date with it.
			replan, pending, building = false, map[string]bool{}, true
			go func() {
				if s.opts.Recover != nil {
					defer s.opts.Recover()
				}
				s.replan(ctx)
				done <- struct{}{}
			}()
		}
		if !building && len(pending) > 0 {
			names := slices.Sorted(maps.Keys(pending))
			pending = map[string]bool{}
			building = true
			go func() {
				if s.opts.Recover != nil {
					defer s.opts.Recover()
				}
				s.rebuildAndSwap(ctx, names)
				done <- struct{}{}
			}()
		}
	}
}

// affected is the programs a batch of changed files is part of, and
// whether the manifest is one of the files (the environment is then
// planned again).
func (s *Session) affected(paths []string) (names []string, manifest bool) {
	mpath := s.manifestPath()
	paths = slices.DeleteFunc(slices.Clone(paths), func(p string) bool {
		if filepath.Clean(p) == mpath {
			manifest = true
			return true
		}
		return false
	})
	all := s.programs()
	g := s.currentGraph()
	if g == nil {
		for _, p := range paths {
			if b := filepath.Base(p); strings.HasSuffix(b, ".go") || b == "go.mod" || b == "go.sum" {
				return all, manifest
			}
		}
		return nil, manifest
	}
	names, all2 := g.Affected(paths)
	if all2 {
		// go.mod or go.sum: every program may be affected.
		return all, manifest
	}
	return slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(all, n) }), manifest
}

func (s *Session) setGraph(g Graph) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.graph = g
}

func (s *Session) currentGraph() Graph {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.graph
}

// manifestPath is the manifest's file, cleaned.
func (s *Session) manifestPath() string {
	if s.opts.ManifestPath != "" {
		return filepath.Clean(s.opts.ManifestPath)
	}
	m, _ := s.current()
	return filepath.Join(m.Dir, "msx.yaml")
}

// rebuildAndSwap builds names in one build and swaps each new binary into
// its running container. A failed build leaves every old version serving.
func (s *Session) rebuildAndSwap(ctx context.Context, names []string) {
	s.rebuilding.Add(1)
	defer s.rebuilding.Add(-1)
	start := s.clock.Now()
	targets := s.targets(names)
	for _, n := range names {
		s.publish(activity.Event{Kind: activity.Building, Service: n, Detail: "compiling"})
	}
	before := s.compilerFailures()
	var results []builder.Result
	var pack func(context.Context) ([]builder.Result, error)
	var err error
	if c, ok := s.opts.Builder.(Compiler); ok {
		results, pack, err = c.Compile(ctx, targets)
	} else {
		results, err = s.opts.Builder.Build(ctx, targets)
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if s.compilerFailures() == before {
			// Not the compiler (its output was published): say why.
			for _, n := range names {
				s.publish(activity.Event{Kind: activity.BuildFailed, Service: n, Detail: sentence(err),
					Duration: s.clock.Now().Sub(start)})
			}
		}
		s.publish(activity.Event{Kind: activity.Warning,
			Detail: "the build failed; the previous version keeps serving until the next good build"})
		return
	}
	built := s.clock.Now().Sub(start)
	var wg sync.WaitGroup
	for _, r := range results {
		s.publish(activity.Event{Kind: activity.Built, Service: r.Name, Detail: "built", Duration: built})
		wg.Add(1)
		go func() {
			if s.opts.Recover != nil {
				defer s.opts.Recover()
			}
			defer wg.Done()
			s.swap(ctx, r, start)
		}()
	}
	wg.Wait()
	if pack != nil {
		// After the swaps, before the next build writes these binaries
		// again: the images a later msx up finds are the new code. A
		// change meanwhile cancels it (its own swap packs again); a
		// failure is only a slower next up, which packs them itself.
		pctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		s.stopPack = cancel
		s.mu.Unlock()
		_, err := pack(pctx)
		s.mu.Lock()
		s.stopPack = nil
		s.mu.Unlock()
		cancelled := pctx.Err() != nil
		cancel()
		if err != nil && !cancelled {
			s.publish(activity.Event{Kind: activity.Warning,
				Detail: "packing the new images failed (" + sentence(err) + "); the next msx up packs them"})
		}
	}
}

// cancelPack stops the pack after a swap, if one runs.
func (s *Session) cancelPack() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopPack != nil {
		s.stopPack()
	}
}

// targets are the build targets of programs.
func (s *Session) targets(names []string) []builder.Target {
	out := make([]builder.Target, len(names))
	for i, n := range names {
		pkg := devenv.ServicePkg(n)
		if n == devenv.GatewayName {
			pkg = devenv.GatewayPkg
		}
		out[i] = builder.Target{Name: n, Pkg: pkg}
	}
	return out
}

// swap puts one new binary into every container of its build (a service's
// replicas, side by side) and waits until each is ready, or reports which
// crashed.
func (s *Session) swap(ctx context.Context, r builder.Result, start time.Time) {
	_, plan := s.current()
	var wg sync.WaitGroup
	for _, c := range plan.ContainersOf(r.Name) {
		wg.Add(1)
		go func() {
			if s.opts.Recover != nil {
				defer s.opts.Recover()
			}
			defer wg.Done()
			s.swapInto(ctx, c, r, start)
		}()
	}
	wg.Wait()
}

// unchangedSwap is the Swapped detail when the build gave the binary the
// previous build left (msx up's b key with nothing changed): the swap only
// restarted the same program.
const unchangedSwap = "nothing changed since the last build; the same program restarted"

// swapInto puts a build's binary into one container, by its instance name.
func (s *Session) swapInto(ctx context.Context, c devenv.Container, r builder.Result, start time.Time) {
	binary := r.Binary
	defer s.settle(c.Service)()
	// msx-init restarts the program inside the container: the container
	// does not stop, so there is no restart to hide, and an exit after
	// this is the new program's crash.
	if err := s.opts.Runner.Swap(ctx, c.Name, binary); err != nil {
		if ctx.Err() == nil {
			s.publish(activity.Event{Kind: activity.Warning, Service: c.Service, Detail: "the swap failed: " + sentence(err)})
		}
		return
	}
	if !s.waitReady(ctx, c.Service, "after the swap") {
		return
	}
	detail := "code changed"
	if r.Unchanged {
		detail = unchangedSwap
	}
	s.publish(activity.Event{Kind: activity.Swapped, Service: c.Service, Detail: detail,
		Duration: s.clock.Now().Sub(start)})
}

// waitReady waits, when the Engine can, until service answers its
// readiness check after the session restarted its program; false, with
// Crashed published, when it exited or never became ready ("after the
// swap": when).
func (s *Session) waitReady(ctx context.Context, service, when string) bool {
	w, ok := s.opts.Runner.(ReadyWaiter)
	_, plan := s.current()
	c := plan.Container(service)
	if !ok || c == nil {
		return true
	}
	err := w.WaitReady(ctx, c)
	if err == nil {
		if s.shownHealth(service) != activity.Ready {
			// It had crashed or was unhealthy: the new program recovered it.
			s.publish(activity.Event{Kind: activity.Ready, Service: service})
		}
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	e := activity.Event{Kind: activity.Crashed, Service: service, Detail: sentence(err)}
	var se *runner.ServiceError
	if errors.As(err, &se) {
		e.ExitCode = se.ExitCode
		e.Output = strings.Join(se.Logs, "\n")
		if se.ExitCode >= 0 {
			e.Detail = fmt.Sprintf("exited with code %d %s", se.ExitCode, when)
		}
	}
	s.publish(e)
	return false
}

// compilerOutput collects what the builder writes when the compiler fails
// ("# NAME: go build failed" and the compiler's lines) and publishes it as
// BuildFailed of that service.
type compilerOutput struct {
	s     *Session
	mu    sync.Mutex
	count int
}

// CompilerOutput is where the builder writes the compiler's errors
// (builder.Options.Stderr): each failure becomes a BuildFailed event with
// the compiler's output.
func (s *Session) CompilerOutput() io.Writer { return &s.compiler }

func (s *Session) compilerFailures() int {
	s.compiler.mu.Lock()
	defer s.compiler.mu.Unlock()
	return s.compiler.count
}

// Write takes one failure per call, as the builder writes it: a header
// "# NAME[, NAME...]: go build failed", then the compiler's lines.
func (w *compilerOutput) Write(p []byte) (int, error) {
	text := string(p)
	services := []string{""}
	if head, rest, ok := strings.Cut(text, "\n"); ok && strings.HasPrefix(head, "# ") && strings.HasSuffix(head, ": go build failed") {
		services = strings.Split(strings.TrimSuffix(strings.TrimPrefix(head, "# "), ": go build failed"), ", ")
		text = rest
	}
	w.mu.Lock()
	w.count++
	w.mu.Unlock()
	for _, svc := range services {
		w.s.publish(activity.Event{Kind: activity.BuildFailed, Service: svc, Detail: "does not compile",
			Output: strings.TrimRight(text, "\n")})
	}
	return len(p), nil
}
