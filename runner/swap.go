package runner

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
)

// SwapSignal is the signal that tells msx-init, PID 1 of the images msx
// builds (templates/msxinit), to stop the program gracefully and start
// the binary at SwapDir/app again.
const SwapSignal = "SIGUSR2"

// Swap puts binary into the running container name as its program and
// restarts the program: the hot swap of a service whose code changed, with
// no image rebuild. The binary goes in through the engine's archive
// endpoint into the container's own volume at devenv.SwapDir, which the
// image runs from: no shell or tar in the image, no bind mount of the
// host's build folder (unreliable with a remote engine or Docker Desktop),
// and a read-only root file system is fine. Then msx-init, on SwapSignal,
// stops the program the way the service expects (SIGTERM, its graceful
// shutdown) and starts the new one: the container, its network and its
// ports stay, which takes a fraction of a container restart. Swap returns
// once the old program has gone, so that a readiness check after it sees
// the new one.
func (r *Runner) Swap(ctx context.Context, name, binary string) error {
	// Which processes run now, asked while the binary is copied.
	type top struct {
		pids []string
		err  error
	}
	before := make(chan top, 1)
	go func() {
		pids, err := r.pids(ctx, name)
		before <- top{pids, err}
	}()
	err := r.copyBinary(ctx, name, binary)
	old := <-before
	if err != nil {
		return err
	}
	return r.signalInit(ctx, name, old.pids, old.err)
}

// signalInit sends SwapSignal to msx-init in container name and waits
// until one of old, the processes before it, has gone (when they are
// known: oldErr nil).
func (r *Runner) signalInit(ctx context.Context, name string, old []string, oldErr error) error {
	cctx, cancel := context.WithTimeout(ctx, CreateTimeout)
	err := r.API.ContainerKill(cctx, name, SwapSignal)
	cancel()
	if err != nil {
		return engineErr(ctx, err, "restarting the program of "+name)
	}
	if oldErr != nil || len(old) == 0 {
		return nil // cannot tell when it has gone; the readiness check follows anyway
	}
	return r.waitGone(ctx, name, old)
}

// RestartProgram restarts the program of the running container name the
// way a swap does, with the binary it has: msx-init stops it gracefully
// and starts it again, and the container, its network and its ports stay,
// which takes a fraction of a container restart. done is false, and
// nothing happened, when the container does not run msx-init (an image
// from before msx-init, or not msx's): Restart is then the way.
func (r *Runner) RestartProgram(ctx context.Context, name string) (done bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, CreateTimeout)
	insp, err := r.API.ContainerInspect(cctx, name)
	cancel()
	if err != nil {
		return false, engineErr(ctx, err, "inspecting "+name)
	}
	if insp.Config == nil || len(insp.Config.Entrypoint) == 0 || insp.Config.Entrypoint[0] != builder.InitPath ||
		insp.State == nil || !insp.State.Running {
		return false, nil
	}
	old, oldErr := r.pids(ctx, name)
	return true, r.signalInit(ctx, name, old, oldErr)
}

// pids lists the processes of container name (host PIDs).
func (r *Runner) pids(ctx context.Context, name string) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, CreateTimeout)
	defer cancel()
	top, err := r.API.ContainerTop(cctx, name, nil)
	if err != nil {
		return nil, err
	}
	col := slices.Index(top.Titles, "PID")
	if col < 0 {
		return nil, nil
	}
	var out []string
	for _, p := range top.Processes {
		if col < len(p) {
			out = append(out, p[col])
		}
	}
	return out, nil
}

// waitGone waits until one of old, the processes before the swap signal,
// has gone (msx-init stays; the program it stopped does not), or the
// container has stopped, within the stop grace. It asks as readiness
// polling does, often at first and then at most every maxPoll: each ask
// is a ps on the engine's host, and a platform edit swaps every program
// at once, so a fixed fast poll per container would keep the engine busy
// listing processes while it should be copying the others' binaries.
func (r *Runner) waitGone(ctx context.Context, name string, old []string) error {
	clk := r.clock()
	deadline := clk.Now().Add(r.stopGrace() + CreateTimeout)
	for attempt := 0; ; attempt++ {
		now, err := r.pids(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return msxerr.ErrCancelled
			}
			return nil // stopped: the readiness check reports how it ended
		}
		for _, p := range old {
			if !slices.Contains(now, p) {
				return nil
			}
		}
		if !clk.Now().Before(deadline) {
			return msxerr.New("run msx up again, or msx doctor if Docker misbehaves", "the program of %s did not stop within %s of the swap", name, r.stopGrace()+CreateTimeout)
		}
		if err := clk.Sleep(ctx, r.pollDelay(attempt)); err != nil {
			return msxerr.ErrCancelled
		}
	}
}

// copySlots bounds the binary copies in flight, across every Runner of
// the process: each is a binary of several megabytes that the engine
// unpacks into the container's volume, work that needs the engine's CPU
// and disk. A platform edit swaps every program at once; with fifty, the
// engine shared among fifty copies finishes them all late, and the swaps'
// signals and readiness checks, which need no slot, wait behind them.
var copySlots = make(chan struct{}, copyParallel(runtime.NumCPU()))

// copyParallel is how many binary copies run at once when msx's machine
// has cpus CPUs (the engine's too, unless it is remote): two per CPU, so
// that one copy's network and disk waits overlap another's unpacking, and
// at least four.
func copyParallel(cpus int) int {
	return max(4, 2*cpus)
}

// acquire takes a slot of slots, or gives up when ctx ends; release gives
// the slot back.
func acquire(ctx context.Context, slots chan struct{}) (release func(), err error) {
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, msxerr.ErrCancelled
	}
}

// copyBinary streams binary as SwapDir/app into the container, when a
// copy slot is free (copySlots).
func (r *Runner) copyBinary(ctx context.Context, name, binary string) error {
	release, err := acquire(ctx, copySlots)
	if err != nil {
		return err
	}
	defer release()
	f, err := os.Open(binary)
	if err != nil {
		return msxerr.Wrap(err, "run msx up again", "cannot read the new binary of %s", name)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{
			Name:     "app",
			Mode:     0o755,
			Size:     st.Size(),
			Typeflag: tar.TypeReg,
			ModTime:  time.Unix(0, 0),
		})
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	cctx, cancel := context.WithTimeout(ctx, CreateTimeout)
	defer cancel()
	err = r.API.CopyToContainer(cctx, name, devenv.SwapDir, pr, container.CopyToContainerOptions{})
	pr.CloseWithError(io.ErrClosedPipe) // ends the writer if the engine gave up early
	if err != nil {
		return engineErr(ctx, err, "copying the new binary into "+name)
	}
	return nil
}

// Restart stops the container name gracefully (SIGTERM, then SIGKILL only
// after StopGrace) and starts it again.
func (r *Runner) Restart(ctx context.Context, name string) error {
	grace := int(r.stopGrace() / time.Second)
	cctx, cancel := context.WithTimeout(ctx, r.stopGrace()+CreateTimeout)
	defer cancel()
	if err := r.API.ContainerRestart(cctx, name, container.StopOptions{Timeout: &grace}); err != nil {
		return engineErr(ctx, err, "restarting "+name)
	}
	return nil
}
