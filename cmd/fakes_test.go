package cmd

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/clock"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/engine"
	"github.com/msx-dev/msx/iostreams"
	"github.com/msx-dev/msx/progress"
	"github.com/msx-dev/msx/runner"
)

// fakeEngine is a connection to no engine: the fake runner answers for
// it. A method the test did not expect panics (the nil EngineClient).
type fakeEngine struct {
	EngineClient
	closed bool
}

func (e *fakeEngine) Close() error { e.closed = true; return nil }

// fakeRunner answers a command's questions with what the test set, and
// records what it was asked. Its nil Runner panics on anything else.
type fakeRunner struct {
	Runner
	status   []runner.ServiceStatus
	database runner.Database
	down     *runner.DownResult
	downOf   []string // DownServices' services
	fault    string
	faulted  runner.FaultAction
	url      string
	urlErr   error
	events   [][]byte
	targets  []runner.LogTarget
	history  map[string][]runner.LogLine
	builder  runner.ImageBuilder
	progress progress.Func
	plan     *devenv.Plan
	upErr    error
	up       runner.UpOptions
}

func (r *fakeRunner) Up(_ context.Context, _ *devenv.Manifest, o runner.UpOptions) (*devenv.Plan, error) {
	r.up = o
	return r.plan, r.upErr
}

func (r *fakeRunner) Status(context.Context, *devenv.Manifest) ([]runner.ServiceStatus, error) {
	return r.status, nil
}

func (r *fakeRunner) Database(_ context.Context, _ *devenv.Manifest, service string) (runner.Database, error) {
	if r.database.Service != service {
		return runner.Database{}, errors.New("no database " + service)
	}
	return r.database, nil
}

func (r *fakeRunner) Down(context.Context, string, string, bool) *runner.DownResult { return r.down }

func (r *fakeRunner) DownServices(_ context.Context, _, _ string, services []string, _ bool) *runner.DownResult {
	r.downOf = services
	return r.down
}

func (r *fakeRunner) Fault(_ context.Context, _ runner.FaultAPI, _ *devenv.Manifest, _ string, a runner.FaultAction) (string, error) {
	r.faulted = a
	return r.fault, nil
}

func (r *fakeRunner) PublishedURL(context.Context, string, string, string, int) (string, error) {
	return r.url, r.urlErr
}

func (r *fakeRunner) Events(_ context.Context, _ *devenv.Manifest, _ string, _ bool, _ string, line func([]byte) error) error {
	for _, l := range r.events {
		if err := line(l); err != nil {
			return err
		}
	}
	return nil
}

func (r *fakeRunner) LogTargets(context.Context, string, string, []string) ([]runner.LogTarget, error) {
	return r.targets, nil
}

func (r *fakeRunner) ReadLogs(_ context.Context, id string, _ runner.ReadOptions) ([]runner.LogLine, error) {
	return r.history[id], nil
}

// fixedClock is always at one instant.
type fixedClock struct {
	clock.Clock
	now time.Time
}

func (c fixedClock) Now() time.Time { return c.now }

// rig is a Factory over the test manifest (project shop, service orders)
// whose engine, runner and clock are fakes.
type rig struct {
	f        *Factory
	out, err *bytes.Buffer
	engine   *fakeEngine
	runner   *fakeRunner
}

func newRig(t *testing.T) *rig {
	t.Helper()
	io, out, errOut := iostreams.Test()
	r := &rig{f: NewFactory(io), out: out, err: errOut, engine: &fakeEngine{}, runner: &fakeRunner{}}
	r.f.Dir = writeManifest(t)
	r.f.Clock = fixedClock{now: time.Date(2026, 3, 4, 15, 4, 6, 0, time.UTC)}
	r.f.Engine = func() (engine.Endpoint, error) {
		return engine.Endpoint{Context: "default", Host: "unix:///var/run/docker.sock"}, nil
	}
	r.f.Docker = func(context.Context) (EngineClient, error) { return r.engine, nil }
	r.f.Runner = func(_ EngineClient, b runner.ImageBuilder, report progress.Func) Runner {
		r.runner.builder, r.runner.progress = b, report
		return r.runner
	}
	r.f.Builder = func(EngineClient, builder.Options) Builder { return nil }
	return r
}

// remote makes the engine one on another machine.
func (r *rig) remote() {
	r.f.Engine = func() (engine.Endpoint, error) {
		return engine.Endpoint{Context: "build", Host: "tcp://build.example:2376"}, nil
	}
}
