package runner

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
)

// Timeouts bounding each engine call while stopping or removing, so that
// msx exits even when the engine hangs. Runner.StopGrace and
// Runner.EngineTimeout override the first two. StopGrace is a little
// longer than the 10 s the generated services take at most to drain.
const (
	StopGrace     = 12 * time.Second
	EngineTimeout = 5 * time.Second
	callTimeout   = 30 * time.Second
)

func (r *Runner) stopGrace() time.Duration {
	if r.StopGrace > 0 {
		return r.StopGrace
	}
	return StopGrace
}

func (r *Runner) callTimeout() time.Duration {
	if r.DownTimeout > 0 {
		return r.DownTimeout
	}
	return callTimeout
}

func (r *Runner) engineTimeout() time.Duration {
	if r.EngineTimeout > 0 {
		return r.EngineTimeout
	}
	return EngineTimeout
}

// StopBound is the longest a graceful Stop takes, however the engine
// behaves (listing, then every stop).
func (r *Runner) StopBound() time.Duration {
	return r.engineTimeout() + r.stopGrace() + r.engineTimeout()
}

// StopOptions say how Stop stops.
type StopOptions struct {
	// Force kills at once instead of SIGTERM, then SIGKILL after the grace.
	Force bool
	// Only limits the stop to these containers (by name); empty means
	// every container of the workspace.
	Only []string
	// Deps maps a service to the services it depends on (StopDeps): a
	// container stops after those that depend on it. Nil stops all at once.
	Deps map[string][]string
}

// StopDeps is the dependency graph of a workspace's containers, for
// StopOptions.Deps: the gateway depends on every replica of every service,
// a service on its database, and every program on the instances of the
// kinds that all programs use (the trace collector), which therefore stop
// last, so that the spans a service flushes as it stops are kept. A
// service does not wait for its callers to stop, as up does not start it
// after its callees (see needsReady): its clients retry and break, so a
// chain of services stops at once rather than one link after the other.
func StopDeps(m *devenv.Manifest) map[string][]string {
	var all []string
	for _, k := range devenv.Kinds {
		if k.All {
			all = append(all, devenv.InstanceOf(k, "").Service)
		}
	}
	deps := map[string][]string{}
	var instances []string
	for _, n := range m.ServiceNames() {
		var d []string
		if m.Services[n].DB == devenv.DBPostgres {
			d = append(d, devenv.DatabaseName(n))
		}
		d = append(d, all...)
		for _, inst := range m.ReplicaNames(n) {
			deps[inst] = slices.Clone(d)
			instances = append(instances, inst)
		}
	}
	deps[devenv.GatewayName] = append(instances, all...)
	return deps
}

// Stop stops the containers of a workspace: gracefully (SIGTERM, then
// SIGKILL after StopGrace), in reverse dependency order when opts.Deps says
// it, or, with opts.Force, all at once. A container that was created but
// never started is removed. The whole stop is bounded, whatever ctx says;
// when the engine does not answer, the error says so in one sentence.
func (r *Runner) Stop(ctx context.Context, project, dir string, opts StopOptions) error {
	ctx = context.WithoutCancel(ctx)
	lctx, cancel := context.WithTimeout(ctx, r.engineTimeout())
	list, err := r.API.ContainerList(lctx, container.ListOptions{All: true, Filters: workspaceFilter(project, dir)})
	cancel()
	if err != nil {
		return stopError("could not list the project's containers", err, r.engineTimeout())
	}
	if len(opts.Only) > 0 {
		list = slices.DeleteFunc(list, func(c container.Summary) bool { return !slices.Contains(opts.Only, containerName(c)) })
	}
	budget := r.stopGrace() + r.engineTimeout()
	if opts.Force {
		budget = r.engineTimeout()
	}
	deadline := time.Now().Add(budget)
	// done[service] closes once its container stopped (or failed to).
	done := map[string]chan struct{}{}
	for _, c := range list {
		done[c.Labels[devenv.LabelService]] = make(chan struct{})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i, c := range list {
		svc := c.Labels[devenv.LabelService]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[svc])
			name := containerName(c)
			switch c.State {
			case container.StateCreated:
				cctx, cancel := context.WithTimeout(ctx, r.engineTimeout())
				defer cancel()
				if err := r.API.ContainerRemove(cctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
					errs[i] = err
					return
				}
				r.progress(progress.Step{Kind: progress.Removed, Name: svc, Reason: "never started"})
				return
			case container.StateExited, container.StateDead, container.StateRemoving:
				return
			}
			cctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			if opts.Force {
				if err := r.API.ContainerKill(cctx, c.ID, "KILL"); err != nil && !gone(err) {
					errs[i] = err
					return
				}
				r.progress(progress.Step{Kind: progress.Killed, Name: svc})
				return
			}
			// Dependents first: the gateway, then what depends on a
			// service, then the service, then its database.
			for other, deps := range opts.Deps {
				if ch, ok := done[other]; ok && other != svc && slices.Contains(deps, svc) {
					select {
					case <-ch:
					case <-cctx.Done():
					}
				}
			}
			// What is left of the budget, less time for the engine to
			// answer, is this container's grace.
			grace := int(min(r.stopGrace(), time.Until(deadline)-r.engineTimeout()) / time.Second)
			grace = max(grace, 0)
			if err := r.API.ContainerStop(cctx, c.ID, container.StopOptions{Timeout: &grace}); err != nil && !gone(err) {
				errs[i] = fmt.Errorf("stopping %s: %w", name, err)
				return
			}
			r.progress(progress.Step{Kind: progress.Stopped, Name: svc})
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return stopError("could not stop "+plural(len(failed), "container"), failed[0], budget)
}

// stopError is one sentence for a stop that failed: what could not be
// done and why, with the engine's timeouts said as such, never a raw URL.
func stopError(what string, first error, timeout time.Duration) error {
	return msxerr.Wrap(first, "run msx down, or msx doctor", "%s: %s", what, cause(first, timeout))
}

// cause says in a few words why an engine call failed.
func cause(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "Docker did not answer in " + seconds(timeout)
	case errors.Is(err, context.Canceled):
		return "interrupted before Docker answered"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return strings.Join(strings.Fields(ue.Err.Error()), " ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// seconds formats a timeout: "15s", or "50ms" under a second.
func seconds(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Second).String()
	}
	return d.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// DownResult says what down removed and what it could not.
type DownResult struct {
	Removed []string // "container shop-orders", "network shop_default", ...
	Failed  []error
	// Interrupted is set when ctx ended down before the engine answered.
	Interrupted bool
	timeout     time.Duration // of each engine call
	only        []string      // DownServices: the services whose resources go
}

// downFailure is one removal that failed.
type downFailure struct {
	what    string // "container shop-orders"
	err     error
	timeout time.Duration // of the call
}

func (f *downFailure) Error() string { return f.what + ": " + cause(f.err, f.timeout) }
func (f *downFailure) Unwrap() error { return f.err }

// Err is nil when everything went, or one sentence about what did not.
func (d *DownResult) Err() error {
	if len(d.Failed) == 0 && !d.Interrupted {
		return nil
	}
	if d.Interrupted {
		// Not wrapping the cause: a cancelled context would make this an
		// "interrupted" with nothing said about Docker.
		return msxerr.New("run msx down again to finish, or msx doctor if Docker hangs",
			"down was interrupted while waiting for Docker")
	}
	first := d.Failed[0]
	var whats []string
	hung := false
	for _, e := range d.Failed {
		var f *downFailure
		if errors.As(e, &f) {
			whats = append(whats, f.what)
		}
		hung = hung || errors.Is(e, context.DeadlineExceeded)
	}
	hint := "run msx down again, or msx doctor if Docker misbehaves"
	switch {
	case hung:
		return msxerr.Wrap(first, "run msx down again, or msx doctor", "down could not finish: %s",
			cause(errors.Unwrap(first), d.timeout))
	case len(d.Failed) == 1 && strings.HasPrefix(first.Error(), "the list of "):
		return msxerr.Wrap(first, hint, "could not get %s", first.Error())
	case len(d.Failed) == 1:
		return msxerr.Wrap(first, hint, "could not remove %s", first.Error())
	default:
		return msxerr.Wrap(first, hint, "could not remove %s (%s): %s",
			plural(len(d.Failed), "resource"), strings.Join(whats, ", "), cause(errors.Unwrap(first), d.timeout))
	}
}

// DownSettle is how long down waits before it checks that nothing came
// back: a create that a killed msx sent may still complete in the engine
// after the first pass listed what exists.
const DownSettle = 300 * time.Millisecond

// Down removes a workspace's containers (forced), then its networks, and
// with volumes its volumes. It selects only by label, goes on past a
// failure, and is idempotent. When it removed something, it checks again
// after DownSettle and removes what appeared meanwhile.
func (r *Runner) Down(ctx context.Context, project, dir string, volumes bool) *DownResult {
	return r.DownServices(ctx, project, dir, nil, volumes)
}

// DownServices is Down for the resources labelled with one of services
// only (msx remove service: a service, its database "NAME-db", their
// private network and volumes); nil means the whole project.
func (r *Runner) DownServices(ctx context.Context, project, dir string, services []string, volumes bool) *DownResult {
	res := &DownResult{timeout: r.callTimeout(), only: services}
	for pass := 0; pass < 3; pass++ {
		n := len(res.Removed)
		failed := len(res.Failed)
		r.downPass(ctx, project, dir, volumes, res)
		if ctx.Err() != nil {
			for _, e := range res.Failed {
				res.Interrupted = res.Interrupted || errors.Is(e, context.Canceled)
			}
			break
		}
		if len(res.Removed) == n || len(res.Failed) > failed {
			break
		}
		if err := r.clock().Sleep(ctx, DownSettle); err != nil {
			break
		}
	}
	sort.Strings(res.Removed)
	sort.SliceStable(res.Failed, func(i, j int) bool { return res.Failed[i].Error() < res.Failed[j].Error() })
	return res
}

// downPass removes what exists once. Each engine call is bounded by
// callTimeout and ends at once when ctx does (a Ctrl-C: down is
// idempotent, so stopping half-way is safe). When the engine does not
// answer one call, the rest of the pass is skipped rather than waited for.
func (r *Runner) downPass(ctx context.Context, project, dir string, volumes bool, res *DownResult) {
	var mu sync.Mutex
	removed := func(kind string, obj progress.Object, name string) {
		mu.Lock()
		defer mu.Unlock()
		res.Removed = append(res.Removed, kind+" "+name)
		r.progress(progress.Step{Kind: progress.Removed, Object: obj, Name: name})
	}
	failed := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Failed = append(res.Failed, &downFailure{what: what, err: err, timeout: r.callTimeout()})
	}
	// stuck: the engine did not answer, or ctx is done; skip the rest.
	stuck := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			res.Interrupted = true
			return true
		}
		for _, e := range res.Failed {
			if errors.Is(e, context.DeadlineExceeded) {
				return true
			}
		}
		return false
	}
	f := workspaceFilter(project, dir)
	// skip leaves out what belongs to other services under DownServices.
	skip := func(labels map[string]string) bool {
		return res.only != nil && !slices.Contains(res.only, labels[devenv.LabelService])
	}
	call := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, r.callTimeout())
	}

	cctx, cancel := call()
	list, err := r.API.ContainerList(cctx, container.ListOptions{All: true, Filters: f})
	cancel()
	if err != nil {
		failed("the list of containers", err)
		return
	}
	var wg sync.WaitGroup
	for _, c := range list {
		if skip(c.Labels) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := call()
			defer cancel()
			name := containerName(c)
			if err := r.API.ContainerRemove(cctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
				failed("container "+name, err)
				return
			}
			removed("container", progress.Container, name)
		}()
	}
	wg.Wait()
	if stuck() {
		return
	}

	cctx, cancel = call()
	nets, err := r.API.NetworkList(cctx, network.ListOptions{Filters: f})
	cancel()
	if err != nil {
		failed("the list of networks", err)
		return
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	for _, n := range nets {
		if skip(n.Labels) {
			continue
		}
		if stuck() {
			return
		}
		cctx, cancel := call()
		err := r.API.NetworkRemove(cctx, n.ID)
		cancel()
		if err != nil && !isNotFound(err) {
			failed("network "+n.Name, err)
			continue
		}
		removed("network", progress.Network, n.Name)
	}

	if volumes && !stuck() {
		cctx, cancel = call()
		vols, err := r.API.VolumeList(cctx, volume.ListOptions{Filters: f})
		cancel()
		if err != nil {
			failed("the list of volumes", err)
			return
		}
		sort.Slice(vols.Volumes, func(i, j int) bool { return vols.Volumes[i].Name < vols.Volumes[j].Name })
		for _, v := range vols.Volumes {
			if skip(v.Labels) {
				continue
			}
			if stuck() {
				return
			}
			cctx, cancel := call()
			err := r.API.VolumeRemove(cctx, v.Name, false)
			cancel()
			if err != nil && !isNotFound(err) {
				failed("volume "+v.Name, err)
				continue
			}
			removed("volume", progress.Volume, v.Name)
		}
	}
}

// gone reports an engine error that means a container is already where a
// stop wants it: removed (404) or no longer running (409 on a kill, when a
// graceful stop finished first). A second Ctrl-C racing the first stop is
// success, not a failure.
func gone(err error) bool {
	return isNotFound(err) || strings.Contains(strings.ToLower(err.Error()), "is not running")
}

// isNotFound reports an engine 404: already gone is what down wants.
func isNotFound(err error) bool {
	type notFound interface{ NotFound() }
	var nf notFound
	if errors.As(err, &nf) {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "no such")
}
