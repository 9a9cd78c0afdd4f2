package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/msxerr"
)

var _ ImageAPI = (*client.Client)(nil)

// fakeAPI is an engine with an image store in memory.
type fakeAPI struct {
	mu       sync.Mutex
	arch     string
	images   map[string]map[string]string // ref -> labels
	builds   []build.ImageBuildOptions
	contexts [][]byte
	removed  []string
	stream   string // build output; a success when empty
	buildErr error
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{arch: "amd64", images: map[string]map[string]string{}}
}

func (f *fakeAPI) ServerVersion(context.Context) (types.Version, error) {
	return types.Version{Arch: f.arch, Version: "20.10.24", APIVersion: "1.41"}, nil
}

func (f *fakeAPI) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.images[ref]; ok {
		return image.InspectResponse{ID: "sha256:" + ref, RepoTags: []string{ref}}, nil
	}
	return image.InspectResponse{}, fmt.Errorf("No such image: %s", ref)
}

func (f *fakeAPI) ImageBuild(_ context.Context, r io.Reader, opts build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return build.ImageBuildResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.buildErr != nil {
		return build.ImageBuildResponse{}, f.buildErr
	}
	f.builds = append(f.builds, opts)
	f.contexts = append(f.contexts, data)
	stream := f.stream
	if stream == "" {
		stream = `{"stream":"Step 1/6 : FROM scratch\n"}` + "\n" + `{"aux":{"ID":"sha256:abc"}}` + "\n" + `{"stream":"Successfully built abc\n"}` + "\n"
		labels, err := contextLabels(data)
		if err != nil {
			return build.ImageBuildResponse{}, err
		}
		for _, tag := range opts.Tags {
			f.images[tag] = labels
		}
	}
	return build.ImageBuildResponse{Body: io.NopCloser(strings.NewReader(stream))}, nil
}

func (f *fakeAPI) ImageList(_ context.Context, opts image.ListOptions) ([]image.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := opts.Filters.Get("label")
	var out []image.Summary
	refs := make([]string, 0, len(f.images))
	for ref := range f.images {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
next:
	for _, ref := range refs {
		labels := f.images[ref]
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if labels[k] != v {
				continue next
			}
		}
		out = append(out, image.Summary{ID: "sha256:" + ref, RepoTags: []string{ref}, Labels: labels})
	}
	return out, nil
}

func (f *fakeAPI) ImageRemove(_ context.Context, ref string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, ref)
	delete(f.images, ref)
	return nil, nil
}

// fakeCompile writes a binary whose content is the target's name plus a
// version the test controls, and records the architectures asked for.
type fakeCompile struct {
	mu      sync.Mutex
	version string
	archs   []string
	fail    map[string]bool
}

func (c *fakeCompile) compile(_ context.Context, t Target, out, goarch string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.archs = append(c.archs, goarch)
	if c.fail[t.Name] {
		return msxerr.New("fix the error above and run msx up again", "service %s does not compile", t.Name)
	}
	return os.WriteFile(out, []byte("ELF "+t.Name+" "+c.version), 0o755)
}

func newTestBuilder(t *testing.T, api ImageAPI, comp *fakeCompile) *Builder {
	t.Helper()
	b := New(api, Options{Project: "shop", Dir: t.TempDir(), MsxVersion: "1.2.3"})
	b.compile = comp.compile
	b.caCerts = nil
	return b
}

func TestContentHashStable(t *testing.T) {
	a := contentHash([]byte("binary"), []byte("certs"))
	if a != contentHash([]byte("binary"), []byte("certs")) {
		t.Fatal("same inputs gave different hashes")
	}
	if len(a) != 64 {
		t.Fatalf("hash %q is not hex sha256", a)
	}
	for name, other := range map[string]string{
		"binary changed": contentHash([]byte("binary2"), []byte("certs")),
		"certs changed":  contentHash([]byte("binary"), []byte("certs2")),
		"no certs":       contentHash([]byte("binary"), nil),
		// Moving bytes from one part to another must not collide.
		"boundary moved": contentHash([]byte("ybinary"), []byte("cert")),
	} {
		if other == a {
			t.Errorf("%s: hash did not change", name)
		}
	}
}

func TestBuildPacksThenSkipsWhenImageExists(t *testing.T) {
	api := newFakeAPI()
	comp := &fakeCompile{version: "v1"}
	b := newTestBuilder(t, api, comp)
	var mu sync.Mutex
	statuses := map[string][]string{}
	b.opts.Progress = func(name, status string) {
		mu.Lock()
		defer mu.Unlock()
		statuses[name] = append(statuses[name], status)
	}
	targets := []Target{{Name: "orders", Pkg: "./services/orders"}, {Name: "gateway", Pkg: "./gateway"}}

	res, err := b.Build(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != "orders" || res[1].Name != "gateway" {
		t.Fatalf("results not in targets' order: %+v", res)
	}
	for _, r := range res {
		if !r.Rebuilt {
			t.Errorf("%s: Rebuilt = false on a cold build", r.Name)
		}
		if want := "msx-shop/" + r.Name + ":" + r.Hash[:12]; r.Image != want {
			t.Errorf("image = %q, want %q", r.Image, want)
		}
		if want := filepath.Join(b.opts.Dir, ".msx", "build", r.Name, "app"); r.Binary != want {
			t.Errorf("binary = %q, want %q", r.Binary, want)
		}
	}
	if len(api.builds) != 2 {
		t.Fatalf("%d image builds, want 2", len(api.builds))
	}
	for i, opts := range api.builds {
		if !opts.Remove || !opts.ForceRemove || opts.Version != build.BuilderV1 {
			t.Errorf("build options %+v: want Remove, ForceRemove and the classic builder", opts)
		}
		labels, err := contextLabels(api.contexts[i])
		if err != nil {
			t.Fatal(err)
		}
		name := labels[LabelService]
		if labels[LabelProject] != "shop" || labels[LabelVersion] != "1.2.3" || labels[LabelWorkspace] != b.opts.Dir ||
			(name != "orders" && name != "gateway") || !strings.HasSuffix(opts.Tags[0], ":"+labels[LabelContentHash][:12]) {
			t.Errorf("labels = %v, tags %v", labels, opts.Tags)
		}
	}
	if got := statuses["orders"]; len(got) != 3 || got[0] != "compiling" || got[1] != "packing" || !strings.HasPrefix(got[2], "built in ") {
		t.Errorf("orders progress = %q", got)
	}

	statuses = map[string][]string{}
	res2, err := b.Build(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res2 {
		if r.Rebuilt || r.Image != res[i].Image {
			t.Errorf("second build of %s = %+v, want the same image not rebuilt", r.Name, r)
		}
	}
	if len(api.builds) != 2 {
		t.Errorf("second build packed again: %d image builds", len(api.builds))
	}
	if got := statuses["gateway"]; !slices.Equal(got, []string{"compiling", "up to date"}) {
		t.Errorf("gateway progress = %q", got)
	}
	if len(api.removed) != 0 {
		t.Errorf("removed %v on builds without changes", api.removed)
	}
}

func TestRebuildPrunesOlderImagesOfTheService(t *testing.T) {
	api := newFakeAPI()
	comp := &fakeCompile{version: "v1"}
	b := newTestBuilder(t, api, comp)
	// Images of another project, another service, or the same project in
	// another folder must survive.
	ws := b.opts.Dir
	api.images["msx-other/orders:aaaaaaaaaaaa"] = map[string]string{LabelProject: "other", LabelService: "orders", LabelContentHash: "a", LabelWorkspace: ws}
	api.images["msx-shop/billing:bbbbbbbbbbbb"] = map[string]string{LabelProject: "shop", LabelService: "billing", LabelContentHash: "b", LabelWorkspace: ws}
	api.images["msx-shop/orders:cccccccccccc"] = map[string]string{LabelProject: "shop", LabelService: "orders", LabelContentHash: "c", LabelWorkspace: "/elsewhere/shop"}
	targets := []Target{{Name: "orders", Pkg: "./services/orders"}}
	first, err := b.Build(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	comp.version = "v2"
	second, err := b.Build(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	if !second[0].Rebuilt || second[0].Hash == first[0].Hash {
		t.Fatalf("changed binary: %+v", second[0])
	}
	if !slices.Equal(api.removed, []string{first[0].Image}) {
		t.Errorf("removed %v, want only %s", api.removed, first[0].Image)
	}
}

func TestBuildAsksForTheEngineArchitecture(t *testing.T) {
	api := newFakeAPI()
	api.arch = "arm64"
	comp := &fakeCompile{}
	b := newTestBuilder(t, api, comp)
	if _, err := b.Build(context.Background(), []Target{{Name: "a", Pkg: "./a"}, {Name: "b", Pkg: "./b"}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(comp.archs, []string{"arm64", "arm64"}) {
		t.Errorf("compiled for %v, want arm64", comp.archs)
	}

	api.arch = "mips"
	_, err := b.Build(context.Background(), []Target{{Name: "a", Pkg: "./a"}})
	if err == nil || !strings.Contains(err.Error(), `"mips"`) {
		t.Errorf("unknown architecture: err = %v", err)
	}
}

func TestBuildRefusesDuplicateTargets(t *testing.T) {
	api := newFakeAPI()
	b := newTestBuilder(t, api, &fakeCompile{})
	for _, targets := range [][]Target{
		{{Name: "a", Pkg: "./a"}, {Name: "a", Pkg: "./b"}},
		{{Name: "", Pkg: "./a"}},
		{{Name: "a"}},
	} {
		if _, err := b.Build(context.Background(), targets); err == nil {
			t.Errorf("Build(%v): no error", targets)
		}
	}
	if res, err := b.Build(context.Background(), nil); err != nil || res != nil {
		t.Errorf("Build(nil) = %v, %v", res, err)
	}
}

func TestBuildCancelled(t *testing.T) {
	api := newFakeAPI()
	b := newTestBuilder(t, api, &fakeCompile{})
	ctx, cancel := context.WithCancel(context.Background())
	b.compile = func(ctx context.Context, _ Target, _, _ string) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	_, err := b.Build(ctx, []Target{{Name: "a", Pkg: "./a"}, {Name: "b", Pkg: "./b"}})
	if !errors.Is(err, msxerr.ErrCancelled) {
		t.Errorf("err = %v, want ErrCancelled", err)
	}
}

func TestGoArch(t *testing.T) {
	for in, want := range map[string]string{
		"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
	} {
		if got, ok := GoArch(in); !ok || got != want {
			t.Errorf("GoArch(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if got, ok := GoArch("sparc"); ok {
		t.Errorf("GoArch(sparc) = %q, want not ok", got)
	}
}

func TestBuildContextContents(t *testing.T) {
	bin := []byte("\x7fELF the binary")
	certs := []byte("-----BEGIN CERTIFICATE-----\n")
	labels := map[string]string{LabelService: "orders", LabelProject: "shop", LabelVersion: `1.0 "quoted"`}
	data, err := buildContext(bin, certs, labels)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := buildContext(bin, certs, labels)
	if !bytes.Equal(data, again) {
		t.Error("the build context is not the same bytes for the same inputs")
	}

	type entry struct {
		mode int64
		dir  bool
		body string
	}
	got := map[string]entry{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got[h.Name] = entry{mode: h.Mode, dir: h.Typeflag == tar.TypeDir, body: string(body)}
		order = append(order, h.Name)
	}
	want := map[string]entry{
		"Dockerfile": {mode: 0o644, body: dockerfile +
			`LABEL dev.msx.project="shop" dev.msx.service="orders" dev.msx.version="1.0 \"quoted\""` + "\n"},
		"app":               {mode: 0o755, body: string(bin)},
		"rootfs/etc/passwd": {mode: 0o644, body: passwd},
		"rootfs/etc/group":  {mode: 0o644, body: group},
		"rootfs/etc/ssl/certs/ca-certificates.crt": {mode: 0o644, body: string(certs)},
		"owned/data/":         {mode: 0o755, dir: true},
		"owned/tmp/":          {mode: 0o1777, dir: true},
		"owned/home/nonroot/": {mode: 0o755, dir: true},
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s missing from the context (have %v)", name, order)
			continue
		}
		if g != w {
			t.Errorf("%s = %+v, want %+v", name, g, w)
		}
	}
	for _, line := range []string{
		"FROM scratch",
		"COPY rootfs/ /",
		"COPY --chown=65532:65532 owned/ /",
		"COPY app /app",
		"USER 65532:65532",
		`ENTRYPOINT ["/app"]`,
	} {
		if !strings.Contains(dockerfile, line+"\n") {
			t.Errorf("Dockerfile lacks %q", line)
		}
	}
	if !strings.Contains(passwd, "nonroot:x:65532:65532:") || !strings.Contains(group, "nonroot:x:65532:") {
		t.Error("no nonroot user or group 65532")
	}

	if got, err := contextLabels(data); err != nil || !maps.Equal(got, labels) {
		t.Errorf("labels read back = %v, %v; want %v", got, err, labels)
	}

	noCerts, err := buildContext(bin, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(noCerts, []byte("ca-certificates.crt")) {
		t.Error("context has a CA bundle when the host has none")
	}
}

// contextLabels reads the labels of the LABEL line of the Dockerfile in a
// build context.
func contextLabels(data []byte) (map[string]string, error) {
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("no Dockerfile in the context: %w", err)
		}
		if h.Name != "Dockerfile" {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		labels := map[string]string{}
		for _, line := range strings.Split(string(body), "\n") {
			rest, ok := strings.CutPrefix(line, "LABEL ")
			if !ok {
				continue
			}
			for rest != "" {
				k, v, ok := strings.Cut(rest, "=")
				if !ok {
					return nil, fmt.Errorf("bad LABEL line %q", line)
				}
				q, err := strconv.QuotedPrefix(v)
				if err != nil {
					return nil, fmt.Errorf("bad LABEL line %q: %v", line, err)
				}
				labels[k], _ = strconv.Unquote(q)
				rest = strings.TrimPrefix(v[len(q):], " ")
			}
		}
		return labels, nil
	}
}

func TestReadCACertsFirstFound(t *testing.T) {
	dir := t.TempDir()
	second := filepath.Join(dir, "cert.pem")
	writeFile(t, second, "BUNDLE")
	b := New(newFakeAPI(), Options{})
	b.caCerts = []string{filepath.Join(dir, "missing.crt"), second}
	if got := string(b.readCACerts()); got != "BUNDLE" {
		t.Errorf("readCACerts = %q", got)
	}
	b.caCerts = []string{filepath.Join(dir, "missing.crt")}
	if got := b.readCACerts(); got != nil {
		t.Errorf("readCACerts without a bundle = %q", got)
	}
}

func TestReadBuildStream(t *testing.T) {
	for _, tc := range []struct {
		name, stream, wantErr string
	}{
		{"success", `{"stream":"Step 1/2 : FROM scratch\n"}` + "\n" + `{"stream":"Successfully built 0123\n"}`, ""},
		{"errorDetail", `{"stream":"Step 3/6 : COPY app /app\n"}` + "\n" +
			`{"errorDetail":{"message":"COPY failed: file not found"},"error":"COPY failed: file not found"}` + "\n", "COPY failed: file not found"},
		{"error only", `{"error":"no space left on device"}`, "no space left on device"},
		{"first error wins", `{"error":"first"}` + "\n" + `{"error":"second"}`, "first"},
		{"truncated", `{"stream":"Step 1/2`, "reading the build output"},
		{"empty", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readBuildStream(strings.NewReader(tc.stream))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestBuildStreamErrorNamesTheService(t *testing.T) {
	api := newFakeAPI()
	api.stream = `{"errorDetail":{"message":"failed to register layer"},"error":"failed to register layer"}`
	b := newTestBuilder(t, api, &fakeCompile{})
	_, err := b.Build(context.Background(), []Target{{Name: "orders", Pkg: "./services/orders"}})
	if err == nil || !strings.Contains(err.Error(), "image of orders") || !strings.Contains(err.Error(), "failed to register layer") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}

	api.stream = ""
	api.buildErr = errors.New("connection refused")
	if _, err := b.Build(context.Background(), []Target{{Name: "orders", Pkg: "./services/orders"}}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
}

func TestCompileErrorStopsTheBuild(t *testing.T) {
	api := newFakeAPI()
	comp := &fakeCompile{fail: map[string]bool{"billing": true}}
	b := newTestBuilder(t, api, comp)
	_, err := b.Build(context.Background(), []Target{{Name: "billing", Pkg: "./services/billing"}})
	if err == nil || err.Error() != "service billing does not compile; fix the error above and run msx up again" {
		t.Fatalf("err = %v", err)
	}
	if len(api.builds) != 0 {
		t.Errorf("packed %d images after a compile error", len(api.builds))
	}
}

func TestGoBuildCompileErrorGoesToStderr(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go toolchain")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/broken\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "svc", "main.go"), "package main\n\nfunc main() { notDefined() }\n")
	var stderr bytes.Buffer
	b := New(newFakeAPI(), Options{Project: "p", Dir: dir, Stderr: &stderr})
	_, err := b.Build(context.Background(), []Target{{Name: "svc", Pkg: "./svc"}})
	if err == nil || err.Error() != "service svc does not compile; fix the error above and run msx up again" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stderr.String(), "notDefined") || !strings.HasPrefix(stderr.String(), "# svc:") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestBuildEnv(t *testing.T) {
	env := buildEnv([]string{"PATH=/bin", "GOOS=darwin", "GOARCH=arm64", "CGO_ENABLED=1", "GOCACHE=/cache"}, "amd64")
	want := []string{"PATH=/bin", "GOCACHE=/cache", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}
	if !slices.Equal(env, want) {
		t.Errorf("env = %v, want %v", env, want)
	}
}
