package runner

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
)

// Swap puts binary into the running container name as its program and
// restarts it: the hot swap of a service whose code changed, with no image
// rebuild. The binary goes in through the engine's archive endpoint into
// the container's own volume at devenv.SwapDir, which the image runs from:
// no shell or tar in the image, no bind mount of the host's build folder
// (unreliable with a remote engine or Docker Desktop), and a read-only root
// file system is fine. The process is then stopped the way the service
// expects (SIGTERM, its graceful shutdown within StopGrace) and started
// again.
func (r *Runner) Swap(ctx context.Context, name, binary string) error {
	if err := r.copyBinary(ctx, name, binary); err != nil {
		return err
	}
	return r.Restart(ctx, name)
}

// copyBinary streams binary as SwapDir/app into the container.
func (r *Runner) copyBinary(ctx context.Context, name, binary string) error {
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
