// Package runner applies a devenv plan to the Docker Engine: it builds the
// images, ensures networks and volumes, creates or adopts containers, starts
// them in order, waits for readiness, follows logs, stops and removes.
package runner

import (
	"context"
	"io"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
)

// DockerAPI is the part of the Docker client the runner uses.
type DockerAPI interface {
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerStop(ctx context.Context, containerID string, options container.StopOptions) error
	ContainerKill(ctx context.Context, containerID, signal string) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ContainerLogs(ctx context.Context, containerID string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerRestart(ctx context.Context, containerID string, options container.StopOptions) error
	// ContainerTop tells a hot swap when the old program has gone.
	ContainerTop(ctx context.Context, containerID string, arguments []string) (container.TopResponse, error)
	// ContainerStatsOneShot reads a container's resource counters once,
	// for the CPU and memory a session shows.
	ContainerStatsOneShot(ctx context.Context, containerID string) (container.StatsResponseReader, error)

	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkConnect(ctx context.Context, networkID, containerID string, config *network.EndpointSettings) error
	NetworkRemove(ctx context.Context, networkID string) error

	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error

	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)

	// CopyToContainer writes secret files into a created container, and
	// a hot swap's new binary into a running one.
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
}

var _ DockerAPI = (*client.Client)(nil)

// ImageBuilder builds the images of services and the gateway;
// *builder.Builder is one.
type ImageBuilder interface {
	Build(ctx context.Context, targets []builder.Target) ([]builder.Result, error)
}

var _ ImageBuilder = (*builder.Builder)(nil)

// workspaceFilter selects the resources of one workspace: its project name
// and its folder.
func workspaceFilter(project, dir string) filters.Args {
	return filters.NewArgs(
		filters.Arg("label", devenv.LabelProject+"="+project),
		filters.Arg("label", devenv.LabelWorkspace+"="+dir),
	)
}

// projectFilter selects every resource of a project name, whatever folder.
func projectFilter(project string) filters.Args {
	return filters.NewArgs(filters.Arg("label", devenv.LabelProject+"="+project))
}

// containerName returns a summary's name without the leading slash.
func containerName(s container.Summary) string {
	if len(s.Names) == 0 {
		return s.ID
	}
	n := s.Names[0]
	if len(n) > 0 && n[0] == '/' {
		n = n[1:]
	}
	return n
}
