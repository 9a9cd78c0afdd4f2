package cmd

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/doctor"
	"github.com/msx-dev/msx/iostreams"
	"github.com/msx-dev/msx/msxerr"
)

type doctorOptions struct {
	IO   *iostreams.IOStreams
	JSON bool
	Env  doctor.Env
}

func newDoctorCmd(f *Factory, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	run := runF
	if run == nil {
		run = runDoctor // it reads opts.Env, which the command wires
	}
	opts := &doctorOptions{IO: f.IO}
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check Docker, Go, infrastructure images, the gateway port and disk space, and say how to fix each",
		Long: `Doctor checks that this machine can run msx: which engine it talks to
(DOCKER_HOST, else the Docker context the docker CLI would use) and why, Docker answers, Go is
recent enough to build generated code, the infrastructure images the
workspace needs (images.KIND in msx.yaml) are here or can be pulled, the
gateway's port on 127.0.0.1 is free, and there is disk space for builds. Each failing check says how to fix
it. The exit code is 1 when a check fails.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			env, done, err := doctorEnv(f)
			if err != nil {
				return err
			}
			defer done()
			opts.Env = env
			return run(c.Context(), opts)
		},
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print the checks as JSON")
	return c
}

// doctorEnv wires the checks to the real engine, go command, network and
// disk. A missing or broken manifest is a row of the report, not an error.
// done closes the Docker client if one was opened.
func doctorEnv(f *Factory) (env doctor.Env, done func(), err error) {
	dir, err := f.WorkDir()
	if err != nil {
		return doctor.Env{}, nil, err
	}
	var cli EngineClient
	done = func() {
		if cli != nil {
			cli.Close()
		}
	}
	env = doctor.Env{
		Docker: func(ctx context.Context) (doctor.Docker, error) {
			c, err := f.Docker(ctx)
			if err != nil {
				return nil, err
			}
			cli = c
			return c, nil
		},
		Engine:    f.Engine,
		GoVersion: doctor.GoVersion,
		GoCache:   doctor.GoCache,
		PortFree:  doctor.PortFree,
		DiskFree:  doctor.DiskFree,
		Dir:       dir,
	}
	if f.ConfigFile == "" {
		if _, err := devenv.Find(dir); err != nil {
			// Not in a workspace: defaults, and MSX_GATEWAY_PORT as up would read it.
			env.GatewayPort, env.ManifestErr = devenv.EnvGatewayPort(os.Getenv)
			return env, done, nil
		}
	}
	m, err := f.Manifest()
	if err != nil {
		env.ManifestErr = err
		return env, done, nil
	}
	env.Manifest = m
	env.Dir = m.Dir
	return env, done, nil
}

func runDoctor(ctx context.Context, opts *doctorOptions) error {
	report := doctor.Run(ctx, opts.Env)
	if ctx.Err() != nil {
		return msxerr.ErrCancelled
	}
	var err error
	switch {
	case opts.JSON:
		err = report.WriteJSON(opts.IO.Out)
	case opts.IO.IsStdoutTTY():
		err = report.WriteTable(opts.IO.Out, opts.IO.ColorEnabled())
	default:
		err = report.WriteTSV(opts.IO.Out)
	}
	if err != nil {
		return err
	}
	if !report.OK {
		return msxerr.ErrSilent
	}
	return nil
}
