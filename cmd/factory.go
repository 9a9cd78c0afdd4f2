package cmd

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker/client"
	"github.com/spf13/pflag"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/engine"
	"github.com/msx-dev/msx/iostreams"
	"github.com/msx-dev/msx/msxerr"
)

// Factory hands commands their dependencies. Fields set by global flags are
// filled before a command runs; constructors are lazy, so that msx --help
// never touches the disk or the engine.
type Factory struct {
	IO *iostreams.IOStreams

	Dir        string // -C
	ConfigFile string // --config
	Verbose    bool   // -v
	NoColor    bool   // --no-color
	// Flags are the global flags; those in configFlags override msx.yaml.
	Flags *pflag.FlagSet

	// Now is the clock; tests replace it.
	Now func() time.Time
	// Docker connects to the engine.
	Docker func(ctx context.Context) (*client.Client, error)
	// Engine says which engine Docker connects to, and why: the one the
	// docker CLI would use (DOCKER_HOST, else the Docker context).
	Engine func() (engine.Endpoint, error)
}

// NewFactory returns the production factory.
func NewFactory(io *iostreams.IOStreams) *Factory {
	f := &Factory{IO: io, Now: time.Now}
	// Read when a command first needs the engine, after the flags: with
	// -v, every Engine API call and its time go to stderr.
	f.Docker = func(ctx context.Context) (*client.Client, error) {
		if f.Verbose {
			return engine.ConnectTraced(f.IO.ErrOut)(ctx)
		}
		return engine.Connect(ctx)
	}
	f.Engine = func() (engine.Endpoint, error) { return engine.Resolve(os.Getenv) }
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
func (f *Factory) Project(ctx context.Context) (*devenv.Manifest, *client.Client, error) {
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
func (f *Factory) LocalProject(ctx context.Context) (*devenv.Manifest, *client.Client, error) {
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
