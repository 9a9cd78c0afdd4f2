package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/go-connections/nat"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/clock"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
	"github.com/msx-dev/msx/templates"
)

// DefaultReadyTimeout bounds the wait for one container to become ready.
const DefaultReadyTimeout = 60 * time.Second

// LogTail is how many log lines a failure shows.
const LogTail = 20

// Runner applies plans to one engine.
type Runner struct {
	API     DockerAPI
	Builder ImageBuilder
	// Progress receives each step of an up or a stop (created, ready,
	// stopped, ...); it may be nil. It is called from several goroutines,
	// never at once.
	Progress progress.Func

	// Clock, Probe, PortFree and PollInterval default to the real thing.
	Clock clock.Clock
	// Probe fetches url and returns nil on a 200.
	Probe func(ctx context.Context, url string) error
	// PortFree returns nil when nothing listens on 127.0.0.1:port.
	PortFree     func(port int) error
	PollInterval time.Duration
	ReadyTimeout time.Duration
	// StopGrace is how long a container may take to stop before it is
	// killed; EngineTimeout bounds each engine call while stopping.
	StopGrace     time.Duration
	EngineTimeout time.Duration
	// DownTimeout bounds each engine call of Down.
	DownTimeout time.Duration
	// Admin reads the programs' admin listeners; default HTTPAdmin.
	Admin AdminClient
	// Broker reads the broker's monitoring endpoint; default HTTPBroker.
	Broker BrokerClient
	// Secrets gives msx events' reader its broker seed; default the
	// workspace's .msx (state.Store).
	Secrets SecretSource

	mu sync.Mutex
	// secrets holds the values of the plan's secrets during an up, read
	// before anything is created.
	secrets map[string]string
	// probeSecrets are the paths readiness probes fetch under (the
	// broker's monitoring path), kept after an up (keepProbeSecrets).
	probeSecrets map[string]string
}

// New returns a runner over api that builds images with b.
func New(api DockerAPI, b ImageBuilder) *Runner {
	return &Runner{API: api, Builder: b}
}

func (r *Runner) clock() clock.Clock {
	if r.Clock == nil {
		return clock.Real
	}
	return r.Clock
}

func (r *Runner) progress(s progress.Step) {
	if r.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Progress(s)
}

func (r *Runner) probe(ctx context.Context, url string) error {
	if r.Probe != nil {
		return r.Probe(ctx, url)
	}
	return HTTPProbe(ctx, url)
}

// HTTPProbe GETs url with a short timeout; a 200 is nil.
func HTTPProbe(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// LoopbackPortFree reports whether 127.0.0.1:port can be bound.
func LoopbackPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(devenv.LoopbackIP, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// UpOptions are the user's choices for one up.
type UpOptions struct {
	// Services limits up to these services and what they depend on.
	Services   []string
	MsxVersion string
	LogLevel   string
	// Secrets supplies the value of each secret of the plan (database
	// passwords); used only when the plan has one.
	Secrets SecretSource
}

// ServiceError is a service that exited or never became ready during up.
type ServiceError struct {
	Service  string
	ExitCode int // -1 while still running
	Timeout  time.Duration
	Logs     []string // the last LogTail lines
	Err      error
}

func (e *ServiceError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%s could not start: %v", e.Service, e.Err)
	case e.ExitCode >= 0:
		return fmt.Sprintf("%s exited with code %d before it was ready", e.Service, e.ExitCode)
	default:
		return fmt.Sprintf("%s was not ready after %s", e.Service, e.Timeout)
	}
}

func (e *ServiceError) Unwrap() error { return e.Err }

// UpError is an up that failed after it had started containers: an
// attached up stops them, a detached one leaves them to msx down.
type UpError struct {
	// Started names the containers this up created or started, in the
	// order it started them.
	Started []string
	Err     error
}

func (e *UpError) Error() string { return e.Err.Error() }
func (e *UpError) Unwrap() error { return e.Err }

// CreateTimeout bounds creating and starting one container. Both run
// whatever the context says, so that a Ctrl-C never leaves a container the
// engine created after msx stopped listening: msx checks the context once
// the engine has answered.
const CreateTimeout = 20 * time.Second

// startParallel is how many containers one up creates and starts at once.
// The engine does much of that work one container at a time anyway; more
// at once only makes each wait longer inside its CreateTimeout.
const startParallel = 8

// started collects the containers one up started, and which of them it
// created.
type started struct {
	mu      sync.Mutex
	names   []string
	created map[string]string // name to ID
	infra   map[string]bool   // the created that are instances (databases, broker, collector)
}

func (s *started) add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, name)
}

func (s *started) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.names)
}

// Up brings the workspace of m up and returns the plan it applied once
// every container is ready.
func (r *Runner) Up(ctx context.Context, m *devenv.Manifest, opts UpOptions) (*devenv.Plan, error) {
	existing, err := r.API.ContainerList(ctx, container.ListOptions{All: true, Filters: projectFilter(m.Project)})
	if err != nil {
		return nil, engineErr(ctx, err, "listing containers")
	}
	ours := map[string]container.Summary{}
	for _, c := range existing {
		if dir := c.Labels[devenv.LabelWorkspace]; dir != m.Dir {
			return nil, msxerr.New("run msx down in that folder first, or rename the project in msx.yaml",
				"project %s is already running from %s (container %s)", m.Project, dir, containerName(c))
		}
		ours[containerName(c)] = c
	}
	if err := r.preflightPort(m, ours); err != nil {
		return nil, err
	}

	keys, err := GatewayKeys(opts.Secrets)
	if err != nil {
		return nil, err
	}
	plan, err := devenv.MakePlan(m, devenv.PlanOptions{
		Services:    opts.Services,
		MsxVersion:  opts.MsxVersion,
		LogLevel:    opts.LogLevel,
		GatewayKeys: keys,
		// With a store of secrets (msx up's), every program gets the
		// project's admin token, which msx fault and msx ps then send.
		AdminToken: opts.Secrets != nil,
	})
	if err != nil {
		return nil, err
	}
	// Images and secrets first: neither costs a build when it fails.
	if err := r.EnsureImages(ctx, plan); err != nil {
		return nil, err
	}
	values, err := secretValues(plan, opts.Secrets)
	if err != nil {
		return nil, err
	}
	if err := r.checkStaleVolumes(ctx, plan, opts.Secrets); err != nil {
		return nil, err
	}
	if err := r.keepProbeSecrets(plan, opts.Secrets); err != nil {
		return nil, err
	}
	plan.HashSecrets(values)
	r.setSecrets(values)
	defer r.setSecrets(nil)
	images, err := r.build(ctx, plan)
	if err != nil {
		return nil, err
	}
	if err := plan.Resolve(images); err != nil {
		return nil, err
	}
	if err := r.ensureNetworks(ctx, plan); err != nil {
		return nil, err
	}
	if err := r.ensureVolumes(ctx, plan); err != nil {
		return nil, err
	}
	if err := r.removeOrphans(ctx, m, ours); err != nil {
		return plan, err
	}
	var st started
	if err := r.converge(ctx, plan, ours, &st); err != nil {
		if !errors.Is(err, msxerr.ErrCancelled) {
			r.undoAttempt(ctx, &st)
		}
		if names := st.list(); len(names) > 0 {
			return plan, &UpError{Started: names, Err: err}
		}
		return plan, err
	}
	return plan, nil
}

// removeOrphans removes the containers of services that are no longer in
// msx.yaml (a database goes with its service).
func (r *Runner) removeOrphans(ctx context.Context, m *devenv.Manifest, ours map[string]container.Summary) error {
	names := make([]string, 0, len(ours))
	for n := range ours {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		c := ours[n]
		svc := c.Labels[devenv.LabelService]
		if owner := c.Labels[devenv.LabelOwner]; owner != "" {
			svc = owner
		} else if c.Labels[devenv.LabelRole] == devenv.RoleDatabase {
			// Before kinds had owners, a database was SERVICE-db.
			svc = strings.TrimSuffix(svc, "-db")
		} else if c.Labels[devenv.LabelKind] != "" {
			continue // a per-project kind: it goes with down
		} else if c.Labels[devenv.LabelRole] == devenv.RoleTool {
			continue // msx events' reader, in another terminal: it ends with it
		}
		if m.ReplicaOf(svc) != "" || svc == devenv.GatewayName || svc == devenv.CollectorName {
			continue
		}
		if err := r.API.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
			return engineErr(ctx, err, "removing "+n)
		}
		delete(ours, n)
		r.progress(progress.Step{Kind: progress.Removed, Name: c.Labels[devenv.LabelService], Reason: "no longer in msx.yaml"})
	}
	return nil
}

// preflightPort checks the gateway port before anything is created. The
// port may be held by this workspace's own gateway container.
func (r *Runner) preflightPort(m *devenv.Manifest, ours map[string]container.Summary) error {
	port := m.Gateway.Port
	if gw, ok := ours[devenv.ContainerName(m.Project, devenv.GatewayName)]; ok && gw.State == container.StateRunning {
		for _, p := range gw.Ports {
			if int(p.PublicPort) == port {
				return nil
			}
		}
	}
	free := r.PortFree
	if free == nil {
		free = LoopbackPortFree
	}
	if err := free(port); err != nil {
		return portInUse(port, err)
	}
	return nil
}

// portInUse is the one error for a gateway port that something else holds,
// found before anything is created or reported by the engine.
func portInUse(port int, cause error) error {
	return msxerr.Wrap(cause, "stop what uses it, or pick another port with MSX_GATEWAY_PORT or gateway.port in msx.yaml",
		"the gateway port %d on %s is already in use", port, devenv.LoopbackIP)
}

// isPortInUse reports the engine's errors for a host port it cannot bind.
func isPortInUse(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "address already in use") || strings.Contains(msg, "port is already allocated")
}

// checkPort checks a fixed host port again just before a container that
// publishes it starts: a build can take minutes, and the port may have
// been taken meanwhile. The engine may take a moment to release the port
// of a container just removed, so a busy port is checked a few times over
// about a second before it is an error.
func (r *Runner) checkPort(ctx context.Context, port int) error {
	free := r.PortFree
	if free == nil {
		free = LoopbackPortFree
	}
	var err error
	for i := 0; i < 10; i++ {
		if err = free(port); err == nil {
			return nil
		}
		if r.clock().Sleep(ctx, 100*time.Millisecond) != nil {
			return msxerr.ErrCancelled
		}
	}
	return portInUse(port, err)
}

// CollectorSourceDir is where, in a workspace, msx writes the trace
// collector's source to compile it.
func CollectorSourceDir(workspace string) string {
	return filepath.Join(workspace, ".msx", "collector")
}

// build builds the images the plan's containers run and returns the
// image of each build target. The trace collector is built from the
// source msx embeds, written under the workspace's .msx.
func (r *Runner) build(ctx context.Context, p *devenv.Plan) (map[string]string, error) {
	var targets []builder.Target
	seen := map[string]bool{}
	for _, c := range p.Containers {
		// A service's replicas run one build.
		if c.Image.Build == "" || seen[c.Image.Build] {
			continue
		}
		seen[c.Image.Build] = true
		t := builder.Target{Name: c.Image.Build, Pkg: c.Image.Pkg}
		if c.Image.Build == devenv.CollectorName {
			files, err := templates.CollectorFiles()
			if err != nil {
				return nil, err
			}
			t.Dir, t.Files = CollectorSourceDir(p.Dir), files
		}
		targets = append(targets, t)
	}
	results, err := r.Builder.Build(ctx, targets)
	if err != nil {
		if ctx.Err() != nil {
			return nil, msxerr.ErrCancelled
		}
		return nil, err
	}
	images := map[string]string{}
	for _, res := range results {
		images[res.Name] = res.Image
	}
	return images, nil
}

func (r *Runner) ensureNetworks(ctx context.Context, p *devenv.Plan) error {
	for _, n := range p.Networks {
		list, err := r.API.NetworkList(ctx, network.ListOptions{Filters: projectFilter(p.Project)})
		if err != nil {
			return engineErr(ctx, err, "listing networks")
		}
		found := false
		for _, have := range list {
			if have.Name != n.Name {
				continue
			}
			if dir := have.Labels[devenv.LabelWorkspace]; dir != p.Dir {
				return msxerr.New("run msx down in that folder first, or rename the project in msx.yaml",
					"network %s belongs to project %s in %s", n.Name, p.Project, dir)
			}
			found = true
		}
		if found {
			continue
		}
		_, err = r.API.NetworkCreate(ctx, n.Name, network.CreateOptions{
			Driver:   "bridge",
			Internal: n.Internal,
			Labels:   n.Labels,
		})
		if err != nil {
			return engineErr(ctx, err, "creating network "+n.Name)
		}
		r.progress(progress.Step{Kind: progress.Created, Object: progress.Network, Name: n.Name})
	}
	return nil
}

func (r *Runner) ensureVolumes(ctx context.Context, p *devenv.Plan) error {
	if len(p.Volumes) == 0 {
		return nil
	}
	list, err := r.API.VolumeList(ctx, volume.ListOptions{Filters: workspaceFilter(p.Project, p.Dir)})
	if err != nil {
		return engineErr(ctx, err, "listing volumes")
	}
	have := map[string]bool{}
	for _, v := range list.Volumes {
		have[v.Name] = true
	}
	for _, v := range p.Volumes {
		if have[v.Name] {
			continue
		}
		if _, err := r.API.VolumeCreate(ctx, volume.CreateOptions{Name: v.Name, Labels: v.Labels}); err != nil {
			return engineErr(ctx, err, "creating volume "+v.Name)
		}
		r.progress(progress.Step{Kind: progress.Created, Object: progress.Volume, Name: v.Name})
	}
	return nil
}

// converge creates, adopts or recreates every container and waits until
// each is ready, in waves: every container of a wave is started at once,
// and then all of them are waited for together. A container's wave comes
// after the waves of what it needs ready before it starts (needsReady):
// infrastructure, then every service at once, then the gateway, so that
// a chain of N services costs one readiness wait, not N. The first
// failure stops the rest; a service whose dependency is not ready yet
// leaves the timeout to that dependency (see waitReady), so that the error
// names the one that never became ready.
func (r *Runner) converge(parent context.Context, p *devenv.Plan, ours map[string]container.Summary, st *started) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	ready := map[string]chan struct{}{} // closed once the container is ready
	for _, c := range p.Containers {
		ready[c.Service] = make(chan struct{})
	}
	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	for _, wave := range waves(p, ours) {
		ids := make([]string, len(wave))
		// startParallel at a time: each create and start has CreateTimeout
		// from its turn, where fifty at once on two cores could outlast it
		// waiting for the engine.
		bounded(len(wave), startParallel, func(i int) {
			if ctx.Err() != nil {
				return // another failed: create no more
			}
			c := wave[i]
			var have *container.Summary
			if s, ok := ours[c.Name]; ok {
				have = &s
			}
			id, err := r.startOne(ctx, c, have, st)
			if err != nil {
				fail(err)
			}
			ids[i] = id
		})
		if ctx.Err() != nil {
			break
		}
		inWave := map[string]bool{}
		for _, c := range wave {
			inWave[c.Service] = true
		}
		var wg sync.WaitGroup
		for i, c := range wave {
			// A dependency of c in this wave that is not ready yet, or nil.
			// (Those of earlier waves are ready; one of a later wave, of a
			// container adopted as it runs, would never be waited for.)
			pending := func() <-chan struct{} {
				for _, d := range c.DependsOn {
					if ch, ok := ready[d]; ok && inWave[d] {
						select {
						case <-ch:
						default:
							return ch
						}
					}
				}
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.waitReady(ctx, c, ids[i], pending); err != nil {
					fail(err)
					return
				}
				r.progress(progress.Step{Kind: progress.Ready, Name: c.Service})
				close(ready[c.Service])
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			break
		}
	}
	if parent.Err() != nil {
		return msxerr.ErrCancelled
	}
	return firstErr
}

// waves groups the plan's containers by when they start: a container
// comes one wave after the last of the dependencies it needs ready
// (needsReady). A container that up adopts running as it is needs
// nothing: it starts nothing, so it is only checked, in the first wave.
// The plan's order is kept within a wave.
func waves(p *devenv.Plan, ours map[string]container.Summary) [][]*devenv.Container {
	planned := map[string]*devenv.Container{}
	for i := range p.Containers {
		planned[p.Containers[i].Service] = &p.Containers[i]
	}
	level := map[string]int{}
	var levelOf func(c *devenv.Container) int
	levelOf = func(c *devenv.Container) int {
		if l, ok := level[c.Service]; ok {
			return l
		}
		l := 0
		if !keepsRunning(c, ours) {
			for _, d := range c.DependsOn {
				if dep, ok := planned[d]; ok && needsReady(c, dep) {
					l = max(l, levelOf(dep)+1)
				}
			}
		}
		level[c.Service] = l
		return l
	}
	var out [][]*devenv.Container
	for i := range p.Containers {
		c := &p.Containers[i]
		l := levelOf(c)
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], c)
	}
	return out
}

// needsReady says whether c must wait, before it is created, for its
// dependency dep to be ready. This is the one place where start order is
// readiness order, and only two cases need it: a program waits for the
// instances of infrastructure kinds it uses (its database, the broker,
// the collector), which it connects to as it starts; and the gateway
// waits for every replica of the services it routes to, so that the
// first requests it takes find them ready (its breakers never count a
// start), and a failed up never replaces a working gateway. A service
// never waits for the services it calls: their clients retry and break.
func needsReady(c, dep *devenv.Container) bool {
	if c.Role == devenv.RoleGateway {
		return true
	}
	return dep.Role != devenv.RoleService && dep.Role != devenv.RoleGateway
}

// startOne makes one container match the plan and starts it, and returns
// its ID; converge then waits until it is ready.
func (r *Runner) startOne(ctx context.Context, c *devenv.Container, have *container.Summary, st *started) (string, error) {
	id := ""
	adopted := false
	fixedPort := c.HostPort != 0
	if have != nil && have.Labels[devenv.LabelConfigHash] == c.Hash() {
		id = have.ID
		if have.State == container.StateRunning {
			r.progress(progress.Step{Kind: progress.Running, Name: c.Service})
			adopted = true
		} else {
			if fixedPort {
				if err := r.checkPort(ctx, c.HostPort); err != nil {
					return "", err
				}
			}
			err := r.start(ctx, id)
			switch {
			case err == nil:
				st.add(c.Name)
				if ctx.Err() != nil {
					return "", &ServiceError{Service: c.Service, ExitCode: -1, Err: msxerr.ErrCancelled}
				}
				r.progress(progress.Step{Kind: progress.Started, Name: c.Service})
				adopted = true
			case ctx.Err() != nil:
				return "", &ServiceError{Service: c.Service, ExitCode: -1, Err: msxerr.ErrCancelled}
			case fixedPort && isPortInUse(err):
				return "", portInUse(c.HostPort, err)
			}
			// A container that cannot start again (its network went with a
			// down that raced a killed up, say) is recreated below.
		}
	}
	if !adopted {
		step := progress.Step{Kind: progress.Created, Name: c.Service}
		if have != nil {
			if err := r.replace(ctx, have); err != nil {
				return "", &ServiceError{Service: c.Service, ExitCode: -1, Err: engineErr(ctx, err, "removing the old "+c.Name)}
			}
			step.Kind, step.Reason = progress.Recreated, Changed(have.Image, have.Labels[devenv.LabelConfigHash], c)
			if have.Labels[devenv.LabelConfigHash] == c.Hash() {
				step.Reason = "the old one would not start"
			}
		}
		if fixedPort {
			if err := r.checkPort(ctx, c.HostPort); err != nil {
				return "", err
			}
		}
		var err error
		if id, err = r.create(ctx, c, st); err != nil {
			if fixedPort && isPortInUse(err) {
				return "", portInUse(c.HostPort, err)
			}
			return "", &ServiceError{Service: c.Service, ExitCode: -1, Err: err}
		}
		r.progress(step)
	}
	return id, nil
}

// replace stops a container that is being replaced the way the service
// expects to be stopped (SIGTERM, then its graceful shutdown, within
// StopGrace), never with a bare SIGKILL, and then removes it.
func (r *Runner) replace(ctx context.Context, have *container.Summary) error {
	if have.State == container.StateRunning || have.State == container.StateRestarting {
		grace := int(r.stopGrace() / time.Second)
		sctx, cancel := context.WithTimeout(ctx, r.stopGrace()+r.engineTimeout())
		err := r.API.ContainerStop(sctx, have.ID, container.StopOptions{Timeout: &grace})
		cancel()
		if err != nil && !gone(err) {
			return err
		}
	}
	if err := r.API.ContainerRemove(ctx, have.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// Changed says what differs between a running container (its image and
// config hash) and the plan's: "code changed" when only the image does
// (a new build), "configuration changed" when only the rest does, both
// when both do.
func Changed(image, hash string, c *devenv.Container) string {
	if image == c.ResolvedImage {
		return "configuration changed"
	}
	same := *c
	same.ResolvedImage = image
	if devenv.HashOf(&same) == hash {
		return "code changed"
	}
	return "code and configuration changed"
}

// start starts an existing container under CreateTimeout, whatever ctx
// says: the caller checks ctx afterwards.
func (r *Runner) start(ctx context.Context, id string) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CreateTimeout)
	defer cancel()
	return r.API.ContainerStart(sctx, id, container.StartOptions{})
}

// create creates and starts a container. The engine calls run under
// CreateTimeout whatever ctx says, and ctx is checked once they return: a
// Ctrl-C that arrives meanwhile never leaves a container the engine
// created after msx stopped waiting. A container that was created but not
// started (an error, a timeout, or ctx done before it started) is removed,
// by name when the engine did not say its ID: nothing stays in "created".
func (r *Runner) create(ctx context.Context, c *devenv.Container, st *started) (string, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CreateTimeout)
	defer cancel()
	cfg, host, netcfg := containerConfig(c)
	resp, err := r.API.ContainerCreate(cctx, cfg, host, netcfg, nil, c.Name)
	cleanup := func(cause error) error {
		r.removeCreated(ctx, c, resp.ID)
		return cause
	}
	if err != nil {
		if isConflict(err) {
			// The name is someone else's: never remove what msx did not create.
			return "", engineErr(ctx, err, "creating "+c.Name)
		}
		return "", cleanup(engineErr(ctx, err, "creating "+c.Name))
	}
	if ctx.Err() != nil {
		return "", cleanup(msxerr.ErrCancelled)
	}
	if err := r.writeSecrets(cctx, c, resp.ID); err != nil {
		return "", cleanup(err)
	}
	if err := r.makeOwnedDirs(cctx, c, resp.ID); err != nil {
		return "", cleanup(err)
	}
	for _, a := range c.Networks[1:] {
		if err := r.API.NetworkConnect(cctx, a.Network, resp.ID, &network.EndpointSettings{Aliases: a.Aliases}); err != nil {
			return "", cleanup(engineErr(ctx, err, "connecting "+c.Name+" to "+a.Network))
		}
	}
	if ctx.Err() != nil {
		return "", cleanup(msxerr.ErrCancelled)
	}
	if err := r.API.ContainerStart(cctx, resp.ID, container.StartOptions{}); err != nil {
		return "", cleanup(engineErr(ctx, err, "starting "+c.Name))
	}
	st.add(c.Name)
	st.addCreated(c, resp.ID)
	if ctx.Err() != nil {
		// Running: the stop that follows a Ctrl-C stops it.
		return "", msxerr.ErrCancelled
	}
	return resp.ID, nil
}

// removeCreated force-removes a container that create could not finish:
// by ID, or by name when the engine never said the ID (it may have created
// the container all the same), and then only if the container is this
// plan's.
func (r *Runner) removeCreated(ctx context.Context, c *devenv.Container, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.engineTimeout())
	defer cancel()
	if id == "" {
		insp, err := r.API.ContainerInspect(rctx, c.Name)
		if err != nil || insp.Config == nil || insp.Config.Labels[devenv.LabelConfigHash] != c.Hash() ||
			insp.Config.Labels[devenv.LabelWorkspace] != c.Labels[devenv.LabelWorkspace] {
			return
		}
		id = insp.ID
	}
	_ = r.API.ContainerRemove(rctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
}

// isConflict reports an engine 409: the name is taken.
func isConflict(err error) bool {
	type conflict interface{ Conflict() }
	var c conflict
	if errors.As(err, &c) {
		return true
	}
	return strings.Contains(err.Error(), "is already in use")
}

// containerConfig turns a planned container into the engine's structures.
func containerConfig(c *devenv.Container) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	port := nat.Port(strconv.Itoa(c.Port) + "/tcp")
	cfg := &container.Config{
		Image:      c.ResolvedImage,
		Env:        c.Env,
		Cmd:        c.Cmd,
		User:       c.User,
		Labels:     c.Labels,
		Hostname:   c.Service,
		StopSignal: c.StopSignal,
	}
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
	}
	if c.Kind == "" || c.Publish {
		cfg.ExposedPorts = nat.PortSet{}
		host.PortBindings = nat.PortMap{}
		if c.Publish {
			hostPort := ""
			if c.HostPort != 0 {
				hostPort = strconv.Itoa(c.HostPort)
			}
			cfg.ExposedPorts[port] = struct{}{}
			host.PortBindings[port] = []nat.PortBinding{{HostIP: devenv.LoopbackIP, HostPort: hostPort}}
		}
		if c.AdminPort != 0 {
			admin := nat.Port(strconv.Itoa(c.AdminPort) + "/tcp")
			cfg.ExposedPorts[admin] = struct{}{}
			host.PortBindings[admin] = []nat.PortBinding{{HostIP: devenv.LoopbackIP}}
		}
	}
	if len(c.Ready.Healthcheck) > 0 {
		cfg.Healthcheck = &container.HealthConfig{
			Test:     c.Ready.Healthcheck,
			Interval: time.Second,
			Timeout:  3 * time.Second,
			Retries:  60,
		}
	}
	if hd := c.Hardening; hd != nil {
		host.ReadonlyRootfs = hd.ReadOnlyRootFS
		host.Tmpfs = hd.Tmpfs
		host.CapDrop = hd.CapDrop
		host.CapAdd = hd.CapAdd
		if hd.NoNewPrivileges {
			host.SecurityOpt = []string{"no-new-privileges:true"}
		}
		host.Memory = hd.MemoryBytes
		if hd.Pids > 0 {
			pids := hd.Pids
			host.PidsLimit = &pids
		}
		if hd.RestartOnFailure > 0 {
			host.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: hd.RestartOnFailure}
		}
		if len(hd.Healthcheck) > 0 && cfg.Healthcheck == nil {
			cfg.Healthcheck = &container.HealthConfig{
				Test:        hd.Healthcheck,
				Interval:    10 * time.Second,
				Timeout:     3 * time.Second,
				StartPeriod: 30 * time.Second,
				Retries:     3,
			}
		}
	}
	for _, m := range c.Mounts {
		bind := m.Volume + ":" + m.Target
		if m.ReadOnly {
			bind += ":ro"
		}
		host.Binds = append(host.Binds, bind)
	}
	if c.SwapDir != "" {
		// An anonymous volume: the engine fills it from the image, and
		// removes it with the container (RemoveVolumes).
		cfg.Volumes = map[string]struct{}{c.SwapDir: {}}
	}
	if len(c.Secrets) > 0 && !slices.ContainsFunc(c.Mounts, func(m devenv.Mount) bool { return m.Target == devenv.SecretsDir }) {
		// Secrets of the container's own (the gateway's keys): an
		// anonymous volume too, so that a key removed from .msx/ goes
		// with the container it was written into.
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[devenv.SecretsDir] = struct{}{}
	}
	first := c.Networks[0]
	host.NetworkMode = container.NetworkMode(first.Network)
	netcfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		first.Network: {Aliases: first.Aliases},
	}}
	return cfg, host, netcfg
}

// waitReady polls the container until its probe passes, it exits, or the
// timeout passes. At the timeout, when pending (nil for none) names a
// dependency that is not ready yet, the wait goes on until it is, and then
// gets its whole timeout again: a dependency that never becomes ready
// times out first and is the one named, as when each waited for the other.
func (r *Runner) waitReady(ctx context.Context, c *devenv.Container, id string, pending func() <-chan struct{}) error {
	clk := r.clock()
	timeout := r.ReadyTimeout
	if timeout == 0 {
		timeout = DefaultReadyTimeout
	}
	deadline := clk.Now().Add(timeout)
	for attempt := 0; ; attempt++ {
		insp, err := r.API.ContainerInspect(ctx, id)
		if err != nil {
			return &ServiceError{Service: c.Service, ExitCode: -1, Err: engineErr(ctx, err, "inspecting "+c.Name)}
		}
		// A program restarting after a crash (restart on failure) is not
		// running, whatever the engine's Running flag says.
		if insp.State == nil || !insp.State.Running || insp.State.Restarting {
			code := 0
			if insp.State != nil {
				code = insp.State.ExitCode
			}
			return &ServiceError{Service: c.Service, ExitCode: code, Logs: r.tail(ctx, id, insp.State)}
		}
		if ready(ctx, r, c, insp) {
			return nil
		}
		if !clk.Now().Before(deadline) {
			if ch := waitingOn(pending); ch != nil {
				select {
				case <-ch:
					deadline = clk.Now().Add(timeout)
					continue
				case <-ctx.Done():
					return &ServiceError{Service: c.Service, ExitCode: -1, Err: ctx.Err()}
				}
			}
			return &ServiceError{Service: c.Service, ExitCode: -1, Timeout: timeout, Logs: r.tail(ctx, id, insp.State)}
		}
		if err := clk.Sleep(ctx, r.pollDelay(attempt)); err != nil {
			return &ServiceError{Service: c.Service, ExitCode: -1, Err: err}
		}
	}
}

func waitingOn(pending func() <-chan struct{}) <-chan struct{} {
	if pending == nil {
		return nil
	}
	return pending()
}

func ready(ctx context.Context, r *Runner, c *devenv.Container, insp container.InspectResponse) bool {
	ok, _ := readiness(ctx, r, c, insp)
	return ok
}

// hostPort is the host port a container port is published on, or "".
func hostPort(insp container.InspectResponse, port int) string {
	if insp.NetworkSettings == nil {
		return ""
	}
	for _, b := range insp.NetworkSettings.Ports[nat.Port(strconv.Itoa(port)+"/tcp")] {
		if b.HostPort != "" {
			return b.HostPort
		}
	}
	return ""
}

// engineErr names what msx was doing when the engine failed, and turns a
// cancelled context into ErrCancelled.
func engineErr(ctx context.Context, err error, doing string) error {
	if ctx.Err() != nil {
		return msxerr.ErrCancelled
	}
	return msxerr.Wrap(err, "run msx doctor if the engine misbehaves", "%s failed: %v", doing, err)
}

// WaitReady waits until a planned container that is running answers its
// readiness check (after a swap, say); a ServiceError when it exits or
// times out.
func (r *Runner) WaitReady(ctx context.Context, c *devenv.Container) error {
	return r.waitReady(ctx, c, c.Name, nil)
}
