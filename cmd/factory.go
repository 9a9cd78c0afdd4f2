package cmd

import (
	"context"
	"os"
	"path/filepath"

	"github.com/docker/docker/client"
	"github.com/spf13/pflag"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/clock"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/doctor"
	"github.com/msx-dev/msx/engine"
	"github.com/msx-dev/msx/iostreams"
	"github.com/msx-dev/msx/logs"
	"github.com/msx-dev/msx/msxdir"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/session"
)

// Factory hands commands their dependencies, as the GitHub CLI's does:
// fields set by global flags are filled before a command runs; the
// constructors return interfaces, so that a test hands a command fakes
// (of the engine, the runner, the builder, the store and the clock) and
// asserts what it does; they are lazy, so that msx --help never touches
// the disk or the engine.
type Factory struct {
	IO *iostreams.IOStreams

	Dir        string // -C
	ConfigFile string // --config
	Verbose    bool   // -v
	NoColor    bool   // --no-color
	// Flags are the global flags; those in configFlags override msx.yaml.
	Flags *pflag.FlagSet

	// Clock is the time commands read.
	Clock clock.Clock
	// Docker connects to the engine.
	Docker func(ctx context.Context) (EngineClient, error)
	// Engine says which engine Docker connects to, and why: the one the
	// docker CLI would use (DOCKER_HOST, else the Docker context).
	Engine func() (engine.Endpoint, error)
	// Runner makes the runner over a connection: b builds the images an
	// up needs (nil for commands that build none), report receives its
	// progress (nil for none).
	Runner func(api EngineClient, b runner.ImageBuilder, report progress.Func) Runner
	// Builder makes the builder over a connection.
	Builder func(api EngineClient, o builder.Options) Builder
	// Store is what msx keeps under the workspace dir's .msx.
	Store func(dir string) Store
}

// EngineClient is a connection to the Docker engine, as the runner, the
// builder, msx db's shell, msx fault and msx doctor use it.
// *client.Client is one.
type EngineClient interface {
	runner.DockerAPI
	runner.ExecAPI
	runner.FaultAPI
	builder.ImageAPI
	doctor.Docker
	Close() error
}

// Runner applies and inspects the project through the engine.
// *runner.Runner is one; msx up hands it to the session, which also asks
// it for what it can do beyond session.Runner (sample, read status,
// restart a program).
type Runner interface {
	session.Runner
	logs.Source
	Status(ctx context.Context, m *devenv.Manifest) ([]runner.ServiceStatus, error)
	Database(ctx context.Context, m *devenv.Manifest, service string) (runner.Database, error)
	Down(ctx context.Context, project, dir string, volumes bool) *runner.DownResult
	DownServices(ctx context.Context, project, dir string, services []string, volumes bool) *runner.DownResult
	Fault(ctx context.Context, api runner.FaultAPI, m *devenv.Manifest, service string, a runner.FaultAction) (string, error)
	PublishedURL(ctx context.Context, project, dir, service string, port int) (string, error)
	Events(ctx context.Context, m *devenv.Manifest, subject string, follow bool, msxVersion string, line func([]byte) error) error
}

// Builder compiles the workspace's programs into images.
// *builder.Builder is one; the session also compiles with it alone
// (session.Compiler).
type Builder interface {
	runner.ImageBuilder
	session.Builder
}

// Store is what msx keeps under .msx: secrets, and files made from them.
// *msxdir.Store is one.
type Store interface {
	runner.SecretSource
	Lookup(name string) (value string, ok bool, err error)
	SecretWith(name string, gen func() (string, error)) (string, error)
	Set(name, value string) error
	WriteFile(name string, data []byte) (string, error)
}

var (
	_ Runner       = (*runner.Runner)(nil)
	_ Builder      = (*builder.Builder)(nil)
	_ Store        = (*msxdir.Store)(nil)
	_ EngineClient = (*client.Client)(nil)
)

// NewFactory returns the production factory.
func NewFactory(io *iostreams.IOStreams) *Factory {
	f := &Factory{IO: io, Clock: clock.Real}
	// Read when a command first needs the engine, after the flags: with
	// -v, every Engine API call and its time go to stderr.
	f.Docker = func(ctx context.Context) (EngineClient, error) {
		connect := engine.Connect
		if f.Verbose {
			connect = engine.ConnectTraced(f.IO.ErrOut)
		}
		cli, err := connect(ctx)
		if err != nil {
			return nil, err // not a nil *client.Client in an interface
		}
		return cli, nil
	}
	f.Engine = func() (engine.Endpoint, error) { return engine.Resolve(os.Getenv) }
	f.Runner = func(api EngineClient, b runner.ImageBuilder, report progress.Func) Runner {
		r := runner.New(api, b)
		r.Progress = report
		return r
	}
	f.Builder = func(api EngineClient, o builder.Options) Builder { return builder.New(api, o) }
	f.Store = func(dir string) Store { return msxdir.New(dir) }
	return f
}

// WorkDir is the directory msx acts in: -C DIR, or the current directory.
func (f *Factory) WorkDir() (string, error) {
	if f.Dir == "" {
		return filepath.Abs(".")
	}
	dir, err := filepath.Abs(f.Dir)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", msxerr.New("check the path given to -C", "folder %s does not exist", dir)
	}
	if !st.IsDir() {
		return "", msxerr.New("give -C the workspace folder; use --config for a manifest file", "%s is not a folder", dir)
	}
	return dir, nil
}

// ManifestPath is the absolute path of msx.yaml: --config (relative to -C),
// or the first msx.yaml found walking up from the work dir.
func (f *Factory) ManifestPath() (string, error) {
	dir, err := f.WorkDir()
	if err != nil {
		return "", err
	}
	if f.ConfigFile == "" {
		return devenv.Find(dir)
	}
	if filepath.IsAbs(f.ConfigFile) {
		return filepath.Clean(f.ConfigFile), nil
	}
	return filepath.Join(dir, f.ConfigFile), nil
}

// Manifest finds and loads msx.yaml, then applies MSX_* environment
// overrides through viper (MSX_GATEWAY_PORT sets gateway.port, and so on).
func (f *Factory) Manifest() (*devenv.Manifest, error) {
	path, err := f.ManifestPath()
	if err != nil {
		return nil, err
	}
	m, data, err := devenv.LoadData(path)
	if err != nil {
		return nil, err
	}
	if m, err = devenv.Overlay(m, data, devenv.Overrides{Env: os.Getenv, Set: configSettings(f.Flags)}); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, msxerr.Wrap(err, "fix msx.yaml or the MSX_* environment variables", "the configuration is not valid: %v", err)
	}
	return m, nil
}

// Project loads the manifest and connects to the engine: what every command
// that acts on the running project needs first. The caller closes the client.
func (f *Factory) Project(ctx context.Context) (*devenv.Manifest, EngineClient, error) {
	m, err := f.Manifest()
	if err != nil {
		return nil, nil, err
	}
	cli, err := f.Docker(ctx)
	if err != nil {
		return nil, nil, err
	}
	return m, cli, nil
}

// LocalProject is Project for commands that reach the project through the
// ports msx publishes on 127.0.0.1 (up's readiness checks and URLs, trace,
// fault's admin actions): with a remote engine those ports are on the
// engine's machine, and the command says so before doing anything.
func (f *Factory) LocalProject(ctx context.Context) (*devenv.Manifest, EngineClient, error) {
	if err := f.localPorts(); err != nil {
		return nil, nil, err
	}
	return f.Project(ctx)
}

// localPorts is nil unless the engine is remote: then it says that the
// ports it publishes on 127.0.0.1 cannot be reached from here.
func (f *Factory) localPorts() error {
	if f.Engine == nil {
		return nil
	}
	if e, err := f.Engine(); err == nil && e.Remote() {
		return e.Unreachable()
	}
	return nil
}
