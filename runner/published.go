package runner

import (
	"context"
	"errors"
	"net"

	"github.com/msx-dev/msx/devenv"
)

// ErrNotRunning is a container that is not there or not running.
var ErrNotRunning = errors.New("not running")

// PublishedURL returns http://127.0.0.1:PORT for the port a running
// container of the workspace publishes for its container port, such as
// the trace collector's query API. It is ErrNotRunning when the container
// is missing, stopped, or another workspace's.
func (r *Runner) PublishedURL(ctx context.Context, project, dir, service string, port int) (string, error) {
	insp, err := r.API.ContainerInspect(ctx, devenv.ContainerName(project, service))
	if err != nil {
		if isNotFound(err) {
			return "", ErrNotRunning
		}
		return "", engineErr(ctx, err, "inspecting "+devenv.ContainerName(project, service))
	}
	if insp.Config == nil || insp.Config.Labels[devenv.LabelWorkspace] != dir || insp.State == nil || !insp.State.Running {
		return "", ErrNotRunning
	}
	hp := hostPort(insp, port)
	if hp == "" {
		return "", ErrNotRunning
	}
	return "http://" + net.JoinHostPort(devenv.LoopbackIP, hp), nil
}
