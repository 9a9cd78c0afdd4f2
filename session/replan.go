package session

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/runner"
)

// followers are the log followers of an attached session: the containers
// of the first plan, and those a changed msx.yaml added.
type followers struct {
	s     *Session
	ctx   context.Context
	until chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	// running counts the follows under way; ended gets nil when the last
	// one ended (every container is gone), or the error of one that
	// failed.
	running int
	ended   chan error
}

// add follows targets until their containers are gone (or stopped, once
// until is closed).
func (f *followers) add(targets []runner.LogTarget) {
	if len(targets) == 0 {
		return
	}
	f.mu.Lock()
	f.running++
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if f.s.opts.Recover != nil {
			defer f.s.opts.Recover()
		}
		err := f.s.opts.Runner.Follow(f.ctx, targets, runner.FollowOptions{Until: f.until}, consumer{f.s})
		f.mu.Lock()
		f.running--
		last := f.running == 0
		f.mu.Unlock()
		if err != nil || last {
			select {
			case f.ended <- err:
			default:
			}
		}
	}()
}

// replan reads the manifest again after it changed and applies the
// difference, as msx up does: containers of new services are created,
// those of removed ones removed, changed ones recreated, the rest left
// running. A manifest that is not valid changes nothing: the environment
// keeps running as it was, and the error says what to fix.
func (s *Session) replan(ctx context.Context) {
	old, oldPlan := s.current()
	if s.opts.Reload == nil {
		s.publish(activity.Event{Kind: activity.Warning, Detail: "msx.yaml changed; stop and run msx up again to apply it"})
		return
	}
	m, err := s.opts.Reload()
	if err != nil {
		s.publish(activity.Event{Kind: activity.Warning,
			Detail: "msx.yaml changed but is not valid, so nothing was applied: " + sentence(err) + "; the environment keeps running as it was"})
		return
	}
	if m.Project != old.Project || m.Dir != old.Dir {
		s.publish(activity.Event{Kind: activity.Warning,
			Detail: "msx.yaml now names the project " + m.Project + "; stop (q or Ctrl-C) and run msx up again to move to it"})
		return
	}
	s.info("msx.yaml changed; applying it")
	s.applying.Store(true)
	defer s.applying.Store(false)
	unlock, err := Lock(ctx, m.Dir, func() {
		s.publish(activity.Event{Kind: activity.Waiting, Detail: "another msx is applying this workspace; waiting for it to finish"})
	})
	if err != nil {
		return // cancelled
	}
	plan, err := s.opts.Runner.Up(ctx, m, s.opts.Up)
	unlock()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		var se *runner.ServiceError
		if errors.As(err, &se) && len(se.Logs) > 0 {
			s.publish(activity.Event{Kind: activity.Crashed, Service: se.Service, ExitCode: se.ExitCode,
				Detail: se.Error(), Output: strings.Join(se.Logs, "\n")})
		}
		s.publish(activity.Event{Kind: activity.Warning,
			Detail: "applying the changed msx.yaml failed: " + sentence(err) + "; fix it and save again"})
		return
	}
	s.mu.Lock()
	s.m, s.plan = m, plan
	fl := s.follow
	s.mu.Unlock()

	var added, removed []string
	var targets []runner.LogTarget
	for _, c := range plan.Containers {
		if oldPlan.Container(c.Service) == nil {
			added = append(added, c.Service)
			targets = append(targets, runner.LogTarget{Service: c.Service, ID: c.Name, From: runner.FromRunStart})
		}
	}
	for _, c := range oldPlan.Containers {
		if plan.Container(c.Service) == nil {
			removed = append(removed, c.Service)
		}
	}
	if fl != nil {
		fl.add(targets)
	}
	words := "msx.yaml applied"
	if len(added) > 0 {
		words += "; added " + strings.Join(added, ", ")
	}
	if len(removed) > 0 {
		words += "; removed " + strings.Join(removed, ", ")
	}
	s.info("%s", words)
	if s.opts.LoadGraph != nil && (len(added) > 0 || len(removed) > 0) {
		// New programs' packages join the map of changes to programs.
		if g, err := s.opts.LoadGraph(ctx, s.targets(s.programs())); err == nil {
			s.setGraph(g)
		}
	}
}
