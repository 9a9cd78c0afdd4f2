// Package builder compiles Go programs of a workspace on the host and packs
// each into a FROM scratch image through the Engine API, with no registry.
//
// A build is one `go build` of every target for linux and the engine's
// architecture (reusing the host's build cache), then, only for a binary
// whose content hash has no image yet, a pack into an image tagged
// msx-PROJECT/NAME:HASH12: msx writes the image tarball itself, in the
// format of `docker save`, and the engine loads it (no Dockerfile, no
// build). A stamp of the sources lets a build with nothing changed skip the
// Go toolchain altogether; the package graph (LoadGraph) maps changed files
// to the targets they go into.
package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"golang.org/x/sync/errgroup"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxdir"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
)

// Labels put on every image the builder makes.
const (
	LabelProject     = devenv.LabelProject
	LabelService     = devenv.LabelService
	LabelContentHash = "dev.msx.content-hash"
	LabelVersion     = devenv.LabelVersion
	// LabelWorkspace is the workspace's absolute path: a rebuild prunes only
	// the images of its own workspace, never those of a project of the same
	// name in another folder.
	LabelWorkspace = devenv.LabelWorkspace
)

// Target is one program to build: a service or the gateway.
type Target struct {
	Name string // "orders" or "gateway"
	Pkg  string // package path relative to the workspace root: "./services/orders", "./gateway"
	// Dir, when set, is the root of another module to build Pkg (".") in:
	// the trace collector, whose source msx writes under .msx.
	Dir string
	// Files, when set, are written under Dir before compiling (slash paths
	// to contents): the source of a program msx owns. A file whose content
	// is already right is left alone.
	Files map[string][]byte
}

// Result is what one target's build produced.
type Result struct {
	Name    string
	Image   string // image reference to run, e.g. "msx-shop/orders:3f2a9c1b0d4e"
	Hash    string // content hash of what went into the image
	Rebuilt bool   // false when an image with this hash already existed
	Binary  string // absolute path of the linux binary on the host (hot swap will copy it later)
	// Unchanged is set by Compile when the binary is the one the previous
	// build left there (same Go build ID): nothing that goes into it
	// changed, so a swap only restarts the same program.
	Unchanged bool
}

// ImageAPI is the slice of the Docker client the builder needs
// (*client.Client satisfies it).
type ImageAPI interface {
	ServerVersion(ctx context.Context) (types.Version, error)
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
	ImageRemove(ctx context.Context, ref string, options image.RemoveOptions) ([]image.DeleteResponse, error)
}

// Options configure a Builder.
type Options struct {
	Project    string        // labels dev.msx.project; names the images msx-PROJECT/NAME
	Dir        string        // workspace root (holds go.mod)
	MsxVersion string        // labels dev.msx.version
	Progress   progress.Func // Compiling, Packing, UpToDate, Built; may be nil; called from several goroutines
	Stderr     io.Writer     // where compiler output goes (may be nil)
}

// Builder builds targets into images. Its methods are safe for concurrent use.
type Builder struct {
	api  ImageAPI
	opts Options

	// compile builds targets into outs (from binaryPaths) for
	// linux/goarch; tests replace it.
	compile func(ctx context.Context, targets []Target, outs []string, goarch string) error
	// buildInit compiles msx-init for linux/goarch; tests replace it.
	buildInit func(ctx context.Context, dir, goarch string) ([]byte, error)
	initMu    sync.Mutex
	inits     map[string][]byte // goarch -> msx-init, compiled once per Builder
	// goCmd is the go command to run; "" is "go" from PATH. Tests point it
	// at a wrapper that counts its runs.
	goCmd string
	// caCerts are where the host's CA bundle may be, first found wins; it is
	// copied into every image when present.
	caCerts []string
	// now is the clock used for "built in" timings.
	now func() time.Time
	// created is the images' creation time (sourceDate), read once.
	createdOnce sync.Once
	created     time.Time
}

// New returns a Builder that packs images through api.
func New(api ImageAPI, opts Options) *Builder {
	b := &Builder{
		api:     api,
		opts:    opts,
		caCerts: hostCACerts,
		now:     time.Now,
	}
	b.compile = b.goBuild
	b.buildInit = b.goBuildInit
	return b
}

// Build compiles targets with one go build, then packs in parallel,
// bounded by the number of CPUs, each binary whose image does not exist
// yet, and returns the results in targets' order. The first failure
// cancels the rest.
//
// When the workspace's sources are those of the last successful build of
// the same targets (the stamp under .msx/build) and its images and
// binaries are all still there, Build returns that build's results
// without starting the Go toolchain.
func (b *Builder) Build(ctx context.Context, targets []Target) ([]Result, error) {
	c, err := b.prepare(ctx, targets)
	if err != nil || c == nil {
		return nil, err
	}
	if res, ok := b.upToDate(ctx, c.dir, targets, c.key); ok {
		for _, r := range res {
			b.progress(progress.Step{Kind: progress.UpToDate, Name: r.Name})
		}
		return res, nil
	}
	if err := b.compileAll(ctx, c); err != nil {
		return nil, err
	}
	return b.packAll(ctx, c)
}

// Compile compiles targets with one go build and returns their binaries
// (Result.Name and Result.Binary only) without packing images, and pack,
// which packs those binaries into images as Build does. A hot swap needs
// only the binary: packing off its critical path makes a swap faster,
// and the image, packed afterwards, makes the next msx up find it. pack
// must run before the next Compile or Build of the same targets writes
// their binaries again; it writes the build stamp only when the binaries
// are still those this Compile wrote.
func (b *Builder) Compile(ctx context.Context, targets []Target) ([]Result, func(context.Context) ([]Result, error), error) {
	c, err := b.prepare(ctx, targets)
	if err != nil || c == nil {
		return nil, nil, err
	}
	before := make([]string, len(c.outs))
	for i, out := range c.outs {
		before[i] = binaryID(out)
	}
	if err := b.compileAll(ctx, c); err != nil {
		return nil, nil, err
	}
	res := make([]Result, len(targets))
	marks := make([]os.FileInfo, len(targets))
	for i, t := range targets {
		res[i] = Result{Name: t.Name, Binary: c.outs[i], Unchanged: before[i] != "" && before[i] == binaryID(c.outs[i])}
		marks[i], _ = os.Stat(c.outs[i])
	}
	pack := func(ctx context.Context) ([]Result, error) {
		for i, out := range c.outs {
			st, err := os.Stat(out)
			if err != nil || marks[i] == nil || !st.ModTime().Equal(marks[i].ModTime()) || st.Size() != marks[i].Size() {
				c.key = "" // another build wrote it since: its stamp is not this one's
			}
		}
		return b.packAll(ctx, c)
	}
	return res, pack, nil
}

// compilation is one build's settings, from prepare to packAll.
type compilation struct {
	targets []Target
	dir     string
	goarch  string
	key     string // the stamp's key; "" writes no stamp
	outs    []string
	start   time.Time
}

// prepare checks targets, asks the engine its architecture and hashes the
// sources; nil with no error when there is nothing to build.
func (b *Builder) prepare(ctx context.Context, targets []Target) (*compilation, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	seen := make(map[string]bool, len(targets))
	for _, t := range targets {
		if t.Name == "" || t.Pkg == "" || seen[t.Name] {
			return nil, fmt.Errorf("builder: target %q: empty or duplicate name, or no package", t.Name)
		}
		seen[t.Name] = true
	}
	dir, err := filepath.Abs(b.opts.Dir)
	if err != nil {
		return nil, err
	}
	for _, t := range targets {
		if err := writeFiles(t.Dir, t.Files); err != nil {
			return nil, msxerr.Wrap(err, "check the permissions of the workspace's .msx folder", "cannot write the source of %s: %v", t.Name, err)
		}
	}
	// Asking the engine its architecture and hashing the sources overlap:
	// on a build with nothing changed, they are most of the time spent.
	type archResult struct {
		goarch string
		err    error
	}
	archc := make(chan archResult, 1)
	go func() {
		a, err := b.engineArch(ctx)
		archc <- archResult{a, err}
	}()
	srcKey := b.sourceKey(dir, targets)
	ar := <-archc
	if ar.err != nil {
		return nil, ar.err
	}
	c := &compilation{targets: targets, dir: dir, goarch: ar.goarch}
	if srcKey != "" {
		c.key = srcKey + "/" + ar.goarch
	}
	c.outs, _ = binaryPaths(dir, targets)
	return c, nil
}

// compileAll runs the go build of c.
func (b *Builder) compileAll(ctx context.Context, c *compilation) error {
	// .msx is the user's alone (0700): it holds secrets beside the builds.
	if err := msxdir.New(c.dir).Ensure(); err != nil {
		return err
	}
	for _, out := range c.outs {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return msxerr.Wrap(err, "check the permissions of the workspace's .msx folder", "cannot create the build folder %s", filepath.Dir(out))
		}
	}
	c.start = b.now()
	for _, t := range c.targets {
		b.progress(progress.Step{Kind: progress.Compiling, Name: t.Name})
	}
	if err := b.compile(ctx, c.targets, c.outs, c.goarch); err != nil {
		if ctx.Err() != nil {
			return msxerr.ErrCancelled
		}
		return err
	}
	return nil
}

// packAll packs the binaries of c and writes the stamp.
func (b *Builder) packAll(ctx context.Context, c *compilation) ([]Result, error) {
	results := make([]Result, len(c.targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for i, t := range c.targets {
		g.Go(func() error {
			r, err := b.packOne(gctx, t, c.dir, c.goarch, c.outs[i], c.start)
			if err != nil {
				return err
			}
			results[i] = r
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, msxerr.ErrCancelled
		}
		return nil, err
	}
	b.writeStamp(c.dir, c.targets, c.key, results)
	return results, nil
}

// packOne packs the binary at out into an image, unless an image of its
// content hash exists.
func (b *Builder) packOne(ctx context.Context, t Target, dir, goarch, out string, start time.Time) (Result, error) {
	bin, err := os.ReadFile(out)
	if err != nil {
		return Result{}, msxerr.Wrap(err, "run msx up again", "cannot read the binary of %s", t.Name)
	}
	init, err := b.initBinary(ctx, dir, goarch)
	if err != nil {
		return Result{}, err
	}
	certs := b.readCACerts()
	hash := contentHash(bin, certs, init)
	ref := ImageRef(b.opts.Project, t.Name, hash)
	res := Result{Name: t.Name, Image: ref, Hash: hash, Binary: out}

	if _, err := b.api.ImageInspect(ctx, ref); err == nil {
		b.progress(progress.Step{Kind: progress.UpToDate, Name: t.Name})
		return res, nil
	} else if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}

	b.progress(progress.Step{Kind: progress.Packing, Name: t.Name})
	labels := map[string]string{
		LabelProject:     b.opts.Project,
		LabelService:     t.Name,
		LabelContentHash: hash,
		LabelVersion:     b.opts.MsxVersion,
		LabelWorkspace:   dir,
	}
	if err := b.pack(ctx, t.Name, ref, goarch, labels, bin, certs, init); err != nil {
		return Result{}, err
	}
	res.Rebuilt = true
	b.pruneOld(ctx, t.Name, hash, dir)
	b.progress(progress.Step{Kind: progress.Built, Name: t.Name, Duration: b.now().Sub(start)})
	return res, nil
}

// ImageRef is the reference of the image of service name at content hash.
func ImageRef(project, name, hash string) string {
	return fmt.Sprintf("msx-%s/%s:%s", project, name, hash[:12])
}

func (b *Builder) progress(s progress.Step) {
	if b.opts.Progress != nil {
		b.opts.Progress(s)
	}
}

// hostCACerts are where hosts keep their CA bundle: Debian and Ubuntu,
// macOS and Alpine, Fedora and RHEL, openSUSE.
var hostCACerts = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/ssl/cert.pem",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
}

// readCACerts returns the host's CA bundle, or nil when there is none.
func (b *Builder) readCACerts() []byte {
	for _, path := range b.caCerts {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			return data
		}
	}
	return nil
}

// pruneOld removes the images of the same workspace, project and service
// with another content hash, so that rebuilds do not pile up images. Best
// effort: an image still used by a container stays.
func (b *Builder) pruneOld(ctx context.Context, name, hash, dir string) {
	imgs, err := b.api.ImageList(ctx, image.ListOptions{Filters: serviceFilter(b.opts.Project, name, dir)})
	if err != nil {
		return
	}
	for _, img := range imgs {
		if img.Labels[LabelContentHash] == hash || img.Labels[LabelProject] != b.opts.Project ||
			img.Labels[LabelService] != name || img.Labels[LabelWorkspace] != dir {
			continue
		}
		refs := img.RepoTags
		if len(refs) == 0 {
			refs = []string{img.ID}
		}
		for _, ref := range refs {
			_, _ = b.api.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
		}
	}
}

// writeFiles writes files under dir, skipping those already right.
func writeFiles(dir string, files map[string][]byte) error {
	for rel, data := range files {
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, data) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// RemoveImages removes every image msx built for project from the workspace
// dir (msx down --rmi) and returns their references. An image a container
// still uses stays, and is reported as an error naming it.
func RemoveImages(ctx context.Context, api ImageAPI, project, dir string) ([]string, error) {
	dirs := []string{dir}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dirs = append(dirs, real)
	}
	imgs, err := api.ImageList(ctx, image.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, img := range imgs {
		if img.Labels[LabelProject] != project || !slices.Contains(dirs, img.Labels[LabelWorkspace]) {
			continue
		}
		refs := img.RepoTags
		if len(refs) == 0 {
			refs = []string{img.ID}
		}
		for _, ref := range refs {
			if _, err := api.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil {
				errs = append(errs, fmt.Errorf("image %s: %w", ref, err))
				continue
			}
			removed = append(removed, ref)
		}
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}
