package runner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/msx-dev/msx/devenv"
)

// Timeouts bounding each engine call while stopping or removing, so that
// msx exits even when the engine hangs. Runner.StopGrace and
// Runner.EngineTimeout override the first two.
const (
	StopGrace     = 10 * time.Second
	EngineTimeout = 5 * time.Second
	callTimeout   = 30 * time.Second
)

func (r *Runner) stopGrace() time.Duration {
	if r.StopGrace > 0 {
		return r.StopGrace
	}
	return StopGrace
}

func (r *Runner) engineTimeout() time.Duration {
	if r.EngineTimeout > 0 {
		return r.EngineTimeout
	}
	return EngineTimeout
}

// Stop stops the running containers of a workspace in parallel: gracefully
// (SIGTERM, then SIGKILL after StopGrace) or, with force, at once. Each
// engine call is bounded, whatever ctx says.
func (r *Runner) Stop(ctx context.Context, project, dir string, force bool) error {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.engineTimeout())
	list, err := r.API.ContainerList(lctx, container.ListOptions{Filters: workspaceFilter(project, dir)})
	cancel()
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i, c := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := containerName(c)
			if force {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.engineTimeout())
				defer cancel()
				if err := r.API.ContainerKill(cctx, c.ID, "KILL"); err != nil {
					errs[i] = fmt.Errorf("killing %s: %w", name, err)
					return
				}
				r.progress(c.Labels[devenv.LabelService], "killed")
				return
			}
			grace := int(r.stopGrace() / time.Second)
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.stopGrace()+r.engineTimeout())
			defer cancel()
			if err := r.API.ContainerStop(cctx, c.ID, container.StopOptions{Timeout: &grace}); err != nil {
				errs[i] = fmt.Errorf("stopping %s: %w", name, err)
				return
			}
			r.progress(c.Labels[devenv.LabelService], "stopped")
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// DownResult says what down removed and what it could not.
type DownResult struct {
	Removed []string // "container shop-orders", "network shop_default", ...
	Failed  []error
}

// Err is nil when everything went, or one error listing the failures.
func (d *DownResult) Err() error {
	if len(d.Failed) == 0 {
		return nil
	}
	msgs := make([]string, len(d.Failed))
	for i, e := range d.Failed {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%d removal(s) failed: %s", len(d.Failed), strings.Join(msgs, "; "))
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
	res := &DownResult{}
	for pass := 0; pass < 3; pass++ {
		n := len(res.Removed)
		failed := len(res.Failed)
		r.downPass(ctx, project, dir, volumes, res)
		if len(res.Removed) == n || len(res.Failed) > failed {
			break
		}
		if err := r.clock().Sleep(context.WithoutCancel(ctx), DownSettle); err != nil {
			break
		}
	}
	sort.Strings(res.Removed)
	return res
}

func (r *Runner) downPass(ctx context.Context, project, dir string, volumes bool, res *DownResult) {
	var mu sync.Mutex
	removed := func(what string) {
		mu.Lock()
		defer mu.Unlock()
		res.Removed = append(res.Removed, what)
		r.progress(what, "removed")
	}
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Failed = append(res.Failed, err)
	}
	f := workspaceFilter(project, dir)
	call := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	}

	cctx, cancel := call()
	list, err := r.API.ContainerList(cctx, container.ListOptions{All: true, Filters: f})
	cancel()
	if err != nil {
		failed(fmt.Errorf("listing containers: %w", err))
	}
	var wg sync.WaitGroup
	for _, c := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := call()
			defer cancel()
			name := containerName(c)
			if err := r.API.ContainerRemove(cctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !isNotFound(err) {
				failed(fmt.Errorf("removing container %s: %w", name, err))
				return
			}
			removed("container " + name)
		}()
	}
	wg.Wait()

	cctx, cancel = call()
	nets, err := r.API.NetworkList(cctx, network.ListOptions{Filters: f})
	cancel()
	if err != nil {
		failed(fmt.Errorf("listing networks: %w", err))
	}
	sort.Slice(nets, func(i, j int) bool { return nets[i].Name < nets[j].Name })
	for _, n := range nets {
		cctx, cancel := call()
		err := r.API.NetworkRemove(cctx, n.ID)
		cancel()
		if err != nil && !isNotFound(err) {
			failed(fmt.Errorf("removing network %s: %w", n.Name, err))
			continue
		}
		removed("network " + n.Name)
	}

	if volumes {
		cctx, cancel = call()
		vols, err := r.API.VolumeList(cctx, volume.ListOptions{Filters: f})
		cancel()
		if err != nil {
			failed(fmt.Errorf("listing volumes: %w", err))
		}
		sort.Slice(vols.Volumes, func(i, j int) bool { return vols.Volumes[i].Name < vols.Volumes[j].Name })
		for _, v := range vols.Volumes {
			cctx, cancel := call()
			err := r.API.VolumeRemove(cctx, v.Name, false)
			cancel()
			if err != nil && !isNotFound(err) {
				failed(fmt.Errorf("removing volume %s: %w", v.Name, err))
				continue
			}
			removed("volume " + v.Name)
		}
	}
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
