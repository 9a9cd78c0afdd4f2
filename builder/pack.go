package builder

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
)

// recipeVersion names the packing recipe. It goes into every content hash,
// so changing the recipe (this string, the layers or the image config
// below) must change it, which rebuilds every image.
const recipeVersion = "msx-scratch/4"

// NonRoot is the user and group the images run as.
const NonRoot = 65532

// An image is two layers, written by msx itself in the format of `docker
// save` and handed to the engine with ImageLoad: no Dockerfile, no builder,
// no layer commit per step.
//
//   - The base layer holds the users, the CA bundle and the folders. It is
//     the same bytes for every service of every project on a host, so the
//     engine stores it once and skips it when it already has it.
//   - The app layer holds /msx/app, the binary. /msx is where the runner
//     mounts a volume of the container's own, which the engine fills from
//     the image when it creates the container: a hot swap copies a new
//     binary there through the archive endpoint, which works when the root
//     file system is read-only (a volume is writable) and needs no shell or
//     tar in the image; recreating the container starts again from the
//     image, so nothing stale survives a down and up.
//
// /data, /tmp and the home folder belong to the non-root user: Docker copies
// an image folder's ownership into a fresh named volume mounted over it, so
// a database volume on /data is writable.

const passwd = `root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
`

const group = `root:x:0:
nonroot:x:65532:
`

// caCertsPath is where the CA bundle goes in the image (Go's crypto/x509
// looks there first on Linux).
const caCertsPath = "etc/ssl/certs/ca-certificates.crt"

// defaultPath is the PATH Docker gives a container of an image without one;
// the classic builder wrote it into the config of FROM scratch images.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// epoch is the modification time of every file in an image, so that the
// same inputs give the same bytes and image ID.
var epoch = time.Unix(0, 0).UTC()

// fallbackCreated is the creation time of images whose source has no
// commit time (no SOURCE_DATE_EPOCH, not a git checkout): fixed, so builds
// stay reproducible, and recent, so that docker images does not say 1970.
var fallbackCreated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// sourceDate is the creation time of the images built from the workspace
// in dir, as reproducible builds define it: SOURCE_DATE_EPOCH when set,
// else the time of the workspace's last git commit, else fallbackCreated.
func sourceDate(dir string, getenv func(string) string, gitTime func(dir string) (string, error)) time.Time {
	parse := func(s string) (time.Time, bool) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return time.Unix(n, 0).UTC(), err == nil && n > 0
	}
	if t, ok := parse(getenv("SOURCE_DATE_EPOCH")); ok {
		return t
	}
	if out, err := gitTime(dir); err == nil {
		if t, ok := parse(out); ok {
			return t
		}
	}
	return fallbackCreated
}

// gitCommitTime returns the commit time of HEAD in dir, in Unix seconds.
func gitCommitTime(dir string) (string, error) {
	out, err := exec.Command("git", "-C", dir, "log", "-1", "--format=%ct").Output()
	return string(out), err
}

// contentHash is the hex sha256 of everything that goes into an image: the
// recipe, the fixed files, the CA bundle, msx-init and the binary.
func contentHash(bin, certs, init []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(recipeVersion), []byte(passwd), []byte(group), certs, init, bin} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// layer is one layer of an image.
type layer struct {
	createdBy string  // what the image's history says of it
	entries   []entry // in the order they are written
}

// entry is one file or folder of a layer.
type entry struct {
	name     string // relative, folders end in "/"
	mode     int64  // permission bits, with the sticky bit (01000) if any
	owner    int    // user and group
	data     []byte // a file's content; nil for a folder
	isFolder bool
}

func folder(name string, mode int64, owner int) entry {
	return entry{name: name, mode: mode, owner: owner, isFolder: true}
}

func file(name string, mode int64, owner int, data []byte) entry {
	return entry{name: name, mode: mode, owner: owner, data: data}
}

// baseLayer is everything but the binary, sorted by name.
func baseLayer(certs []byte) layer {
	l := []entry{
		folder("data/", 0o755, NonRoot),
		folder("etc/", 0o755, 0),
		file("etc/group", 0o644, 0, []byte(group)),
		file("etc/passwd", 0o644, 0, []byte(passwd)),
	}
	if certs != nil {
		l = append(l,
			folder("etc/ssl/", 0o755, 0),
			folder("etc/ssl/certs/", 0o755, 0),
			file(caCertsPath, 0o644, 0, certs),
		)
	}
	l = append(l,
		folder("home/", 0o755, 0),
		folder("home/nonroot/", 0o755, NonRoot),
		folder("tmp/", 0o1777, NonRoot),
	)
	return layer{createdBy: "msx: users, CA certificates, /data, /tmp, /home/nonroot", entries: l}
}

// InitPath is where msx-init (templates/msxinit), the images' PID 1, is:
// outside SwapDir, whose volume holds only the program.
const InitPath = "/msx-init"

// initLayer is msx-init alone: the same bytes for every image of a host's
// architecture, so the engine stores it once.
func initLayer(init []byte) layer {
	return layer{createdBy: "msx: " + InitPath, entries: []entry{file(strings.TrimPrefix(InitPath, "/"), 0o755, 0, init)}}
}

// appLayer is the binary at /msx/app (devenv.SwapDir).
func appLayer(bin []byte) layer {
	return layer{createdBy: "msx: /msx/app", entries: []entry{folder("msx/", 0o755, 0), file("msx/app", 0o755, 0, bin)}}
}

// writeTo writes l as a tar with fixed times and numeric owners only, so
// that the same entries are always the same bytes.
func (l layer) writeTo(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, e := range l.entries {
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     e.mode,
			Uid:      e.owner,
			Gid:      e.owner,
			Size:     int64(len(e.data)),
			ModTime:  epoch,
			Format:   tar.FormatUSTAR,
		}
		if e.isFolder {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// diffID is the layer's diff ID, the hex sha256 of its tar, and the tar's
// size, computed without keeping the tar.
func (l layer) diffID() (string, int64, error) {
	cw := &countingHash{h: sha256.New()}
	if err := l.writeTo(cw); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(cw.h.Sum(nil)), cw.n, nil
}

type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// manifestItem is one image of a `docker save` tarball's manifest.json.
type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// imageConfig is the image config JSON, the fields of Docker's (and OCI's)
// that msx sets; the image ID is its sha256.
type imageConfig struct {
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Created      time.Time       `json:"created"`
	Config       containerConfig `json:"config"`
	RootFS       rootFS          `json:"rootfs"`
	History      []history       `json:"history"`
}

type containerConfig struct {
	User       string            `json:"User"`
	Env        []string          `json:"Env"`
	Entrypoint []string          `json:"Entrypoint"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"` // "sha256:HEX", bottom layer first
}

type history struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

// imageTarball is an image in the format of `docker save`, ready to write.
type imageTarball struct {
	layers   []layer
	diffIDs  []string // hex
	sizes    []int64
	config   []byte // the image config JSON; its sha256 is the image ID
	manifest []byte
}

// newImageTarball lays out the image ref for goarch from its layers, with
// labels. It hashes the layers but keeps no copy of them.
func newImageTarball(ref, goarch string, created time.Time, labels map[string]string, layers ...layer) (*imageTarball, error) {
	t := &imageTarball{layers: layers}
	cfg := imageConfig{
		Architecture: goarch,
		OS:           "linux",
		Created:      created,
		Config: containerConfig{
			User:       fmt.Sprintf("%d:%d", NonRoot, NonRoot),
			Env:        []string{defaultPath},
			Entrypoint: []string{InitPath, devenv.SwapDir + "/app"},
			Labels:     labels,
		},
		RootFS: rootFS{Type: "layers"},
	}
	for _, l := range layers {
		d, n, err := l.diffID()
		if err != nil {
			return nil, err
		}
		t.diffIDs = append(t.diffIDs, d)
		t.sizes = append(t.sizes, n)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, "sha256:"+d)
		cfg.History = append(cfg.History, history{Created: created, CreatedBy: l.createdBy})
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	t.config = config
	item := manifestItem{Config: t.configName(), RepoTags: []string{ref}}
	for i := range layers {
		item.Layers = append(item.Layers, t.layerName(i))
	}
	t.manifest, err = json.Marshal([]manifestItem{item})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (t *imageTarball) configName() string {
	sum := sha256.Sum256(t.config)
	return hex.EncodeToString(sum[:]) + ".json"
}

func (t *imageTarball) layerName(i int) string {
	return t.diffIDs[i] + "/layer.tar"
}

// writeTo writes the tarball: each layer, the config, then manifest.json.
// The layers are written straight into w, so the binary is never copied.
func (t *imageTarball) writeTo(w io.Writer) error {
	tw := tar.NewWriter(w)
	header := func(name string, typ byte, mode, size int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: typ, Name: name, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatUSTAR})
	}
	for i, l := range t.layers {
		name := t.layerName(i)
		if err := header(strings.TrimSuffix(name, "layer.tar"), tar.TypeDir, 0o755, 0); err != nil {
			return err
		}
		if err := header(name, tar.TypeReg, 0o644, t.sizes[i]); err != nil {
			return err
		}
		// The tar writer refuses more bytes than the size hashed above, and
		// the next header fewer.
		if err := l.writeTo(tw); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{t.configName(), t.config}, {"manifest.json", t.manifest}} {
		if err := header(f.name, tar.TypeReg, 0o644, int64(len(f.data))); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// pack loads the image ref of service name, built from its binary, into
// the engine.
func (b *Builder) pack(ctx context.Context, name, ref, goarch string, labels map[string]string, bin, certs, init []byte) error {
	b.createdOnce.Do(func() { b.created = sourceDate(b.opts.Dir, os.Getenv, gitCommitTime) })
	img, err := newImageTarball(ref, goarch, b.created, labels, baseLayer(certs), initLayer(init), appLayer(bin))
	if err != nil {
		return fmt.Errorf("image tarball of %s: %w", name, err)
	}
	if err := b.load(ctx, img, ref); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return msxerr.Wrap(err, "run msx doctor to check Docker", "Docker could not load the image of %s: %s", name, oneLine(err.Error()))
	}
	return nil
}

// load streams img into the engine and reads the engine's answer to the end.
func (b *Builder) load(ctx context.Context, img *imageTarball, ref string) error {
	pr, pw := io.Pipe()
	written := make(chan error, 1)
	go func() {
		err := img.writeTo(pw)
		pw.CloseWithError(err)
		written <- err
	}()
	resp, err := b.api.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err == nil {
		err = readLoadStream(resp.Body, resp.JSON, ref)
		resp.Body.Close()
	}
	// Whatever happened to the request, unblock the writer and wait for it.
	// The writer's own failure (not the closed pipe) explains the rest.
	pr.Close()
	if werr := <-written; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return fmt.Errorf("writing the image: %w", werr)
	}
	return err
}

// loadMessage is the part of the engine's JSON messages msx reads
// (jsonmessage.JSONMessage, without pulling in its terminal code).
type loadMessage struct {
	Stream      string `json:"stream,omitempty"`
	Error       string `json:"error,omitempty"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail,omitempty"`
}

// readLoadStream reads the engine's answer to ImageLoad to the end. It
// returns the first error the engine reports, or an error when the engine
// did not report loading ref (`{"stream":"Loaded image: REF\n"}`).
func readLoadStream(r io.Reader, isJSON bool, ref string) error {
	loaded := "Loaded image: " + ref
	// Podman qualifies a name without a registry with localhost/, and
	// resolves the short name to it afterwards.
	podman := "Loaded image: localhost/" + ref
	if !isJSON {
		// Engines always answer JSON; anything else is plain text.
		out, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("reading the engine's answer: %w", err)
		}
		if !strings.Contains(string(out), loaded) && !strings.Contains(string(out), podman) {
			return fmt.Errorf("the engine did not load %s: %s", ref, strings.TrimSpace(string(out)))
		}
		return nil
	}
	dec := json.NewDecoder(r)
	var first error
	var said []string
	found := false
	for {
		var msg loadMessage
		if err := dec.Decode(&msg); err != nil {
			switch {
			case first != nil:
				return first
			case !errors.Is(err, io.EOF):
				return fmt.Errorf("reading the engine's answer: %w", err)
			case !found:
				return fmt.Errorf("the engine did not load %s: %q", ref, strings.Join(said, " "))
			}
			return nil
		}
		if first != nil {
			continue
		}
		switch {
		case msg.ErrorDetail != nil && msg.ErrorDetail.Message != "":
			first = errors.New(msg.ErrorDetail.Message)
		case msg.Error != "":
			first = errors.New(msg.Error)
		case msg.Stream != "":
			for _, line := range strings.Split(msg.Stream, "\n") {
				if line == loaded || line == podman {
					found = true
				} else if line != "" && len(said) < 5 {
					said = append(said, line)
				}
			}
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
