package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"slices"
	"strconv"
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
	"github.com/msx-dev/msx/clock"
)

// fakeDocker is an in-memory engine. Containers "run" until told to exit.
type fakeDocker struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer // by ID
	networks   map[string]network.Summary
	volumes    map[string]*volume.Volume
	images     map[string]bool
	// pullable are images ImagePull finds, with the stream it sends.
	pullable map[string]string
	// copies are the files CopyToContainer wrote: "NAME:PATH/FILE" to
	// the file's content and mode.
	copies map[string]string
	nextID int
	calls  []string
	// exitOnStart makes a service's container exit at once with a code.
	exitOnStart map[string]int
	// failStart makes ContainerStart fail for a service.
	failStart map[string]bool
	// startErr is the error of a failing start, if not the default.
	startErr error
	// failStartID makes ContainerStart fail for one container.
	failStartID map[string]bool
	// failRemove makes ContainerRemove fail for a container name.
	failRemove map[string]bool
	// volumesKept lists the containers removed without their anonymous
	// volumes (every msx container has one, for /msx): each is a leak.
	volumesKept []string
	// logs are the lines a service's program prints each time it starts.
	logs map[string][]string
	// hang makes ContainerStop and ContainerKill block until their
	// context is done, as an engine that does not answer; hangRemove does
	// the same to ContainerRemove.
	hang, hangRemove bool
	// onCreate runs at the start of ContainerCreate (a Ctrl-C, say).
	onCreate func(name string)
	// createErr makes ContainerCreate of a container name create it, as
	// the engine does, yet return an error, as a client whose request
	// timed out does.
	createErr map[string]error
	// logsErr makes every ContainerLogs fail.
	logsErr error
	// beforeKill runs inside ContainerKill with f.mu held (a graceful stop
	// finishing first, say).
	beforeKill func(c *fakeContainer)
	// now is the engine's clock: every start and log line moves it on.
	now time.Time
}

// fakeLine is one line a container printed.
type fakeLine struct {
	t    time.Time
	text string
}

type fakeContainer struct {
	id, name string
	cfg      *container.Config
	host     *container.HostConfig
	state    container.ContainerState
	exitCode int
	port     int
	started  time.Time
	log      []fakeLine
	// stream is closed when the current run ends: followers' streams end.
	stream chan struct{}
	// program counts the programs msx-init started in this container (a
	// swap signal starts another one): ContainerTop shows its PID.
	program int
	// health is the engine's health status ("" for none); cpu and mem are
	// what ContainerStatsOneShot reports (cpu in ns, moved on 50ms per
	// engine millisecond: 5% of a core).
	health   container.HealthStatus
	cpu, mem uint64
}

func newFake() *fakeDocker {
	return &fakeDocker{
		containers:  map[string]*fakeContainer{},
		networks:    map[string]network.Summary{},
		volumes:     map[string]*volume.Volume{},
		images:      map[string]bool{},
		pullable:    map[string]string{},
		copies:      map[string]string{},
		exitOnStart: map[string]int{},
		failStart:   map[string]bool{},
		failRemove:  map[string]bool{},
		failStartID: map[string]bool{},
		logs:        map[string][]string{},
		createErr:   map[string]error{},
		now:         time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// tick moves the engine's clock on and returns it; f.mu is held.
func (f *fakeDocker) tick() time.Time {
	f.now = f.now.Add(time.Millisecond)
	return f.now
}

// run starts c and has it print lines; f.mu is held.
func (f *fakeDocker) run(c *fakeContainer, lines ...string) {
	c.state = container.StateRunning
	c.started = f.tick()
	c.stream = make(chan struct{})
	f.print(c, lines...)
}

// print appends lines to c's log; f.mu is held.
func (f *fakeDocker) print(c *fakeContainer, lines ...string) {
	for _, l := range lines {
		c.log = append(c.log, fakeLine{t: f.tick(), text: l})
	}
}

// exit ends c's current run; f.mu is held.
func (f *fakeDocker) exit(c *fakeContainer, code int) {
	if c.state == container.StateRunning && c.stream != nil {
		close(c.stream)
	}
	c.state, c.exitCode = container.StateExited, code
}

// add puts a container straight into the engine, as a test's setup.
func (f *fakeDocker) add(id, name, service string, state container.ContainerState, code int, lines ...string) *fakeContainer {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &fakeContainer{id: id, name: name, state: container.StateCreated,
		cfg: &container.Config{Labels: map[string]string{"dev.msx.service": service}}, host: &container.HostConfig{}}
	f.containers[id] = c
	f.run(c, lines...)
	if state != container.StateRunning {
		f.exit(c, code)
	}
	return c
}

// restart stops a running container and starts it again at once, printing
// lines, as a hot swap does.
func (f *fakeDocker) restart(name string, lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(name)
	f.exit(c, 0)
	f.run(c, lines...)
}

// stopped ends a container's run with code.
func (f *fakeDocker) stopped(name string, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exit(f.byRef(name), code)
}

// startAgain starts a stopped container, printing lines.
func (f *fakeDocker) startAgain(name string, lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.run(f.byRef(name), lines...)
}

// state returns the state of a container by name, or "" when it is gone.
func (f *fakeDocker) state(name string) container.ContainerState {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.byRef(name); c != nil {
		return c.state
	}
	return ""
}

// hung is the error of a client whose request timed out.
func hung(ctx context.Context, what string) error {
	return &url.Error{Op: "Post", URL: "http://%2Fvar%2Frun%2Fdocker.sock/v1.47/containers/" + what, Err: ctx.Err()}
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
			State: &container.State{Status: c.state, Running: c.state == container.StateRunning, ExitCode: c.exitCode, StartedAt: c.started.Format(time.RFC3339Nano), Health: health(c.health)},
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

func (f *fakeDocker) ContainerCreate(ctx context.Context, cfg *container.Config, host *container.HostConfig, _ *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	if f.onCreate != nil {
		f.onCreate(name)
	}
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
	// The engine finishes what it was asked even when the client gave up.
	if ctx.Err() != nil {
		return container.CreateResponse{}, hung(ctx, "create")
	}
	if err := f.createErr[name]; err != nil {
		return container.CreateResponse{}, err
	}
	return container.CreateResponse{ID: id}, nil
}

func (f *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	f.call("start %s", c.name)
	svc := c.cfg.Labels["dev.msx.service"]
	if f.failStart[svc] || f.failStartID[c.id] {
		if f.startErr != nil {
			return f.startErr
		}
		return errors.New("port is already allocated")
	}
	f.run(c, f.logs[svc]...)
	if code, ok := f.exitOnStart[svc]; ok {
		f.exit(c, code)
		return nil
	}
	// Its own ephemeral port, whatever was created meanwhile.
	var n int
	fmt.Sscanf(c.id, "id%d", &n)
	c.port = 40000 + n
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
		return hung(ctx, id+"/stop")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	f.call("stop %s", c.name)
	f.exit(c, 0)
	return nil
}

func (f *fakeDocker) ContainerKill(ctx context.Context, id, signal string) error {
	if f.hang {
		<-ctx.Done()
		return hung(ctx, id+"/kill")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil {
		return errors.New("No such container: " + id)
	}
	if signal == "SIGUSR2" && c.state == container.StateRunning {
		// msx-init: the program stops and starts again, the container runs on.
		f.call("kill -%s %s", signal, c.name)
		c.program++
		f.print(c, f.logs[c.cfg.Labels["dev.msx.service"]]...)
		return nil
	}
	f.call("kill %s", c.name)
	if f.beforeKill != nil {
		f.beforeKill(c)
	}
	if c.state != container.StateRunning {
		// As the engine: a kill of a stopped container is a 409.
		return fmt.Errorf("Cannot kill container: %s: Container %s is not running", id, c.id)
	}
	f.exit(c, 137)
	return nil
}

func (f *fakeDocker) ContainerRemove(ctx context.Context, id string, opts container.RemoveOptions) error {
	if f.hangRemove {
		<-ctx.Done()
		return hung(ctx, id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil {
		return errors.New("No such container: " + id)
	}
	f.call("remove %s", c.name)
	if !opts.RemoveVolumes {
		f.volumesKept = append(f.volumesKept, c.name)
	}
	if f.failRemove[c.name] {
		return errors.New("device or resource busy")
	}
	f.exit(c, 137)
	delete(f.containers, c.id)
	return nil
}

// ContainerLogs honours Since, Tail and Timestamps. Following a running
// container, the stream ends when its run does (or ctx is done).
func (f *fakeDocker) ContainerLogs(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil {
		return nil, errors.New("No such container: " + id)
	}
	f.call("logs %s since=%s tail=%s", c.name, o.Since, o.Tail)
	if f.logsErr != nil {
		return nil, f.logsErr
	}
	var since time.Time
	if o.Since != "" {
		var sec, nsec int64
		if _, err := fmt.Sscanf(o.Since, "%d.%d", &sec, &nsec); err != nil {
			return nil, fmt.Errorf("bad since %q", o.Since)
		}
		since = time.Unix(sec, nsec)
	}
	lines := c.log
	if o.Tail != "" {
		var n int
		fmt.Sscan(o.Tail, &n)
		lines = lines[max(0, len(lines)-n):]
	}
	var buf bytes.Buffer
	w := stdcopy.NewStdWriter(&buf, stdcopy.Stdout)
	for _, l := range lines {
		if l.t.Before(since) {
			continue
		}
		msg := l.text + "\n"
		if o.Timestamps {
			msg = l.t.Format("2006-01-02T15:04:05.000000000Z07:00") + " " + msg
		}
		w.Write([]byte(msg))
	}
	if !o.Follow || c.state != container.StateRunning {
		return io.NopCloser(&buf), nil
	}
	return &followReader{r: &buf, stream: c.stream, ctx: ctx}, nil
}

func health(s container.HealthStatus) *container.Health {
	if s == "" {
		return nil
	}
	h := &container.Health{Status: s}
	if s == container.Unhealthy {
		h.Log = []*container.HealthcheckResult{{ExitCode: 1, Output: "connection refused\n"}}
	}
	return h
}

// ContainerTop lists msx-init (PID 1) and its program, whose PID changes
// with each program it starts.
func (f *fakeDocker) ContainerTop(_ context.Context, id string, _ []string) (container.TopResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil || c.state != container.StateRunning {
		return container.TopResponse{}, errors.New("Container " + id + " is not running")
	}
	f.call("top %s", c.name)
	return container.TopResponse{Titles: []string{"UID", "PID", "CMD"},
		Processes: [][]string{{"65532", "1", "/msx-init /msx/app"}, {"65532", strconv.Itoa(100 + c.program), "/msx/app"}}}, nil
}

// ContainerStatsOneShot reports the counters of a running container; its
// CPU counter moves on with the engine's clock.
func (f *fakeDocker) ContainerStatsOneShot(_ context.Context, id string) (container.StatsResponseReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil {
		return container.StatsResponseReader{}, errors.New("No such container: " + id)
	}
	f.call("stats %s", c.name)
	var v container.StatsResponse
	if c.state == container.StateRunning {
		v.Read = f.now
		v.CPUStats.CPUUsage.TotalUsage = c.cpu
		v.MemoryStats = container.MemoryStats{Usage: c.mem + 4096, Stats: map[string]uint64{"inactive_file": 4096}}
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	return container.StatsResponseReader{Body: io.NopCloser(&buf), OSType: "linux"}, nil
}

// ContainerRestart stops a running container as ContainerStop does and
// starts it again, as the engine does.
func (f *fakeDocker) ContainerRestart(ctx context.Context, id string, _ container.StopOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil {
		return errors.New("No such container: " + id)
	}
	f.call("restart %s", c.name)
	f.exit(c, 0)
	f.run(c, f.logs[c.cfg.Labels["dev.msx.service"]]...)
	return nil
}

// followReader yields what was logged, then blocks until the run ends.
type followReader struct {
	r      io.Reader
	stream chan struct{}
	ctx    context.Context
}

func (f *followReader) Read(p []byte) (int, error) {
	if n, err := f.r.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	select {
	case <-f.stream:
		return 0, io.EOF
	case <-f.ctx.Done():
		return 0, f.ctx.Err()
	}
}

func (f *followReader) Close() error { return nil }

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

func (f *fakeDocker) ImagePull(_ context.Context, ref string, _ image.PullOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("pull %s", ref)
	stream, ok := f.pullable[ref]
	if !ok {
		return nil, errors.New("Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host")
	}
	if !strings.Contains(stream, `"error"`) {
		f.images[ref] = true
	}
	return io.NopCloser(strings.NewReader(stream)), nil
}

func (f *fakeDocker) CopyToContainer(_ context.Context, id, dst string, content io.Reader, _ container.CopyToContainerOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byRef(id)
	if c == nil {
		return errors.New("No such container: " + id)
	}
	f.call("copy %s %s", c.name, dst)
	tr := tar.NewReader(content)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeDir {
			// A folder: its owner is what matters.
			f.copies[c.name+":"+dst+"/"+h.Name] = fmt.Sprintf("dir %o %d:%d", h.Mode, h.Uid, h.Gid)
			continue
		}
		f.copies[c.name+":"+dst+"/"+h.Name] = fmt.Sprintf("%s %o", b, h.Mode)
	}
}

// fakeBuilder returns images tagged with a per-service version.
type fakeBuilder struct {
	mu      sync.Mutex
	version map[string]int
	builds  [][]builder.Target
	// onBuild runs during each build (the world changing meanwhile).
	onBuild func()
}

func (b *fakeBuilder) Build(_ context.Context, targets []builder.Target) ([]builder.Result, error) {
	if b.onBuild != nil {
		b.onBuild()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.builds = append(b.builds, targets)
	var out []builder.Result
	seen := map[string]bool{}
	for _, t := range targets {
		// As the real builder: one target a name.
		if seen[t.Name] {
			return nil, fmt.Errorf("builder: target %q: empty or duplicate name, or no package", t.Name)
		}
		seen[t.Name] = true
		out = append(out, builder.Result{Name: t.Name, Image: fmt.Sprintf("msx-shop/%s:%d", t.Name, b.version[t.Name])})
	}
	return out, nil
}

// fakeClock advances only when slept on. The runner only polls: Now and
// Sleep.
type fakeClock struct {
	clock.Clock
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
	c.now = c.now.Add(d)
	c.mu.Unlock()
	runtime.Gosched() // a poll loop lets the test's goroutine move on
	return nil
}

func (f *fakeDocker) ContainerPause(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("pause %s", f.byRef(id).name)
	return nil
}

func (f *fakeDocker) ContainerUnpause(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("unpause %s", f.byRef(id).name)
	return nil
}
