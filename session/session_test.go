package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/clock"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
	"github.com/msx-dev/msx/runner"
)

// fakeClock fires After only when the test advances it. The session only
// reads the time and waits with After.
type fakeClock struct {
	clock.Clock
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// waiting is how many After channels have not fired yet.
func (c *fakeClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// tick waits until someone waits on the clock, moves it on by d, and
// waits until someone waits again: a loop that sleeps on the clock has
// done one round.
func (c *fakeClock) tick(t *testing.T, d time.Duration) {
	t.Helper()
	untilWaiting := func() {
		deadline := time.Now().Add(10 * time.Second)
		for c.waiting() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("nothing waits on the clock")
			}
			time.Sleep(time.Millisecond)
		}
	}
	untilWaiting()
	c.Advance(d)
	untilWaiting()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// fakeEngine plays the runner: Up reports progress and returns a plan of
// orders and the gateway; Follow hands the test its consumer.
type fakeEngine struct {
	s        *Session
	upErr    error
	mu       sync.Mutex
	calls    []string
	consumer chan runner.LogConsumer
	// stopGate, when set, blocks a graceful Stop until closed.
	stopGate chan struct{}
	stopErr  error
	swapErr  error
	readyErr error
	// noInit: the containers' images have no msx-init (RestartProgram
	// does nothing).
	noInit bool
	// sample, when set, is what Sample sees of a service.
	sample func(service string) runner.Sample
	// statuses feeds Status, one read per value; status, when set
	// instead, answers it.
	statuses chan []runner.ServiceStatus
	status   func() ([]runner.ServiceStatus, error)
}

func (e *fakeEngine) call(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, fmt.Sprintf(format, args...))
}

func (e *fakeEngine) called() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func (e *fakeEngine) Up(ctx context.Context, m *devenv.Manifest, _ runner.UpOptions) (*devenv.Plan, error) {
	e.call("up")
	if e.upErr != nil {
		return nil, e.upErr
	}
	p := &devenv.Plan{Project: m.Project, GatewayPort: 8080}
	for _, n := range m.ServiceNames() {
		for _, inst := range m.ReplicaNames(n) {
			e.s.Progress(progress.Step{Kind: progress.Created, Name: inst})
			e.s.Progress(progress.Step{Kind: progress.Ready, Name: inst})
			p.Containers = append(p.Containers, devenv.Container{Name: "shop-" + inst, Service: inst, Role: devenv.RoleService,
				Image: devenv.ImageRef{Build: n, Pkg: devenv.ServicePkg(n)}})
		}
	}
	e.s.Progress(progress.Step{Kind: progress.Running, Name: "gateway"})
	e.s.Progress(progress.Step{Kind: progress.Ready, Name: "gateway"})
	p.Containers = append(p.Containers, devenv.Container{Name: "shop-gateway", Service: "gateway", Role: devenv.RoleGateway,
		Image: devenv.ImageRef{Build: devenv.GatewayName, Pkg: devenv.GatewayPkg}})
	return p, nil
}

func (e *fakeEngine) Follow(ctx context.Context, targets []runner.LogTarget, opts runner.FollowOptions, c runner.LogConsumer) error {
	var ts []string
	for _, t := range targets {
		ts = append(ts, fmt.Sprintf("%s:%d", t.ID, t.From))
	}
	e.call("follow %s", strings.Join(ts, " "))
	e.consumer <- c
	select {
	case <-ctx.Done():
	case <-opts.Until:
	}
	return nil
}

func (e *fakeEngine) Stop(_ context.Context, _, _ string, opts runner.StopOptions) error {
	e.call("stop force=%v only=%v", opts.Force, opts.Only)
	if !opts.Force && e.stopGate != nil {
		<-e.stopGate
	}
	e.s.Progress(progress.Step{Kind: progress.Stopped, Name: "orders"})
	return e.stopErr
}

func (e *fakeEngine) StopBound() time.Duration { return 10 * time.Second }

func (e *fakeEngine) Swap(_ context.Context, name, binary string) error {
	e.call("swap %s %s", name, binary)
	return e.swapErr
}

func (e *fakeEngine) Restart(_ context.Context, name string) error {
	e.call("restart %s", name)
	return nil
}

func (e *fakeEngine) RestartProgram(_ context.Context, name string) (bool, error) {
	if e.noInit {
		return false, nil
	}
	e.call("restart program %s", name)
	return true, nil
}

func (e *fakeEngine) Sample(_ context.Context, c *devenv.Container, _ bool) (runner.Sample, error) {
	e.mu.Lock()
	f := e.sample
	e.mu.Unlock()
	if f == nil {
		return runner.Sample{}, nil
	}
	return f(c.Service), nil
}

func (e *fakeEngine) Status(ctx context.Context, _ *devenv.Manifest) ([]runner.ServiceStatus, error) {
	if e.status != nil {
		return e.status()
	}
	select {
	case list := <-e.statuses:
		return list, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *fakeEngine) WaitReady(_ context.Context, c *devenv.Container) error {
	e.call("ready? %s", c.Name)
	return e.readyErr
}

// fakeBuilder builds what it is asked; fail makes the next build fail
// with compiler output; gate, when set, holds each build until it gets a
// value.
type fakeBuilder struct {
	s     *Session
	mu    sync.Mutex
	fail  string
	gate  chan struct{}
	built [][]string
}

func (b *fakeBuilder) Build(_ context.Context, targets []builder.Target) ([]builder.Result, error) {
	var names []string
	for _, t := range targets {
		names = append(names, t.Name)
	}
	if b.gate != nil {
		<-b.gate
	}
	b.mu.Lock()
	b.built = append(b.built, names)
	fail := b.fail
	b.fail = ""
	b.mu.Unlock()
	if fail != "" {
		fmt.Fprintf(b.s.CompilerOutput(), "# %s: go build failed\n%s\n", strings.Join(names, ", "), fail)
		return nil, msxerr.New("fix the error above", "service %s does not compile", names[0])
	}
	var out []builder.Result
	for _, n := range names {
		out = append(out, builder.Result{Name: n, Binary: "/w/.msx/build/" + n})
	}
	return out, nil
}

func (b *fakeBuilder) builds() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.built)
}

// recorder keeps every event.
type recorder struct {
	mu  sync.Mutex
	got []activity.Event
}

func (r *recorder) Observe(e activity.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
}

func (r *recorder) events() []activity.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// story is the events as "kind service detail" lines, logs left out; a
// runner's or builder's step stands as its kind ("step=Created"), not its
// words, which are the printer's.
func (r *recorder) story() []string {
	var out []string
	for _, e := range r.events() {
		if e.Kind == activity.Log {
			continue
		}
		detail := e.Detail
		if e.Step.Kind != 0 {
			detail = "step=" + e.Step.Kind.String()
		}
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", e.Kind, e.Service, detail)))
	}
	return out
}

// is says whether e is the event want describes: its kind, its service,
// its step's kind (none when want has none) and, when want sets one, its
// exit code.
func is(e, want activity.Event) bool {
	return e.Kind == want.Kind && e.Service == want.Service && e.Step.Kind == want.Step.Kind &&
		(want.ExitCode == 0 || e.ExitCode == want.ExitCode)
}

// count is how many events want describes (see is).
func (r *recorder) count(want activity.Event) int {
	n := 0
	for _, e := range r.events() {
		if is(e, want) {
			n++
		}
	}
	return n
}

// waitEvent waits for an event want describes (see is) and returns it.
func (r *recorder) waitEvent(t *testing.T, want activity.Event) activity.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range r.events() {
			if is(e, want) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s of %q in %q", want.Kind, want.Service, r.story())
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFor waits for a story line that starts with what: for events whose
// only content is the session's own sentence (a warning, the stop's
// hint), which the printers show as they are.
func (r *recorder) waitFor(t *testing.T, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.ContainsFunc(r.story(), func(s string) bool { return strings.HasPrefix(s, what) }) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", what, r.story())
		}
		time.Sleep(time.Millisecond)
	}
}

type harness struct {
	s     *Session
	eng   *fakeEngine
	b     *fakeBuilder
	clock *fakeClock
	rec   *recorder
	sigs  chan os.Signal
	watch chan []string
}

func newHarness(t *testing.T, opts Options) *harness {
	h := &harness{
		eng:   &fakeEngine{consumer: make(chan runner.LogConsumer, 4)},
		clock: &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		rec:   &recorder{},
		sigs:  make(chan os.Signal, 4),
		watch: make(chan []string),
	}
	h.b = &fakeBuilder{}
	opts.Manifest = &devenv.Manifest{Project: "shop", Dir: t.TempDir(), Services: map[string]devenv.Service{"orders": {Port: 8081}}}
	opts.Runner = h.eng
	opts.Clock = h.clock
	opts.Interrupts = h.sigs
	if opts.Builder == nil {
		opts.Builder = h.b
	}
	opts.Watch = func(ctx context.Context, out chan<- []string, _ func(string)) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case b := <-h.watch:
				out <- b
			}
		}
	}
	h.s = New(opts)
	h.eng.s, h.b.s = h.s, h.s
	h.s.Bus().Subscribe(h.rec)
	return h
}

// attach starts and attaches; the returned channel gets Attach's result.
func (h *harness) attach(t *testing.T) (runner.LogConsumer, chan error) {
	t.Helper()
	if _, err := h.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.s.Attach(context.Background(), h.clock.Now()) }()
	return <-h.eng.consumer, done
}

func wait(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Attach did not return")
		return nil
	}
}

func TestStartFollowAndStopOnCtrlC(t *testing.T) {
	h := newHarness(t, Options{})
	c, done := h.attach(t)
	c.Log("orders", activity.Stdout, "listening")
	h.sigs <- syscall.SIGINT
	if err := wait(t, done); !errors.Is(err, msxerr.ErrCancelled) {
		t.Fatalf("err = %v, want ErrCancelled", err)
	}
	want := []string{
		"starting orders step=Created", "ready orders step=Ready", "starting gateway step=Running", "ready gateway step=Ready",
		"following  http://127.0.0.1:8080",
		"stopping  stopping (Ctrl-C again to force)", "stopped orders step=Stopped",
	}
	if got := h.rec.story(); !slices.Equal(got, want) {
		t.Errorf("story:\n%q\nwant\n%q", got, want)
	}
	// A container that was running before this up is followed from its new
	// lines only; one it started, from its run's start.
	if f := h.eng.called()[1]; f != "follow shop-orders:1 shop-gateway:2" {
		t.Errorf("follow = %q", f)
	}
	logs := slices.DeleteFunc(h.rec.events(), func(e activity.Event) bool { return e.Kind != activity.Log })
	if len(logs) != 1 || logs[0].Service != "orders" || logs[0].Line != "listening" {
		t.Errorf("logs = %+v", logs)
	}
}

func TestSecondCtrlCForcesWithoutAnErrorLine(t *testing.T) {
	h := newHarness(t, Options{})
	h.eng.stopGate = make(chan struct{})
	_, done := h.attach(t)
	h.sigs <- syscall.SIGINT
	h.rec.waitFor(t, "stopping  stopping")
	h.sigs <- syscall.SIGINT
	if err := wait(t, done); !errors.Is(err, msxerr.ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
	close(h.eng.stopGate)
	if got := h.eng.called(); !slices.Contains(got, "stop force=true only=[]") {
		t.Errorf("calls = %q, want a forced stop", got)
	}
	for _, s := range h.rec.story() {
		if strings.HasPrefix(s, "warning") {
			t.Errorf("a warning after a forced stop: %q", s)
		}
	}
	if !slices.Contains(h.rec.story(), "stopping  forcing") {
		t.Errorf("story = %q", h.rec.story())
	}
}

func TestStopThatHangsEndsAtTheBound(t *testing.T) {
	h := newHarness(t, Options{})
	h.eng.stopGate = make(chan struct{})
	defer close(h.eng.stopGate)
	_, done := h.attach(t)
	h.s.Quit()
	h.rec.waitFor(t, "stopping  stopping (Ctrl-C to force)")
	// The session waits on the stop's bound and then on the followers: the
	// clock moves on until both give up.
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("err = %v, want nil after Quit", err)
			}
			if !slices.Contains(h.rec.story(), "warning  Docker did not answer in time; run msx down, or msx doctor") {
				t.Errorf("story = %q", h.rec.story())
			}
			return
		case <-time.After(time.Millisecond):
			h.clock.Advance(time.Second)
		}
	}
}

// TestChangeSwapsEveryReplica: one build, the binary swapped into each
// replica's container, each reported by its own name.
func TestChangeSwapsEveryReplica(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.opts.Manifest.Services["orders"] = devenv.Service{Port: 8081, Replicas: 3}
	_, done := h.attach(t)
	h.watch <- []string{"/w/services/orders/version.go"}
	for _, inst := range []string{"orders", "orders-2", "orders-3"} {
		h.rec.waitEvent(t, activity.Event{Kind: activity.Swapped, Service: inst})
	}
	h.s.Quit()
	wait(t, done)
	if got := h.b.builds(); len(got) != 1 {
		t.Errorf("builds = %v, want one", got)
	}
	calls := h.eng.called()
	for _, inst := range []string{"orders", "orders-2", "orders-3"} {
		for _, want := range []string{"swap shop-" + inst + " /w/.msx/build/orders", "ready? shop-" + inst} {
			if !slices.Contains(calls, want) {
				t.Errorf("calls = %q, want %q", calls, want)
			}
		}
	}
}

func TestChangeRebuildsAndSwaps(t *testing.T) {
	h := newHarness(t, Options{})
	c, done := h.attach(t)
	h.watch <- []string{"/w/services/orders/version.go"}
	h.rec.waitEvent(t, activity.Event{Kind: activity.Swapped, Service: "gateway"})
	h.rec.waitEvent(t, activity.Event{Kind: activity.Swapped, Service: "orders"})
	// The swap restarts the program inside the container (msx-init): the
	// container's exit after it is the new program's crash.
	cc := c.(runner.ChangeConsumer)
	cc.Change("orders", runner.Change{Kind: runner.Exited, ExitCode: 2})
	h.s.Quit()
	wait(t, done)
	if got := h.b.builds(); len(got) != 1 || !slices.Equal(got[0], []string{"gateway", "orders"}) {
		t.Errorf("builds = %v, want one build of both (no graph: every program)", got)
	}
	calls := h.eng.called()
	for _, want := range []string{"swap shop-orders /w/.msx/build/orders", "ready? shop-orders", "swap shop-gateway /w/.msx/build/gateway"} {
		if !slices.Contains(calls, want) {
			t.Errorf("calls = %q, want %q", calls, want)
		}
	}
	for _, e := range h.rec.events() {
		if e.Kind == activity.Restarted {
			t.Errorf("the swap's own restart reported: %+v", e)
		}
	}
	if h.rec.count(activity.Event{Kind: activity.Crashed, Service: "orders", ExitCode: 2}) != 1 {
		t.Errorf("a crash after the swap's restart was seen must be reported: %q", h.rec.story())
	}
}

func TestFailedBuildKeepsTheOldVersionThenRecovers(t *testing.T) {
	h := newHarness(t, Options{})
	_, done := h.attach(t)
	h.b.fail = "services/orders/version.go:3:1: syntax error: non-declaration statement outside function body"
	h.watch <- []string{"/w/services/orders/version.go"}
	h.rec.waitFor(t, "warning  the build failed; the previous version keeps serving")
	if slices.ContainsFunc(h.eng.called(), func(c string) bool { return strings.HasPrefix(c, "swap") }) {
		t.Fatalf("swapped after a failed build: %q", h.eng.called())
	}
	var failed []activity.Event
	for _, e := range h.rec.events() {
		if e.Kind == activity.BuildFailed {
			failed = append(failed, e)
		}
	}
	if len(failed) != 2 || failed[0].Service != "gateway" || failed[1].Service != "orders" ||
		!strings.Contains(failed[1].Output, "version.go:3:1: syntax error") {
		t.Errorf("build failures = %+v", failed)
	}
	h.watch <- []string{"/w/services/orders/version.go"}
	h.rec.waitEvent(t, activity.Event{Kind: activity.Swapped, Service: "orders"})
	h.s.Quit()
	wait(t, done)
}

func TestChangeDuringABuildIsNotDropped(t *testing.T) {
	h := newHarness(t, Options{})
	h.b.gate = make(chan struct{})
	g := &graph{affected: map[string][]string{"/w/services/orders/h.go": {"orders"}, "/w/gateway/main.go": {"gateway"}}}
	h.s.opts.LoadGraph = func(context.Context, []builder.Target) (Graph, error) { return g, nil }
	_, done := h.attach(t)
	h.watch <- []string{"/w/services/orders/h.go"}
	h.rec.waitEvent(t, activity.Event{Kind: activity.Building, Service: "orders"})
	h.watch <- []string{"/w/gateway/main.go"} // arrives during the build
	h.watch <- []string{"/w/services/orders/h.go"}
	// Let every build run from here on.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case h.b.gate <- struct{}{}:
			case <-stop:
				return
			}
		}
	}()
	h.rec.waitEvent(t, activity.Event{Kind: activity.Swapped, Service: "gateway"})
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n < 2 && time.Now().Before(deadline); {
		n = h.rec.count(activity.Event{Kind: activity.Swapped, Service: "orders"})
		time.Sleep(time.Millisecond)
	}
	close(stop)
	h.s.Quit()
	wait(t, done)
	got := h.b.builds()
	if len(got) < 2 || len(got) > 3 || !slices.Equal(got[0], []string{"orders"}) {
		t.Fatalf("builds = %v, want orders, then what came during it", got)
	}
	var later []string
	for _, b := range got[1:] {
		later = append(later, b...)
	}
	slices.Sort(later)
	if !slices.Equal(slices.Compact(later), []string{"gateway", "orders"}) {
		t.Errorf("builds = %v: a change during the first build was dropped", got)
	}
}

type graph struct{ affected map[string][]string }

func (g *graph) Affected(paths []string) ([]string, bool) {
	var out []string
	for _, p := range paths {
		out = append(out, g.affected[p]...)
	}
	return out, false
}

func TestCrashAfterASwapIsReportedWithItsLastLines(t *testing.T) {
	h := newHarness(t, Options{})
	h.eng.readyErr = &runner.ServiceError{Service: "orders", ExitCode: 2, Logs: []string{"panic: boom"}}
	_, done := h.attach(t)
	h.s.Rebuild("orders")
	h.rec.waitEvent(t, activity.Event{Kind: activity.Crashed, Service: "orders", ExitCode: 2})
	h.s.Quit()
	wait(t, done)
	for _, e := range h.rec.events() {
		if e.Kind == activity.Crashed && (e.ExitCode != 2 || e.Output != "panic: boom") {
			t.Errorf("crash = %+v", e)
		}
	}
}

func TestRestartOnRequestRestartsTheProgram(t *testing.T) {
	h := newHarness(t, Options{})
	_, done := h.attach(t)
	h.s.Restart("orders")
	h.rec.waitEvent(t, activity.Event{Kind: activity.Restarted, Service: "orders"})
	h.s.Quit()
	wait(t, done)
	calls := h.eng.called()
	// msx-init restarts the program; the container stays.
	if !slices.Contains(calls, "restart program shop-orders") || !slices.Contains(calls, "ready? shop-orders") || slices.Contains(calls, "restart shop-orders") {
		t.Errorf("calls = %q, want the program restarted through msx-init, then its readiness", calls)
	}
}

func TestRestartOnRequestWithoutInitRestartsTheContainer(t *testing.T) {
	h := newHarness(t, Options{})
	h.eng.noInit = true
	c, done := h.attach(t)
	h.s.Restart("orders")
	h.rec.waitEvent(t, activity.Event{Kind: activity.Restarted, Service: "orders"})
	c.(runner.ChangeConsumer).Change("orders", runner.Change{Kind: runner.Restarted})
	h.s.Quit()
	wait(t, done)
	if calls := h.eng.called(); !slices.Contains(calls, "restart shop-orders") {
		t.Errorf("calls = %q, want the container restarted", calls)
	}
	if n := h.rec.count(activity.Event{Kind: activity.Restarted, Service: "orders"}); n != 1 {
		t.Errorf("story = %q, want the restart said once", h.rec.story())
	}
}

// TestMonitorPublishesStatsUnhealthyAndRecovery samples with the fake
// clock: CPU from two samples' counters, Unhealthy after two failed
// readiness checks in a row (not one), Ready when it answers again, and
// nothing judged while the session swaps it.
func TestMonitorPublishesStatsUnhealthyAndRecovery(t *testing.T) {
	h := newHarness(t, Options{SampleEvery: time.Second})
	var mu sync.Mutex
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	ready := true
	h.eng.sample = func(service string) runner.Sample {
		mu.Lock()
		defer mu.Unlock()
		if service != "orders" {
			return runner.Sample{} // stopped: no news from the monitor
		}
		n++
		// A quarter of a core: 250ms of CPU each second.
		return runner.Sample{Running: true, Ready: ready, Reason: "/readyz does not answer ready (503)",
			HasStats: true, Read: t0.Add(time.Duration(n) * time.Second), CPU: uint64(n) * 250_000_000, Memory: 12 << 20}
	}
	setReady := func(v bool) { mu.Lock(); ready = v; mu.Unlock() }
	_, done := h.attach(t)

	h.clock.tick(t, time.Second) // first sample: nothing to compare
	h.clock.tick(t, time.Second)
	var stats []activity.Event
	for _, e := range h.rec.events() {
		if e.Kind == activity.Stats {
			stats = append(stats, e)
		}
	}
	if len(stats) != 1 || stats[0].Service != "orders" || stats[0].CPU != 25 || stats[0].Memory != 12<<20 {
		t.Errorf("stats = %+v, want one of orders at 25%% and 12 MiB", stats)
	}

	setReady(false)
	h.clock.tick(t, time.Second)
	if h.rec.count(activity.Event{Kind: activity.Unhealthy, Service: "orders"}) != 0 {
		t.Fatalf("one failed check is not yet unhealthy: %q", h.rec.story())
	}
	h.clock.tick(t, time.Second)
	if e := h.rec.waitEvent(t, activity.Event{Kind: activity.Unhealthy, Service: "orders"}); e.Detail != "/readyz does not answer ready (503)" {
		t.Errorf("unhealthy = %+v, want the sample's reason", e)
	}
	h.clock.tick(t, time.Second) // said once, not on every sample
	setReady(true)
	h.clock.tick(t, time.Second)
	h.rec.waitEvent(t, activity.Event{Kind: activity.Ready, Service: "orders"}) // the monitor's: no step

	// While the session swaps it, its readiness is not judged.
	settled := h.s.settle("orders")
	setReady(false)
	h.clock.tick(t, time.Second)
	h.clock.tick(t, time.Second)
	h.clock.tick(t, time.Second)
	settled()
	h.s.Quit()
	wait(t, done)
	if got := h.rec.count(activity.Event{Kind: activity.Unhealthy, Service: "orders"}); got != 1 {
		t.Errorf("story = %q, want one unhealthy (none while swapping)", h.rec.story())
	}
}

// TestCrashedThenReadyAgain: a service that crashed and that the engine
// restarted is shown ready once it answers.
func TestCrashedThenReadyAgain(t *testing.T) {
	h := newHarness(t, Options{SampleEvery: time.Second})
	h.eng.sample = func(service string) runner.Sample { return runner.Sample{Running: true, Ready: true} }
	c, done := h.attach(t)
	c.(runner.ChangeConsumer).Change("orders", runner.Change{Kind: runner.Exited, ExitCode: 2})
	h.rec.waitEvent(t, activity.Event{Kind: activity.Crashed, Service: "orders", ExitCode: 2})
	h.clock.tick(t, time.Second)
	h.rec.waitEvent(t, activity.Event{Kind: activity.Ready, Service: "orders"}) // the monitor's: no step
	h.s.Quit()
	wait(t, done)
	if h.rec.count(activity.Event{Kind: activity.Ready, Service: "gateway"}) != 0 { // the monitor's: no step
		t.Errorf("a service that never failed was announced ready again: %q", h.rec.story())
	}
}

func TestFailedAttachedUpStopsWhatItStarted(t *testing.T) {
	h := newHarness(t, Options{})
	h.eng.upErr = &runner.UpError{Started: []string{"shop-orders"}, Err: &runner.ServiceError{Service: "gateway", ExitCode: 2, Logs: []string{"e2e: boom"}}}
	_, err := h.s.Start(context.Background())
	var ue *runner.UpError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v", err)
	}
	if got := h.eng.called(); !slices.Equal(got, []string{"up", "stop force=false only=[shop-orders]"}) {
		t.Errorf("calls = %q", got)
	}
	want := []string{"crashed gateway gateway exited with code 2 before it was ready", "info  stopping what this up started: orders",
		"stopping  stopping (Ctrl-C to force)", "stopped orders step=Stopped"}
	if got := h.rec.story(); !slices.Equal(got, want) {
		t.Errorf("story = %q, want %q", got, want)
	}
}

func TestLockWaitsForTheOtherHolder(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(context.Background(), dir, func() { t.Error("the first lock waited") })
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	got := make(chan error, 1)
	go func() {
		u, err := Lock(context.Background(), dir, func() { close(waited) })
		if err == nil {
			u()
		}
		got <- err
	}()
	<-waited
	select {
	case <-got:
		t.Fatal("the second lock did not wait")
	default:
	}
	unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	unlock, _ = Lock(context.Background(), dir, nil)
	defer unlock()
	cancel()
	if _, err := Lock(ctx, dir, nil); !errors.Is(err, msxerr.ErrCancelled) {
		t.Errorf("err = %v, want ErrCancelled", err)
	}
}

func TestOneCtrlCSeenTwiceIsOneInterrupt(t *testing.T) {
	// cmd.Main cancels the context on the same SIGINT that reaches the
	// session's channel: that is one Ctrl-C, a graceful stop, not a force.
	h := newHarness(t, Options{})
	if _, err := h.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.s.Attach(ctx, h.clock.Now()) }()
	<-h.eng.consumer
	cancel()
	h.sigs <- syscall.SIGINT
	if err := wait(t, done); !errors.Is(err, msxerr.ErrCancelled) {
		t.Fatalf("err = %v", err)
	}
	if got := h.eng.called(); slices.Contains(got, "stop force=true only=[]") {
		t.Errorf("calls = %q: one Ctrl-C forced the stop", got)
	}
}

// compilingBuilder compiles without packing; its pack is recorded as an
// engine call, so that a test sees it in order with the swaps.
type compilingBuilder struct {
	*fakeBuilder
	eng *fakeEngine
	// slow packs wait for their context to end, then say so.
	slow bool
}

func (b compilingBuilder) Compile(ctx context.Context, targets []builder.Target) ([]builder.Result, func(context.Context) ([]builder.Result, error), error) {
	res, err := b.Build(ctx, targets)
	if err != nil {
		return nil, nil, err
	}
	return res, func(ctx context.Context) ([]builder.Result, error) {
		b.eng.call("pack %d", len(res))
		if b.slow {
			<-ctx.Done()
			b.eng.call("pack cancelled")
			return nil, ctx.Err()
		}
		return res, nil
	}, nil
}

func TestSwapFirstThenPackTheImages(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.opts.Builder = compilingBuilder{h.b, h.eng, false}
	_, done := h.attach(t)
	h.watch <- []string{"/w/services/orders/version.go"}
	h.rec.waitEvent(t, activity.Event{Kind: activity.Swapped, Service: "orders"})
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(h.eng.called(), "pack 2") {
		if time.Now().After(deadline) {
			t.Fatalf("never packed after the swaps: %q", h.eng.called())
		}
		time.Sleep(time.Millisecond)
	}
	h.s.Quit()
	wait(t, done)
	calls := h.eng.called()
	pack := slices.Index(calls, "pack 2")
	for _, want := range []string{"swap shop-orders /w/.msx/build/orders", "swap shop-gateway /w/.msx/build/gateway", "ready? shop-orders"} {
		if i := slices.Index(calls, want); i < 0 || i > pack {
			t.Errorf("calls = %q: want %q before the pack", calls, want)
		}
	}
}

func TestAChangeDuringThePackGoesFirst(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.opts.Builder = compilingBuilder{h.b, h.eng, true}
	_, done := h.attach(t)
	h.watch <- []string{"/w/services/orders/version.go"}
	waitCall := func(call string, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count(h.eng.called(), call) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no %d× %q: %q", n, call, h.eng.called())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitCall("pack 2", 1)
	h.watch <- []string{"/w/services/orders/version.go"}
	waitCall("pack cancelled", 1)
	waitCall("swap shop-orders /w/.msx/build/orders", 2)
	if story := h.rec.story(); slices.ContainsFunc(story, func(s string) bool { return strings.Contains(s, "packing the new images failed") }) {
		t.Errorf("a cancelled pack reported as a failure: %q", story)
	}
	h.s.Quit()
	wait(t, done)
}

func count(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}

// TestManifestChangeReplans: a saved msx.yaml is read again and applied
// (Up with the new manifest): the new service's container is followed and
// rebuilt on changes like the others.
func TestManifestChangeReplans(t *testing.T) {
	var reloaded *devenv.Manifest
	h := newHarness(t, Options{Reload: func() (*devenv.Manifest, error) { return reloaded, nil }})
	m := h.s.opts.Manifest
	reloaded = &devenv.Manifest{Project: m.Project, Dir: m.Dir, Services: map[string]devenv.Service{
		"orders": {Port: 8081}, "payments": {Port: 8082}}}
	_, done := h.attach(t)
	h.watch <- []string{filepath.Join(m.Dir, "msx.yaml")}
	h.rec.waitFor(t, "info  msx.yaml applied; added payments")
	<-h.eng.consumer
	h.watch <- []string{filepath.Join(m.Dir, "services/payments/main.go")}
	h.rec.waitEvent(t, activity.Event{Kind: activity.Swapped, Service: "payments"})
	h.s.Quit()
	wait(t, done)
	calls := h.eng.called()
	if n := slices.Index(calls, "follow shop-payments:1"); n < 0 {
		t.Errorf("calls = %q, want the new service followed from its start", calls)
	}
	ups := 0
	for _, c := range calls {
		if c == "up" {
			ups++
		}
	}
	if ups != 2 {
		t.Errorf("calls = %q, want the plan applied twice", calls)
	}
	if got := h.b.builds(); len(got) != 1 || !slices.Contains(got[0], "payments") {
		t.Errorf("builds = %v, want the new service among the programs", got)
	}
	if p := h.s.Plan(); p.Container("payments") == nil {
		t.Errorf("the session's plan has no payments: %+v", p.Containers)
	}
}

// TestInvalidManifestChangeKeepsTheEnvironment: a manifest that does not
// load is one warning that says so, and nothing is applied.
func TestInvalidManifestChangeKeepsTheEnvironment(t *testing.T) {
	h := newHarness(t, Options{Reload: func() (*devenv.Manifest, error) {
		return nil, msxerr.New("fix the file and try again", "msx.yaml is not valid: services.orders.port: 70000 is not a port")
	}})
	_, done := h.attach(t)
	h.watch <- []string{filepath.Join(h.s.opts.Manifest.Dir, "msx.yaml")}
	h.rec.waitFor(t, "warning  msx.yaml changed but is not valid, so nothing was applied: msx.yaml is not valid: services.orders.port: 70000 is not a port; fix the file and try again; the environment keeps running as it was")
	h.s.Quit()
	wait(t, done)
	if calls := h.eng.called(); slices.Index(calls[1:], "up") >= 0 {
		t.Errorf("calls = %q, want nothing applied", calls)
	}
	if len(h.b.builds()) != 0 {
		t.Errorf("builds = %v, want none", h.b.builds())
	}
}

// unchangedBuilder compiles binaries identical to the previous build's.
type unchangedBuilder struct{ *fakeBuilder }

func (b unchangedBuilder) Build(ctx context.Context, targets []builder.Target) ([]builder.Result, error) {
	res, err := b.fakeBuilder.Build(ctx, targets)
	for i := range res {
		res[i].Unchanged = true
	}
	return res, err
}

// The b key with nothing changed restarts the same program: the swap says
// so instead of "code changed".
func TestRebuildWithNothingChangedSaysSo(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.opts.Builder = unchangedBuilder{h.b}
	_, done := h.attach(t)
	h.s.Rebuild("orders")
	h.rec.waitEvent(t, activity.Event{Kind: activity.Swapped, Service: "orders"})
	h.s.Quit()
	wait(t, done)
	for _, e := range h.rec.events() {
		if e.Kind == activity.Swapped && e.Detail != unchangedSwap {
			t.Errorf("swap of an unchanged binary says %q, want %q", e.Detail, unchangedSwap)
		}
	}
}

// TestProgressBecomesTypedEvents: each step of the runner and the builder
// is published as the event of its kind, with the step itself and its
// duration; what is not a service is the project's news; a rebuild's own
// Building and Built stand alone.
func TestProgressBecomesTypedEvents(t *testing.T) {
	h := newHarness(t, Options{})
	steps := []progress.Step{
		{Kind: progress.Pulled, Object: progress.Image, Name: "postgres", Ref: "postgres:16", Duration: time.Second},
		{Kind: progress.Created, Object: progress.Network, Name: "shop_default"},
		{Kind: progress.Compiling, Name: "orders"},
		{Kind: progress.Built, Name: "orders", Duration: 1500 * time.Millisecond},
		{Kind: progress.UpToDate, Name: "gateway"},
		{Kind: progress.Recreated, Name: "orders", Reason: "code changed"},
		{Kind: progress.Killed, Name: "orders"},
		{Kind: progress.Removed, Object: progress.Container, Name: "shop-orders", Reason: "this up failed"},
	}
	for _, p := range steps {
		h.s.Progress(p)
	}
	h.s.rebuilding.Add(1)
	h.s.Progress(progress.Step{Kind: progress.Compiling, Name: "orders"})
	h.s.Progress(progress.Step{Kind: progress.Built, Name: "orders", Duration: time.Second})
	h.s.rebuilding.Add(-1)

	type brief struct {
		kind     activity.Kind
		service  string
		subject  string
		duration time.Duration
	}
	want := []brief{
		{activity.Info, "", "postgres", time.Second},
		{activity.Info, "", "network shop_default", 0},
		{activity.Building, "orders", "orders", 0},
		{activity.Built, "orders", "orders", 1500 * time.Millisecond},
		{activity.Built, "gateway", "gateway", 0},
		{activity.Starting, "orders", "orders", 0},
		{activity.Stopped, "orders", "orders", 0},
		{activity.Info, "", "shop-orders", 0},
	}
	got := h.rec.events()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, e := range got {
		if b := (brief{e.Kind, e.Service, e.Subject(), e.Duration}); b != want[i] || e.Step != steps[i] || e.Detail != "" {
			t.Errorf("event %d = %+v, want %+v with step %+v and no detail", i, e, want[i], steps[i])
		}
	}
}

// A GraphQL change that arrives during a build generates after it: gqlgen
// removes and rewrites the code the build is compiling (seen under load:
// "open services/catalog/graph/generated.go: no such file or directory").
func TestGraphQLChangeDuringABuildGeneratesAfterIt(t *testing.T) {
	h := newHarness(t, Options{})
	h.b.gate = make(chan struct{})
	svc := filepath.Join(h.s.m.Dir, "services", "orders")
	write(t, filepath.Join(svc, "graphql.go"), "package main\n\n//go:generate go tool gqlgen generate --config gqlgen.yml\n")
	schema := filepath.Join(svc, "ordersapi", "schema.graphqls")
	write(t, schema, "type Query { a: Int }")
	var held atomic.Bool // a build is held at the gate
	generated := make(chan bool, 4)
	h.s.runGenerate = func(context.Context, string, []string) ([]byte, error) {
		generated <- held.Load()
		return nil, nil
	}
	_, done := h.attach(t)
	held.Store(true)
	h.watch <- []string{filepath.Join(svc, "handlers.go")}
	h.rec.waitEvent(t, activity.Event{Kind: activity.Building, Service: "orders"})
	h.watch <- []string{schema} // during the build
	select {
	case <-generated:
		t.Fatal("generate ran while a build was compiling")
	case <-time.After(200 * time.Millisecond):
	}
	held.Store(false)
	h.b.gate <- struct{}{}
	select {
	case during := <-generated:
		if during {
			t.Error("generate ran while a build was held")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the schema change never generated after the build")
	}
	h.s.Quit()
	wait(t, done)
}
