package runner

import (
	"context"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/devenv"
)

// ErrNotRunning is a container of the workspace that does not run.
type ErrNotRunning struct{ Service string }

func (e *ErrNotRunning) Error() string { return e.Service + " is not running" }

// LocalPort returns the port of 127.0.0.1 on which a running container of
// the workspace (by service name: "nats") publishes port.
func (r *Runner) LocalPort(ctx context.Context, m *devenv.Manifest, service string, port int) (int, error) {
	f := workspaceFilter(m.Project, m.Dir)
	f.Add("label", devenv.LabelService+"="+service)
	list, err := r.API.ContainerList(ctx, container.ListOptions{Filters: f})
	if err != nil {
		return 0, engineErr(ctx, err, "listing containers")
	}
	for _, c := range list {
		for _, p := range c.Ports {
			if int(p.PrivatePort) == port && p.IP == devenv.LoopbackIP && p.PublicPort != 0 {
				return int(p.PublicPort), nil
			}
		}
	}
	return 0, &ErrNotRunning{Service: service}
}
