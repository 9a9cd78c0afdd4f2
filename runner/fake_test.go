package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/msx-dev/msx/builder"
)

// fakeDocker is an in-memory engine. Containers "run" until told to exit.
type fakeDocker struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer // by ID
	networks   map[string]network.Summary
	volumes    map[string]*volume.Volume
	images     map[string]bool
	nextID     int
	calls      []string
	// exitOnStart makes a service's container exit at once with a code.
	exitOnStart map[string]int
	// failStart makes ContainerStart fail for a service.
	failStart map[string]bool
	// failStartID makes ContainerStart fail for one container.
	failStartID map[string]bool
	// failRemove makes ContainerRemove fail for a container name.
	failRemove map[string]bool
	logs       map[string][]string
	// hang makes ContainerStop and ContainerKill block until their
	// context is done, as an engine that does not answer.
	hang bool
}

type fakeContainer struct {
	id, name string
	cfg      *container.Config
	host     *container.HostConfig
	state    container.ContainerState
	exitCode int
	port     int
}

func newFake() *fakeDocker {
	return &fakeDocker{
		containers:  map[string]*fakeContainer{},
		networks:    map[string]network.Summary{},
		volumes:     map[string]*volume.Volume{},
		images:      map[string]bool{},
		exitOnStart: map[string]int{},
		failStart:   map[string]bool{},
		failRemove:  map[string]bool{},
		failStartID: map[string]bool{},
		logs:        map[string][]string{},
	}
}

var _ DockerAPI = (*fakeDocker)(nil)

func (f *fakeDocker) call(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// callsLike returns the recorded calls that start with prefix.
func (f *fakeDocker) callsLike(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func matches(args filters.Args, labels map[string]string) bool {
	for _, l := range args.Get("label") {
		k, v, _ := strings.Cut(l, "=")
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeDocker) summary(c *fakeContainer) container.Summary {
	s := container.Summary{ID: c.id, Names: []string{"/" + c.name}, Labels: c.cfg.Labels, State: c.state, Image: c.cfg.Image}
	if c.state == container.StateRunning && c.port != 0 {
		for p := range c.host.PortBindings {
			s.Ports = append(s.Ports, container.Port{PrivatePort: uint16(p.Int()), PublicPort: uint16(c.port), IP: "127.0.0.1"})
		}
	}
	return s
}

func (f *fakeDocker) ContainerList(_ context.Context, o container.ListOptions) ([]container.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []container.Summary
	for _, c := range f.containers {
		if !o.All && c.state != container.StateRunning {
			continue
		}
		if matches(o.Filters, c.cfg.Labels) {
			out = append(out, f.summary(c))
		}
	}
	slices.SortFunc(out, func(a, b container.Summary) int { return strings.Compare(a.Names[0], b.Names[0]) })
	return out, nil
}

func (f *fakeDocker) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil {
		return container.InspectResponse{}, errors.New("no such container")
	}
	ports := nat.PortMap{}
	if c.state == container.StateRunning {
		for p, b := range c.host.PortBindings {
			hp := b[0].HostPort
			if hp == "" {
				hp = fmt.Sprint(c.port)
			}
			ports[p] = []nat.PortBinding{{HostIP: b[0].HostIP, HostPort: hp}}
		}
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID: c.id, Name: "/" + c.name,
			State: &container.State{Status: c.state, Running: c.state == container.StateRunning, ExitCode: c.exitCode, StartedAt: "2026-01-01T00:00:00Z"},
		},
		Config:          c.cfg,
		NetworkSettings: &container.NetworkSettings{NetworkSettingsBase: container.NetworkSettingsBase{Ports: ports}},
	}, nil
}

func (f *fakeDocker) byRef(ref string) *fakeContainer {
	if c, ok := f.containers[ref]; ok {
		return c
	}
	for _, c := range f.containers {
		if c.name == ref {
			return c
		}
	}
	return nil
}

func (f *fakeDocker) ContainerCreate(_ context.Context, cfg *container.Config, host *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("create %s", name)
	for _, c := range f.containers {
		if c.name == name {
			return container.CreateResponse{}, fmt.Errorf("Conflict. The container name %q is already in use", "/"+name)
		}
	}
	f.nextID++
	id := fmt.Sprintf("id%d", f.nextID)
	f.containers[id] = &fakeContainer{id: id, name: name, cfg: cfg, host: host, state: container.StateCreated}
	return container.CreateResponse{ID: id}, nil
}

func (f *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	f.call("start %s", c.name)
	svc := c.cfg.Labels["dev.msx.service"]
	if f.failStart[svc] || f.failStartID[c.id] {
		return errors.New("port is already allocated")
	}
	if code, ok := f.exitOnStart[svc]; ok {
		c.state, c.exitCode = container.StateExited, code
		return nil
	}
	c.state = container.StateRunning
	c.port = 40000 + f.nextID
	for _, b := range c.host.PortBindings {
		if b[0].HostPort != "" {
			fmt.Sscan(b[0].HostPort, &c.port)
		}
	}
	return nil
}

func (f *fakeDocker) ContainerStop(ctx context.Context, id string, _ container.StopOptions) error {
	if f.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	f.call("stop %s", c.name)
	c.state = container.StateExited
	return nil
}

func (f *fakeDocker) ContainerKill(ctx context.Context, id, _ string) error {
	if f.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	f.call("kill %s", c.name)
	c.state, c.exitCode = container.StateExited, 137
	return nil
}

func (f *fakeDocker) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil {
		return errors.New("No such container: " + id)
	}
	f.call("remove %s", c.name)
	if f.failRemove[c.name] {
		return errors.New("device or resource busy")
	}
	delete(f.containers, c.id)
	return nil
}

func (f *fakeDocker) ContainerLogs(_ context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	var buf bytes.Buffer
	w := stdcopy.NewStdWriter(&buf, stdcopy.Stdout)
	for _, l := range f.logs[c.cfg.Labels["dev.msx.service"]] {
		fmt.Fprintln(w, l)
	}
	return io.NopCloser(&buf), nil
}

func (f *fakeDocker) NetworkList(_ context.Context, o network.ListOptions) ([]network.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []network.Summary
	for _, n := range f.networks {
		if matches(o.Filters, n.Labels) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *fakeDocker) NetworkCreate(_ context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("network create %s", name)
	f.networks[name] = network.Summary{ID: "net-" + name, Name: name, Labels: o.Labels, Internal: o.Internal}
	return network.CreateResponse{ID: "net-" + name}, nil
}

func (f *fakeDocker) NetworkConnect(_ context.Context, netID, id string, _ *network.EndpointSettings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("network connect %s %s", netID, f.byRef(id).name)
	return nil
}

func (f *fakeDocker) NetworkRemove(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, n := range f.networks {
		if n.ID == id {
			f.call("network remove %s", name)
			delete(f.networks, name)
			return nil
		}
	}
	return errors.New("no such network")
}

func (f *fakeDocker) VolumeList(_ context.Context, o volume.ListOptions) (volume.ListResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out volume.ListResponse
	for _, v := range f.volumes {
		if matches(o.Filters, v.Labels) {
			out.Volumes = append(out.Volumes, v)
		}
	}
	return out, nil
}

func (f *fakeDocker) VolumeCreate(_ context.Context, o volume.CreateOptions) (volume.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("volume create %s", o.Name)
	v := &volume.Volume{Name: o.Name, Labels: o.Labels}
	f.volumes[o.Name] = v
	return *v, nil
}

func (f *fakeDocker) VolumeRemove(_ context.Context, name string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("volume remove %s", name)
	delete(f.volumes, name)
	return nil
}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.images[ref] {
		return image.InspectResponse{}, errors.New("No such image: " + ref)
	}
	return image.InspectResponse{ID: ref}, nil
}

// fakeBuilder returns images tagged with a per-service version.
type fakeBuilder struct {
	mu      sync.Mutex
	version map[string]int
	builds  [][]builder.Target
}

func (b *fakeBuilder) Build(_ context.Context, targets []builder.Target) ([]builder.Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.builds = append(b.builds, targets)
	var out []builder.Result
	for _, t := range targets {
		out = append(out, builder.Result{Name: t.Name, Image: fmt.Sprintf("msx-shop/%s:%d", t.Name, b.version[t.Name])})
	}
	return out, nil
}

// fakeClock advances only when slept on.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}
