// Package session owns a running project once msx up applies its plan:
// it follows the logs, rebuilds and hot-swaps what changed, restarts,
// stops gracefully and, on a second interrupt, forcefully. Everything a
// user sees happen is published as a typed event (package activity); the
// plain printer and the dashboard are observers of the same stream.
//
// It is the one place that interprets interrupts: cmd hands it the signal
// channel and it decides what the first and the second mean.
package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/clock"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
	"github.com/msx-dev/msx/runner"
)

// Runner is what the session needs of the runner; *runner.Runner is one.
type Runner interface {
	Up(ctx context.Context, m *devenv.Manifest, opts runner.UpOptions) (*devenv.Plan, error)
	Follow(ctx context.Context, targets []runner.LogTarget, opts runner.FollowOptions, c runner.LogConsumer) error
	Stop(ctx context.Context, project, dir string, opts runner.StopOptions) error
	StopBound() time.Duration
	Swap(ctx context.Context, name, binary string) error
	Restart(ctx context.Context, name string) error
}

var _ Runner = (*runner.Runner)(nil)

// Builder compiles targets; *builder.Builder is one. Result.Binary is the
// linux binary on the host that a swap copies in.
type Builder interface {
	Build(ctx context.Context, targets []builder.Target) ([]builder.Result, error)
}

// Compiler is a Builder that can compile without packing images
// (*builder.Builder is one): a swap then needs only the compiler on its
// critical path, and pack, called after the swaps, brings the images up
// to date for the next msx up.
type Compiler interface {
	Compile(ctx context.Context, targets []builder.Target) ([]builder.Result, func(context.Context) ([]builder.Result, error), error)
}

// Graph maps changed files to the programs they are part of;
// builder.Graph is one. replan is set when the environment itself may
// have changed (msx.yaml, go.mod, go.sum).
type Graph interface {
	Affected(paths []string) (names []string, replan bool)
}

// Watch sends batches of changed files (absolute paths) until ctx ends;
// warn reports a problem that did not stop watching. An adapter over
// watch.Watcher is one.
type Watch func(ctx context.Context, out chan<- []string, warn func(string)) error

// Options make a session.
type Options struct {
	Manifest *devenv.Manifest
	// Up is what the session passes to Runner.Up.
	Up     runner.UpOptions
	Runner Runner
	// Builder rebuilds programs after a change or on Rebuild; nil turns
	// rebuilding off.
	Builder Builder
	// LoadGraph loads the map of changes to programs (go list, so it runs
	// in the background once attached); nil, or until it is loaded, every
	// program rebuilds on any change of Go source.
	LoadGraph func(ctx context.Context, targets []builder.Target) (Graph, error)
	// Watch, when set, is followed while attached: each batch rebuilds
	// and swaps what it affects.
	Watch Watch
	Bus   *activity.Bus
	// Clock defaults to the real one.
	Clock clock.Clock
	// Interrupts carries the user's Ctrl-C (and SIGTERM): the first stops
	// gracefully, the second forces. The context passed to Start and
	// Attach may end on the same Ctrl-C: the session counts it once.
	Interrupts <-chan os.Signal
	// Detach: Start leaves what it started running when it fails.
	Detach bool
	// SampleEvery is how often an attached session samples each
	// container's readiness, CPU and memory (when the Runner is a
	// Sampler); 0 is DefaultSampleEvery.
	SampleEvery time.Duration
	// Stats makes the samples read each container's CPU and memory, for
	// an observer that shows them (the dashboard): the engine's stats are
	// most of what sampling costs, and the plain printer shows none.
	Stats bool
	// StatusEvery is how often an attached session reads the project's
	// status (when the Runner is a StatusReader) to publish breaker and
	// dead-letter changes; 0 reads none. Status serves the reads it makes
	// to other readers too.
	StatusEvery time.Duration
	// ManifestPath is the manifest's file; a saved change to it re-plans
	// the environment while attached. Empty is msx.yaml in the
	// manifest's folder.
	ManifestPath string
	// Reload reads and checks the manifest again after it changed; nil
	// turns re-planning off (a change is then only a warning).
	Reload func() (*devenv.Manifest, error)
	// Recover, when set, is deferred at the top of every goroutine the
	// session starts: the dashboard's, which gives the terminal back
	// before a panic goes on.
	Recover func()
}

// Session is one running project. Its Controller methods (Restart,
// Rebuild, Quit) may be called from any goroutine.
type Session struct {
	opts  Options
	m     *devenv.Manifest
	bus   *activity.Bus
	clock clock.Clock

	plan *devenv.Plan
	// adopted names the services whose containers were running before
	// this up: following them starts at their new lines only.
	mu      sync.Mutex
	adopted map[string]bool
	// inSwap counts, per service, the restarts the session made itself
	// that the followers have not seen yet: not crashes, not news.
	inSwap map[string]int
	// busy counts, per service, the swaps and restarts under way: the
	// monitor does not judge its readiness meanwhile.
	busy map[string]int
	// health is the last of Ready, Unhealthy, Crashed and Stopped
	// published per service, under healthMu.
	healthMu sync.Mutex
	health   map[string]activity.Kind
	// stopPack cancels the images' pack after a swap, if one runs: a new
	// change goes first (the pack is redone after its swap, or by the next
	// msx up).
	stopPack context.CancelFunc

	compiler compilerOutput
	// status is the last status read (Status).
	status statusCache
	// graph, once loaded, maps changes to programs (under mu).
	graph Graph
	// follow follows the containers' logs once attached (under mu).
	follow *followers
	// stopping is set once the session stops the project: exits are
	// then stops, not crashes.
	stopping atomic.Bool
	// applying is set while a changed msx.yaml is applied: containers
	// come and go, and the monitor judges no one's readiness.
	applying atomic.Bool
	// rebuilding is set while a rebuild after a change runs.
	rebuilding atomic.Int32

	quit     chan struct{}
	quitOnce sync.Once
	rebuild  chan string
	// runGenerate runs go generate for the GraphQL packages pkgs, in dir
	// (goGenerate; tests replace it).
	runGenerate func(ctx context.Context, dir string, pkgs []string) ([]byte, error)
}

// New returns a session; nothing happens until Start.
func New(opts Options) *Session {
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real
	}
	bus := opts.Bus
	if bus == nil {
		bus = activity.NewBus(clk.Now)
	}
	s := &Session{
		opts:        opts,
		m:           opts.Manifest,
		bus:         bus,
		clock:       clk,
		adopted:     map[string]bool{},
		quit:        make(chan struct{}),
		rebuild:     make(chan string, 16),
		runGenerate: goGenerate,
	}
	s.compiler.s = s
	return s
}

// Bus is the session's event stream.
func (s *Session) Bus() *activity.Bus { return s.bus }

// Plan is the plan applied last: by Start, or after msx.yaml changed.
func (s *Session) Plan() *devenv.Plan {
	_, p := s.current()
	return p
}

// current is the manifest and the plan applied last.
func (s *Session) current() (*devenv.Manifest, *devenv.Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m, s.plan
}

func (s *Session) publish(e activity.Event) {
	switch e.Kind {
	case activity.Ready, activity.Unhealthy, activity.Crashed, activity.Stopped:
		if e.Service != "" {
			s.healthMu.Lock()
			if s.health == nil {
				s.health = map[string]activity.Kind{}
			}
			s.health[e.Service] = e.Kind
			s.healthMu.Unlock()
		}
	}
	s.bus.Publish(e)
}

func (s *Session) info(format string, args ...any) {
	s.publish(activity.Event{Kind: activity.Info, Detail: fmt.Sprintf(format, args...)})
}

// Start applies the plan under the workspace lock and waits until every
// container is ready. Attached (not Options.Detach), a failure or a Ctrl-C
// stops what this up started before Start returns.
func (s *Session) Start(ctx context.Context) (*devenv.Plan, error) {
	unlock, err := Lock(ctx, s.m.Dir, func() {
		s.publish(activity.Event{Kind: activity.Waiting, Detail: "another msx is applying this workspace; waiting for it to finish"})
	})
	if err != nil {
		return nil, err
	}
	plan, err := s.opts.Runner.Up(ctx, s.m, s.opts.Up)
	unlock()
	if err == nil {
		s.setPlan(plan)
		return plan, nil
	}
	var se *runner.ServiceError
	if errors.As(err, &se) && len(se.Logs) > 0 {
		s.publish(activity.Event{Kind: activity.Crashed, Service: se.Service, ExitCode: se.ExitCode,
			Detail: se.Error(), Output: strings.Join(se.Logs, "\n")})
	}
	if s.opts.Detach {
		return nil, err
	}
	if errors.Is(err, msxerr.ErrCancelled) || ctx.Err() != nil {
		s.stop(true, s.opts.Interrupts != nil, nil)
		return nil, msxerr.ErrCancelled
	}
	var ue *runner.UpError
	if errors.As(err, &ue) && len(ue.Started) > 0 {
		names := make([]string, len(ue.Started))
		for i, n := range ue.Started {
			names[i] = strings.TrimPrefix(n, s.m.Project+"-")
		}
		s.info("stopping what this up started: %s", strings.Join(names, ", "))
		s.stop(false, false, ue.Started)
	}
	return nil, err
}

func (s *Session) setPlan(p *devenv.Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plan = p
}

// Progress receives the runner's and the builder's steps and publishes
// them as events.
func (s *Session) Progress(p progress.Step) {
	e := activity.Event{Step: p, Duration: p.Duration}
	if p.Object == progress.Service {
		e.Service = p.Name
	}
	switch p.Kind {
	case progress.Compiling, progress.Packing, progress.UpToDate, progress.Built:
		if s.rebuilding.Load() > 0 {
			// A rebuild publishes its own Building and Built, with durations.
			return
		}
		e.Kind = activity.Building
		if p.Kind == progress.UpToDate || p.Kind == progress.Built {
			e.Kind = activity.Built
		}
	case progress.Ready:
		e.Kind = activity.Ready
	case progress.Running:
		s.mu.Lock()
		s.adopted[p.Name] = true
		s.mu.Unlock()
		e.Kind = activity.Starting
	case progress.Created, progress.Recreated, progress.Started:
		e.Kind = activity.Starting
	case progress.Stopped, progress.Killed, progress.Removed:
		e.Kind = activity.Stopped
	default:
		e.Kind = activity.Info
	}
	if p.Object != progress.Service {
		// A network, a volume, an image, a container by its name: the
		// project's news, not a service's.
		e.Kind = activity.Info
	}
	s.publish(e)
}

// Attach follows the project until the user stops it (Ctrl-C, Quit) or
// its containers are gone, rebuilding and swapping on changes when
// watching. It returns ErrCancelled after an interrupt, nil after Quit or
// when the containers went away on their own.
func (s *Session) Attach(ctx context.Context, started time.Time) error {
	_, p := s.current()
	if p == nil {
		return errors.New("session: Attach before Start")
	}
	targets := make([]runner.LogTarget, 0, len(p.Containers))
	s.mu.Lock()
	for _, c := range p.Containers {
		from := runner.FromRunStart
		if s.adopted[c.Service] {
			from = runner.FromNow
		}
		targets = append(targets, runner.LogTarget{Service: c.Service, ID: c.Name, From: from})
	}
	s.mu.Unlock()
	url := fmt.Sprintf("http://%s:%d", devenv.LoopbackIP, p.GatewayPort)
	s.publish(activity.Event{Kind: activity.Following, Detail: url,
		Duration: s.clock.Now().Sub(started)})

	// Followers outlive ctx: they show what the containers print while
	// they stop, and end once each stopped (until) or after a bound.
	logCtx, cancelLogs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelLogs()
	fl := &followers{s: s, ctx: logCtx, until: make(chan struct{}), ended: make(chan error, 1)}
	s.mu.Lock()
	s.follow = fl
	s.mu.Unlock()
	fl.add(targets)

	work, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopWork(); wg.Wait() }()
	if s.opts.Builder != nil {
		wg.Add(1)
		go func() {
			if s.opts.Recover != nil {
				defer s.opts.Recover()
			}
			defer wg.Done()
			s.buildLoop(work)
		}()
	}

	if _, ok := s.opts.Runner.(StatusReader); ok && s.opts.StatusEvery > 0 {
		wg.Add(1)
		go func() {
			if s.opts.Recover != nil {
				defer s.opts.Recover()
			}
			defer wg.Done()
			s.watchStatus(work)
		}()
	}

	if sm, ok := s.opts.Runner.(Sampler); ok {
		wg.Add(1)
		go func() {
			if s.opts.Recover != nil {
				defer s.opts.Recover()
			}
			defer wg.Done()
			s.monitor(work, sm)
		}()
	}

	interrupted, copied, quit := true, false, false
	select {
	case err := <-fl.ended:
		// Every container is gone (an msx down elsewhere), or the engine
		// failed.
		if err != nil {
			return msxerr.Wrap(err, "run msx doctor if Docker misbehaves", "following the logs failed: %s", err)
		}
		s.info("the project's containers are gone")
		return nil
	case <-ctx.Done():
		// Ended by the interrupt cmd.Main turns into a cancel: its copy
		// on the channel is not a second one.
		copied = s.opts.Interrupts != nil
	case <-s.opts.Interrupts:
	case <-s.quit:
		interrupted, quit = false, true
	}
	stopWork()
	wg.Wait()
	close(fl.until)
	s.stop(interrupted, copied, nil)
	all := make(chan struct{})
	go func() { fl.wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-s.clock.After(2 * time.Second):
		cancelLogs()
		<-all
	}
	if quit {
		// The user quit from the dashboard: a clean end, not an interrupt.
		return nil
	}
	return msxerr.ErrCancelled
}

// stop stops the project's containers (only those named, when only is
// set) gracefully, in reverse dependency order; the next interrupt forces
// it. It returns within a bounded time even if the engine hangs. When the
// stop was started by a cancelled context, copied says the channel carries
// the same interrupt too: it is taken, if it comes at once, as the same.
func (s *Session) stop(interrupted, copied bool, only []string) {
	s.stopping.Store(true)
	force := "Ctrl-C to force"
	if interrupted {
		force = "Ctrl-C again to force"
	}
	if copied {
		select {
		case <-s.opts.Interrupts:
		case <-s.clock.After(100 * time.Millisecond):
		}
	}
	s.publish(activity.Event{Kind: activity.Stopping, Detail: "stopping (" + force + ")"})
	m, _ := s.current()
	opts := runner.StopOptions{Only: only, Deps: runner.StopDeps(m)}
	bg := context.Background()
	eng := s.opts.Runner
	stopped := make(chan error, 1)
	graceful := opts
	go func() { stopped <- eng.Stop(bg, m.Project, m.Dir, graceful) }()
	bound := eng.StopBound() + time.Second
	hung := "Docker did not answer in time; run msx down, or msx doctor"
	select {
	case err := <-stopped:
		if err != nil {
			s.publish(activity.Event{Kind: activity.Warning, Detail: sentence(err)})
		}
	case <-s.opts.Interrupts:
		s.publish(activity.Event{Kind: activity.Stopping, Detail: "forcing"})
		opts.Force = true
		killed := make(chan error, 1)
		go func() { killed <- eng.Stop(bg, m.Project, m.Dir, opts) }()
		select {
		case err := <-killed:
			if err != nil {
				s.publish(activity.Event{Kind: activity.Warning, Detail: sentence(err)})
			}
		case <-s.clock.After(bound):
			s.publish(activity.Event{Kind: activity.Warning, Detail: hung})
		}
	case <-s.clock.After(bound):
		// Stop is bounded itself; this is the last resort.
		s.publish(activity.Event{Kind: activity.Warning, Detail: hung})
	}
}

// Quit stops the project gracefully, as the first Ctrl-C does.
func (s *Session) Quit() { s.quitOnce.Do(func() { close(s.quit) }) }

// ProgramRestarter is implemented by a Runner that can restart the
// program inside its container through msx-init (*runner.Runner does):
// done is false when the container has no msx-init.
type ProgramRestarter interface {
	RestartProgram(ctx context.Context, name string) (done bool, err error)
}

// Restart restarts a service gracefully: its program inside the
// container through msx-init, as a swap does (the container, its network
// and ports stay: a fraction of a container restart), or the container
// when its image has no msx-init.
func (s *Session) Restart(service string) {
	m, _ := s.current()
	name := devenv.ContainerName(m.Project, service)
	go func() {
		if s.opts.Recover != nil {
			defer s.opts.Recover()
		}
		defer s.settle(service)()
		ctx := context.Background()
		start := s.clock.Now()
		if pr, ok := s.opts.Runner.(ProgramRestarter); ok {
			done, err := pr.RestartProgram(ctx, name)
			if err != nil {
				s.publish(activity.Event{Kind: activity.Warning, Service: service, Detail: sentence(err)})
				return
			}
			if done {
				if !s.waitReady(ctx, service, "after the restart") {
					return
				}
				s.publish(activity.Event{Kind: activity.Restarted, Service: service, Detail: "restarted on request",
					Duration: s.clock.Now().Sub(start)})
				return
			}
		}
		s.expectRestart(service)
		if err := s.opts.Runner.Restart(ctx, name); err != nil {
			s.sawRestart(service)
			s.publish(activity.Event{Kind: activity.Warning, Service: service, Detail: sentence(err)})
			return
		}
		s.publish(activity.Event{Kind: activity.Restarted, Service: service, Detail: "restarted on request (the container)",
			Duration: s.clock.Now().Sub(start)})
	}()
}

// Rebuild rebuilds a service and swaps it in, whatever changed.
func (s *Session) Rebuild(service string) {
	select {
	case s.rebuild <- service:
	default: // a burst of requests: the queued ones cover it
	}
}

// sentence words an error for an event's detail, as cmd.Main words one
// for the terminal: one rule, msxerr's.
var sentence = msxerr.Sentence

// consumer turns what the followers see into events.
type consumer struct{ s *Session }

func (c consumer) Log(service, stream, line string) {
	c.s.publish(activity.Event{Kind: activity.Log, Service: service, Stream: stream, Line: line})
}

func (c consumer) Status(service, status string) {
	c.s.publish(activity.Event{Kind: activity.Info, Service: service, Detail: status})
}

func (c consumer) Change(service string, ch runner.Change) {
	e := activity.Event{Service: service}
	switch ch.Kind {
	case runner.Exited:
		if c.s.swapping(service) {
			// Its own swap or restart: not a crash.
			return
		}
		e.Kind, e.ExitCode, e.Detail = activity.Crashed, ch.ExitCode, fmt.Sprintf("exited with code %d", ch.ExitCode)
		if c.s.stopping.Load() {
			e.Kind = activity.Stopped
		}
	case runner.Restarted:
		if c.s.sawRestart(service) {
			return
		}
		e.Kind, e.Detail = activity.Restarted, "restarted"
	case runner.Recreated:
		e.Kind, e.Detail = activity.Restarted, "recreated ("+ch.Detail+")"
	case runner.FollowFailing:
		e.Kind, e.Detail = activity.Warning, "cannot follow its logs: "+ch.Err.Error()+" (still trying)"
	default:
		return
	}
	c.s.publish(e)
}

var _ runner.ChangeConsumer = consumer{}

// services is the plan's programs that msx builds (services and the
// gateway), in plan order.
func (s *Session) programs() []string {
	_, p := s.current()
	var out []string
	for _, c := range p.Containers {
		if c.Role != devenv.RoleDatabase {
			out = append(out, c.Service)
		}
	}
	return out
}

// swapping tracks the services the session itself is restarting, so that
// their exits are not reported as crashes.
func (s *Session) swapping(service string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inSwap[service] > 0
}

// expectRestart says the session is about to restart service itself.
func (s *Session) expectRestart(service string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inSwap == nil {
		s.inSwap = map[string]int{}
	}
	s.inSwap[service]++
}

// sawRestart consumes one expected restart of service, if any, and says
// whether there was one; a failed restart takes its own back the same way.
func (s *Session) sawRestart(service string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inSwap[service] > 0 {
		s.inSwap[service]--
		return true
	}
	return false
}
