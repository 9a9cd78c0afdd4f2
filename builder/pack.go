package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"

	"github.com/msx-dev/msx/msxerr"
)

// recipeVersion names the packing recipe. It goes into every content hash,
// so changing the recipe (this string, the Dockerfile or the files below)
// rebuilds every image.
const recipeVersion = "msx-scratch/1"

// NonRoot is the user and group the images run as.
const NonRoot = 65532

// dockerfile packs the build context below into an image. The classic
// builder (engines without BuildKit over the API) understands all of it.
// /data, /tmp and the home folder belong to the non-root user: Docker copies
// an image folder's ownership into a fresh named volume mounted over it, so
// a database volume on /data is writable.
//
// The classic builder commits a layer per instruction, each costing about a
// second on a slow storage driver. Everything but the binary comes first, so
// that those steps are cache hits shared by every service; the labels follow
// the binary in one LABEL instruction (ImageBuildOptions.Labels would add one
// step per label). A build is then two new steps.
const dockerfile = `FROM scratch
COPY rootfs/ /
COPY --chown=65532:65532 owned/ /
USER 65532:65532
ENTRYPOINT ["/app"]
COPY app /app
`

// dockerfileWith is the Dockerfile with a last LABEL instruction setting
// labels, in sorted order.
func dockerfileWith(labels map[string]string) string {
	if len(labels) == 0 {
		return dockerfile
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(dockerfile)
	b.WriteString("LABEL")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, strconv.Quote(labels[k]))
	}
	b.WriteString("\n")
	return b.String()
}

const passwd = `root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
`

const group = `root:x:0:
nonroot:x:65532:
`

// caCertsPath is where the CA bundle goes in the image (Go's crypto/x509
// looks there first on Linux).
const caCertsPath = "etc/ssl/certs/ca-certificates.crt"

// contentHash is the hex sha256 of everything that goes into an image: the
// recipe, the fixed files, the CA bundle and the binary.
func contentHash(bin, certs []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(recipeVersion), []byte(dockerfile), []byte(passwd), []byte(group), certs, bin} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// epoch is the modification time of every file in the build context, so
// that the context is the same bytes for the same inputs.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// buildContext is the tar the engine builds the image from.
func buildContext(bin, certs []byte, labels map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: epoch, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return file("Dockerfile", 0o644, []byte(dockerfileWith(labels))) },
		func() error { return dir("rootfs", 0o755) },
		func() error { return dir("rootfs/etc", 0o755) },
		func() error { return file("rootfs/etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("rootfs/etc/group", 0o644, []byte(group)) },
	}
	if certs != nil {
		steps = append(steps,
			func() error { return dir("rootfs/etc/ssl", 0o755) },
			func() error { return dir("rootfs/etc/ssl/certs", 0o755) },
			func() error { return file("rootfs/"+caCertsPath, 0o644, certs) },
		)
	}
	steps = append(steps,
		func() error { return dir("owned", 0o755) },
		func() error { return dir("owned/data", 0o755) },
		func() error { return dir("owned/tmp", 0o1777) },
		func() error { return dir("owned/home", 0o755) },
		func() error { return dir("owned/home/nonroot", 0o755) },
		func() error { return file("app", 0o755, bin) },
	)
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// pack builds the image ref of service name from its binary.
func (b *Builder) pack(ctx context.Context, name, ref string, labels map[string]string, bin, certs []byte) error {
	tarball, err := buildContext(bin, certs, labels)
	if err != nil {
		return fmt.Errorf("build context of %s: %w", name, err)
	}
	resp, err := b.api.ImageBuild(ctx, bytes.NewReader(tarball), build.ImageBuildOptions{
		Tags:        []string{ref},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return msxerr.Wrap(err, "run msx doctor to check Docker", "Docker could not build the image of %s: %s", name, oneLine(err.Error()))
	}
	defer resp.Body.Close()
	if err := readBuildStream(resp.Body); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return msxerr.Wrap(err, "run msx doctor to check Docker", "Docker could not build the image of %s: %s", name, oneLine(err.Error()))
	}
	return nil
}

// buildMessage is the part of the engine's build messages msx reads
// (jsonmessage.JSONMessage, without pulling in its terminal code).
type buildMessage struct {
	Stream      string `json:"stream,omitempty"`
	Error       string `json:"error,omitempty"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail,omitempty"`
}

// readBuildStream reads the engine's JSON message stream to the end and
// returns the first error it reports.
func readBuildStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	var first error
	for {
		var msg buildMessage
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return first
			}
			if first != nil {
				return first
			}
			return fmt.Errorf("reading the build output: %w", err)
		}
		if first != nil {
			continue
		}
		switch {
		case msg.ErrorDetail != nil && msg.ErrorDetail.Message != "":
			first = errors.New(msg.ErrorDetail.Message)
		case msg.Error != "":
			first = errors.New(msg.Error)
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
