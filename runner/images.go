package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
)

// ImageMissingError is an infrastructure image that is not on this
// machine and could not be pulled.
type ImageMissingError struct {
	Kind  string
	Image string
	Err   error // why the pull failed
}

func (e *ImageMissingError) Error() string {
	return fmt.Sprintf("image %s (%s) is not on this machine and could not be pulled: %s", e.Image, e.Kind, pullReason(e.Err))
}

func (e *ImageMissingError) Unwrap() error { return e.Err }

// Hint names the two ways to get the image.
func (e *ImageMissingError) Hint() string { return devenv.ImageHint(e.Kind, e.Image) }

// missingImage words an image that cannot be had once, for the terminal;
// the ImageMissingError stays reachable with errors.As.
func missingImage(kind, ref string, cause error) error {
	e := &ImageMissingError{Kind: kind, Image: ref, Err: cause}
	return msxerr.Wrap(e, e.Hint(), "%s", e.Error())
}

// pullReason is the engine's reason in a few words, one line.
func pullReason(err error) string {
	if err == nil {
		return "no reason given"
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	out := make([]rune, 0, len(s))
	space := false
	for _, r := range s {
		if r == '\n' || r == '\r' || r == '\t' || r == ' ' {
			space = true
			continue
		}
		if space && len(out) > 0 {
			out = append(out, ' ')
		}
		space = false
		out = append(out, r)
	}
	return string(out)
}

// InfraImages returns the image of each kind instance of a plan, once each,
// in plan order.
func InfraImages(p *devenv.Plan) []devenv.ImageRef {
	var out []devenv.ImageRef
	seen := map[string]bool{}
	for _, c := range p.Containers {
		if c.Image.Ref == "" || seen[c.Image.Ref] {
			continue
		}
		seen[c.Image.Ref] = true
		out = append(out, c.Image)
	}
	return out
}

// EnsureImages makes sure every infrastructure image of the plan is on
// this machine, pulling through the engine those that are not. It runs
// before anything is compiled or created, so that a missing image costs
// seconds, not a build.
func (r *Runner) EnsureImages(ctx context.Context, p *devenv.Plan) error {
	for _, ref := range InfraImages(p) {
		if err := r.ensureImage(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

// HasImage reports whether the engine has an image; a lookup failure
// other than "not found" is an error.
func (r *Runner) HasImage(ctx context.Context, ref string) (bool, error) {
	_, err := r.API.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, msxerr.ErrCancelled
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, engineErr(ctx, err, "looking up image "+ref)
}

func (r *Runner) ensureImage(ctx context.Context, ref devenv.ImageRef) error {
	ok, err := r.HasImage(ctx, ref.Ref)
	if err != nil || ok {
		return err
	}
	step := progress.Step{Kind: progress.Pulling, Object: progress.Image, Name: ref.Kind, Ref: ref.Ref}
	r.progress(step)
	start := r.clock().Now()
	if err := r.pull(ctx, ref.Ref, func(current, total int64) {
		step.Current, step.Total = current, total
		r.progress(step)
	}); err != nil {
		if ctx.Err() != nil {
			return msxerr.ErrCancelled
		}
		return missingImage(ref.Kind, ref.Ref, err)
	}
	r.progress(progress.Step{Kind: progress.Pulled, Object: progress.Image, Name: ref.Kind, Ref: ref.Ref, Duration: r.clock().Now().Sub(start)})
	return nil
}

// pullMessage is one line of the engine's pull stream.
type pullMessage struct {
	Status   string `json:"status"`
	ID       string `json:"id"`
	Progress struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	Error string `json:"error"`
}

// pull pulls ref and reports the bytes of its layers downloaded so far and
// in all, at most a few times a second.
func (r *Runner) pull(ctx context.Context, ref string, status func(current, total int64)) error {
	rc, err := r.API.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	layers := map[string][2]int64{}
	last := r.clock().Now()
	for {
		var m pullMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
		if m.Status == "Downloading" && m.ID != "" {
			layers[m.ID] = [2]int64{m.Progress.Current, m.Progress.Total}
			if now := r.clock().Now(); now.Sub(last) >= 500*time.Millisecond {
				last = now
				var cur, tot int64
				for _, l := range layers {
					cur += l[0]
					tot += l[1]
				}
				status(cur, tot)
			}
		}
	}
}
