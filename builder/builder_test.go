package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/progress"
)

var _ ImageAPI = (*client.Client)(nil)

// fakeAPI is an engine with an image store in memory.
type fakeAPI struct {
	mu      sync.Mutex
	arch    string
	images  map[string]map[string]string // ref -> labels
	loads   []*parsedImage
	removed []string
	stream  string // ImageLoad's answer; "Loaded image: REF" when empty
	loadErr error  // returned by ImageLoad without reading the tarball
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

// ImageLoad parses the tarball as the engine would and stores its image.
func (f *fakeAPI) ImageLoad(_ context.Context, r io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error) {
	f.mu.Lock()
	loadErr := f.loadErr
	f.mu.Unlock()
	if loadErr != nil {
		return image.LoadResponse{}, loadErr
	}
	if len(opts) != 1 {
		return image.LoadResponse{}, fmt.Errorf("%d load options, want quiet only", len(opts))
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return image.LoadResponse{}, err
	}
	img, err := parseImageTarball(data)
	if err != nil {
		return image.LoadResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads = append(f.loads, img)
	stream := f.stream
	if stream == "" {
		for _, tag := range img.manifest.RepoTags {
			f.images[tag] = img.config.Config.Labels
			stream += fmt.Sprintf(`{"stream":"Loaded image: %s\n"}`+"\n", tag)
		}
	}
	return image.LoadResponse{Body: io.NopCloser(strings.NewReader(stream)), JSON: true}, nil
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

// fakeCompile writes binaries whose content is the target's name plus a
// version the test controls, and records the architectures asked for and
// how many times it ran.
type fakeCompile struct {
	mu      sync.Mutex
	version string
	archs   []string
	runs    int
	fail    map[string]bool
}

func (c *fakeCompile) compile(_ context.Context, targets []Target, outs []string, goarch string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs++
	c.archs = append(c.archs, goarch)
	for i, t := range targets {
		if c.fail[t.Name] {
			return msxerr.New("fix the error above and run msx up again", "service %s does not compile", t.Name)
		}
		if err := os.WriteFile(outs[i], []byte("ELF "+t.Name+" "+c.version), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func newTestBuilder(t *testing.T, api ImageAPI, comp *fakeCompile) *Builder {
	t.Helper()
	b := New(api, Options{Project: "shop", Dir: t.TempDir(), MsxVersion: "1.2.3"})
	b.compile = comp.compile
	b.buildInit = func(context.Context, string, string) ([]byte, error) { return []byte("ELF msx-init"), nil }
	b.caCerts = nil
	return b
}

func TestContentHashStable(t *testing.T) {
	a := contentHash([]byte("binary"), []byte("certs"), []byte("init"))
	if a != contentHash([]byte("binary"), []byte("certs"), []byte("init")) {
		t.Fatal("same inputs gave different hashes")
	}
	if len(a) != 64 {
		t.Fatalf("hash %q is not hex sha256", a)
	}
	for name, other := range map[string]string{
		"binary changed": contentHash([]byte("binary2"), []byte("certs"), []byte("init")),
		"certs changed":  contentHash([]byte("binary"), []byte("certs2"), []byte("init")),
		"init changed":   contentHash([]byte("binary"), []byte("certs"), []byte("init2")),
		"no certs":       contentHash([]byte("binary"), nil, []byte("init")),
		// Moving bytes from one part to another must not collide.
		"boundary moved": contentHash([]byte("ybinary"), []byte("certs"), []byte("ini")),
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
	statuses := map[string][]progress.Step{}
	b.opts.Progress = func(s progress.Step) {
		mu.Lock()
		defer mu.Unlock()
		statuses[s.Name] = append(statuses[s.Name], s)
	}
	// Each look at the clock is a second later: the build's duration
	// travels as a duration.
	var ticks time.Duration
	b.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		ticks += time.Second
		return time.Unix(0, 0).Add(ticks)
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
		if want := filepath.Join(b.opts.Dir, ".msx", "build", "bin", strings.TrimPrefix(r.Name, "services/")); r.Binary != want {
			t.Errorf("binary = %q, want %q", r.Binary, want)
		}
	}
	if len(api.loads) != 2 {
		t.Fatalf("%d image loads, want 2", len(api.loads))
	}
	for _, img := range api.loads {
		labels := img.config.Config.Labels
		name := labels[LabelService]
		if labels[LabelProject] != "shop" || labels[LabelVersion] != "1.2.3" || labels[LabelWorkspace] != b.opts.Dir ||
			(name != "orders" && name != "gateway") || len(img.manifest.RepoTags) != 1 ||
			img.manifest.RepoTags[0] != "msx-shop/"+name+":"+labels[LabelContentHash][:12] {
			t.Errorf("labels = %v, tags %v", labels, img.manifest.RepoTags)
		}
		if img.config.Architecture != "amd64" {
			t.Errorf("architecture = %q, want the engine's", img.config.Architecture)
		}
	}
	if api.loads[0].manifest.Layers[0] != api.loads[1].manifest.Layers[0] {
		t.Errorf("services do not share the base layer: %v, %v", api.loads[0].manifest.Layers, api.loads[1].manifest.Layers)
	}
	if got := statuses["orders"]; len(got) != 3 || got[0].Kind != progress.Compiling || got[1].Kind != progress.Packing ||
		got[2].Kind != progress.Built || got[2].Duration < time.Second {
		t.Errorf("orders progress = %+v; want compiling, packing, built in a second or more", got)
	}

	statuses = map[string][]progress.Step{}
	res2, err := b.Build(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res2 {
		if r.Rebuilt || r.Image != res[i].Image {
			t.Errorf("second build of %s = %+v, want the same image not rebuilt", r.Name, r)
		}
	}
	if len(api.loads) != 2 {
		t.Errorf("second build packed again: %d image loads", len(api.loads))
	}
	if got := statuses["gateway"]; !slices.Equal(got, []progress.Step{{Kind: progress.Compiling, Name: "gateway"}, {Kind: progress.UpToDate, Name: "gateway"}}) {
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
	if !slices.Equal(comp.archs, []string{"arm64"}) {
		t.Errorf("compiled for %v, want arm64", comp.archs)
	}
	for _, img := range api.loads {
		if img.config.Architecture != "arm64" || img.config.OS != "linux" {
			t.Errorf("image platform = %s/%s, want linux/arm64", img.config.OS, img.config.Architecture)
		}
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
	b.compile = func(ctx context.Context, _ []Target, _ []string, _ string) error {
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

// parsedImage is an image tarball read back as the engine reads it.
type parsedImage struct {
	manifest  manifestItem
	rawConfig []byte
	config    imageConfig
	layerTars [][]byte       // in manifest order
	layers    [][]layerEntry // in manifest order
}

// layerEntry is one tar header of a layer and the content that follows it.
type layerEntry struct {
	name, uname, gname string
	typ                byte
	mode               int64
	uid, gid           int
	mtime              time.Time
	body               string
}

// parseImageTarball reads a `docker save` tarball with one image and checks
// what the engine checks on load: the manifest names files in the tarball,
// the layers match the config's diff IDs, and the config's file name is its
// sha256.
func parseImageTarball(data []byte) (*parsedImage, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		if _, dup := files[h.Name]; dup {
			return nil, fmt.Errorf("%s twice in the tarball", h.Name)
		}
		if files[h.Name], err = io.ReadAll(tr); err != nil {
			return nil, err
		}
	}
	var manifest []manifestItem
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(manifest) != 1 {
		return nil, fmt.Errorf("manifest has %d images, want 1", len(manifest))
	}
	img := &parsedImage{manifest: manifest[0], rawConfig: files[manifest[0].Config]}
	if sum := sha256.Sum256(img.rawConfig); img.manifest.Config != hex.EncodeToString(sum[:])+".json" {
		return nil, fmt.Errorf("config %q is not named by its sha256", img.manifest.Config)
	}
	if err := json.Unmarshal(img.rawConfig, &img.config); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(img.config.RootFS.DiffIDs) != len(img.manifest.Layers) || img.config.RootFS.Type != "layers" {
		return nil, fmt.Errorf("rootfs %+v does not match the layers %v", img.config.RootFS, img.manifest.Layers)
	}
	for i, name := range img.manifest.Layers {
		tarball, ok := files[name]
		if !ok {
			return nil, fmt.Errorf("layer %s not in the tarball", name)
		}
		if sum := sha256.Sum256(tarball); img.config.RootFS.DiffIDs[i] != "sha256:"+hex.EncodeToString(sum[:]) {
			return nil, fmt.Errorf("layer %d: diff ID %s is not the sha256 of %s", i, img.config.RootFS.DiffIDs[i], name)
		}
		entries, err := readLayer(tarball)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", name, err)
		}
		img.layerTars = append(img.layerTars, tarball)
		img.layers = append(img.layers, entries)
	}
	return img, nil
}

func readLayer(data []byte) ([]layerEntry, error) {
	var entries []layerEntry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		entries = append(entries, layerEntry{
			name: h.Name, uname: h.Uname, gname: h.Gname, typ: h.Typeflag, mode: h.Mode,
			uid: h.Uid, gid: h.Gid, mtime: h.ModTime, body: string(body),
		})
	}
}

func writeTarball(t *testing.T, img *imageTarball) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := img.writeTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImageTarball(t *testing.T) {
	bin := []byte("\x7fELF the binary")
	certs := []byte("-----BEGIN CERTIFICATE-----\n")
	labels := map[string]string{LabelService: "orders", LabelProject: "shop", LabelVersion: `1.0 "quoted"`}
	const ref = "msx-shop/orders:0123456789ab"
	newTarball := func(bin, certs []byte, labels map[string]string) []byte {
		img, err := newImageTarball(ref, "arm64", fallbackCreated, labels, baseLayer(certs), initLayer([]byte("the init")), appLayer(bin))
		if err != nil {
			t.Fatal(err)
		}
		return writeTarball(t, img)
	}
	data := newTarball(bin, certs, labels)
	if !bytes.Equal(data, newTarball(bin, certs, maps.Clone(labels))) {
		t.Error("the tarball is not the same bytes for the same inputs")
	}
	img, err := parseImageTarball(data)
	if err != nil {
		t.Fatal(err)
	}

	if !slices.Equal(img.manifest.RepoTags, []string{ref}) || len(img.manifest.Layers) != 3 {
		t.Errorf("manifest = %+v, want %s with three layers", img.manifest, ref)
	}
	for _, name := range img.manifest.Layers {
		if !strings.HasSuffix(name, "/layer.tar") {
			t.Errorf("layer file %q, want HEX/layer.tar", name)
		}
	}
	c := img.config
	if c.Architecture != "arm64" || c.OS != "linux" || !c.Created.Equal(fallbackCreated) {
		t.Errorf("platform %s/%s created %v", c.OS, c.Architecture, c.Created)
	}
	if c.Config.User != "65532:65532" || !slices.Equal(c.Config.Entrypoint, []string{"/msx-init", "/msx/app"}) ||
		!slices.Equal(c.Config.Env, []string{defaultPath}) || !maps.Equal(c.Config.Labels, labels) {
		t.Errorf("config = %+v", c.Config)
	}
	if len(c.History) != 3 {
		t.Errorf("history = %+v, want one entry per layer", c.History)
	}
	// The engine reads the container config with these exact keys.
	for _, key := range []string{`"User":"65532:65532"`, `"Entrypoint":["/msx-init","/msx/app"]`, `"Labels":{`, `"rootfs":{"type":"layers","diff_ids":["sha256:`} {
		if !bytes.Contains(img.rawConfig, []byte(key)) {
			t.Errorf("config JSON lacks %s: %s", key, img.rawConfig)
		}
	}

	type want struct {
		name  string
		typ   byte
		mode  int64
		owner int
		body  string
	}
	check := func(layer string, got []layerEntry, wants []want) {
		t.Helper()
		if len(got) != len(wants) {
			t.Errorf("%s layer has %d entries, want %d: %+v", layer, len(got), len(wants), got)
			return
		}
		for i, w := range wants {
			g := got[i]
			if g.name != w.name || g.typ != w.typ || g.mode != w.mode || g.uid != w.owner || g.gid != w.owner || g.body != w.body {
				t.Errorf("%s layer entry %d = %+v, want %+v", layer, i, g, w)
			}
			if !g.mtime.Equal(time.Unix(0, 0)) || g.uname != "" || g.gname != "" {
				t.Errorf("%s: mtime %v, owner names %q %q; want the epoch and no names", g.name, g.mtime, g.uname, g.gname)
			}
		}
	}
	check("base", img.layers[0], []want{
		{"data/", tar.TypeDir, 0o755, NonRoot, ""},
		{"etc/", tar.TypeDir, 0o755, 0, ""},
		{"etc/group", tar.TypeReg, 0o644, 0, group},
		{"etc/passwd", tar.TypeReg, 0o644, 0, passwd},
		{"etc/ssl/", tar.TypeDir, 0o755, 0, ""},
		{"etc/ssl/certs/", tar.TypeDir, 0o755, 0, ""},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, string(certs)},
		{"home/", tar.TypeDir, 0o755, 0, ""},
		{"home/nonroot/", tar.TypeDir, 0o755, NonRoot, ""},
		{"tmp/", tar.TypeDir, 0o1777, NonRoot, ""},
	})
	check("init", img.layers[1], []want{{"msx-init", tar.TypeReg, 0o755, 0, "the init"}})
	check("app", img.layers[2], []want{{"msx/", tar.TypeDir, 0o755, 0, ""}, {"msx/app", tar.TypeReg, 0o755, 0, string(bin)}})
	if !strings.Contains(passwd, "nonroot:x:65532:65532:nonroot:/home/nonroot:") || !strings.Contains(group, "nonroot:x:65532:") {
		t.Error("no nonroot user or group 65532")
	}

	// Another binary with other labels shares the base layer, byte for byte.
	other, err := parseImageTarball(newTarball([]byte("another binary"), certs, map[string]string{LabelService: "billing"}))
	if err != nil {
		t.Fatal(err)
	}
	if other.manifest.Layers[0] != img.manifest.Layers[0] || !bytes.Equal(other.layerTars[0], img.layerTars[0]) {
		t.Error("the base layer differs between services")
	}
	if other.manifest.Layers[1] != img.manifest.Layers[1] {
		t.Error("the init layer differs between services")
	}
	if other.manifest.Layers[2] == img.manifest.Layers[2] {
		t.Error("two binaries gave the same app layer")
	}

	noCerts, err := parseImageTarball(newTarball(bin, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range noCerts.layers[0] {
		if strings.HasPrefix(e.name, "etc/ssl") {
			t.Errorf("%s in the image when the host has no CA bundle", e.name)
		}
	}
}

func TestImageTarballRefusesALayerThatChanged(t *testing.T) {
	bin := []byte("binary")
	img, err := newImageTarball("msx-p/a:0123456789ab", "amd64", fallbackCreated, nil, baseLayer(nil), appLayer(bin))
	if err != nil {
		t.Fatal(err)
	}
	img.layers[1] = appLayer(bytes.Repeat([]byte("a longer binary"), 100))
	if err := img.writeTo(io.Discard); err == nil {
		t.Error("wrote a layer of another size than the one hashed")
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

func TestReadLoadStream(t *testing.T) {
	const ref = "msx-shop/orders:0123456789ab"
	for _, tc := range []struct {
		name, stream, wantErr string
		notJSON               bool
	}{
		{"success", `{"stream":"Loaded image: msx-shop/orders:0123456789ab\n"}` + "\n", "", false},
		{"success with progress", `{"status":"Loading layer","progressDetail":{"current":512,"total":1024},"id":"5f70bf18a086"}` + "\n" +
			`{"stream":"Loaded image: msx-shop/orders:0123456789ab\n"}`, "", false},
		{"errorDetail", `{"errorDetail":{"message":"invalid diffID for layer 1: expected \"sha256:aa\", got \"sha256:bb\""},"error":"invalid diffID"}` + "\n",
			`invalid diffID for layer 1`, false},
		{"error only", `{"error":"no space left on device"}`, "no space left on device", false},
		{"first error wins", `{"error":"first"}` + "\n" + `{"error":"second"}`, "first", false},
		{"podman", `{"stream":"Loaded image: localhost/msx-shop/orders:0123456789ab\n"}`, "", false},
		{"another image", `{"stream":"Loaded image ID: sha256:0123\n"}`, `did not load msx-shop/orders:0123456789ab: "Loaded image ID: sha256:0123"`, false},
		{"empty", ``, "did not load", false},
		{"truncated", `{"stream":"Loaded image: msx-shop/or`, "reading the engine's answer", false},
		{"plain text", "Loaded image: msx-shop/orders:0123456789ab\n", "", true},
		{"plain text error", "open /var/lib/docker/tmp: no space left\n", "no space left", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readLoadStream(strings.NewReader(tc.stream), !tc.notJSON, ref)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadErrorNamesTheService(t *testing.T) {
	api := newFakeAPI()
	api.stream = `{"errorDetail":{"message":"failed to register layer"},"error":"failed to register layer"}`
	b := newTestBuilder(t, api, &fakeCompile{})
	targets := []Target{{Name: "orders", Pkg: "./services/orders"}}
	_, err := b.Build(context.Background(), targets)
	if err == nil || !strings.Contains(err.Error(), "image of orders") || !strings.Contains(err.Error(), "failed to register layer") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}

	// The engine fails before reading the tarball: the writer must not
	// block forever.
	api.stream = ""
	api.loadErr = errors.New("connection refused")
	if _, err := b.Build(context.Background(), targets); err == nil || !strings.Contains(err.Error(), "connection refused") {
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
	if len(api.loads) != 0 {
		t.Errorf("packed %d images after a compile error", len(api.loads))
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

func TestCompileReturnsBinariesAndPacksLater(t *testing.T) {
	api := newFakeAPI()
	comp := &fakeCompile{version: "v2"}
	b := newTestBuilder(t, api, comp)
	b.opts.Dir = graphWorkspace(t) // sources, so that pack writes a stamp
	targets := []Target{{Name: "orders", Pkg: "./services/orders"}, {Name: "gateway", Pkg: "./gateway"}}

	res, pack, err := b.Compile(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != "orders" || res[1].Name != "gateway" {
		t.Fatalf("results = %+v", res)
	}
	for _, r := range res {
		data, err := os.ReadFile(r.Binary)
		if err != nil || string(data) != "ELF "+r.Name+" v2" {
			t.Errorf("%s binary = %q, %v", r.Name, data, err)
		}
		if r.Image != "" {
			t.Errorf("%s has an image %q before pack", r.Name, r.Image)
		}
	}
	if len(api.loads) != 0 {
		t.Fatalf("Compile packed %d images", len(api.loads))
	}

	packed, err := pack(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range packed {
		if r.Name != targets[i].Name || !r.Rebuilt || r.Image == "" || r.Binary != res[i].Binary {
			t.Errorf("packed %+v", r)
		}
	}
	if len(api.loads) != 2 {
		t.Fatalf("%d image loads after pack, want 2", len(api.loads))
	}
	// The stamp pack wrote lets the next Build skip the toolchain.
	runs := comp.runs
	again, err := b.Build(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	if comp.runs != runs || again[0].Image != packed[0].Image {
		t.Errorf("Build after a packed Compile ran the compiler again (%d runs, was %d) or gave %+v", comp.runs, runs, again[0])
	}
}

func TestCompileThenAnotherBuildWritesNoStaleStamp(t *testing.T) {
	api := newFakeAPI()
	comp := &fakeCompile{version: "v1"}
	b := newTestBuilder(t, api, comp)
	b.opts.Dir = graphWorkspace(t) // sources, so that pack writes a stamp
	targets := []Target{{Name: "orders", Pkg: "./services/orders"}}
	res, pack, err := b.Compile(context.Background(), targets)
	if err != nil {
		t.Fatal(err)
	}
	// Another compile rewrites the binary before the first one is packed.
	if err := os.WriteFile(res[0].Binary, []byte("ELF orders v2, a longer one"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := pack(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stampPath(b.opts.Dir, targets)); err == nil {
		t.Error("pack wrote a stamp for a binary another build replaced")
	}
}

func TestSourceDate(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	git := func(out string, err error) func(string) (string, error) {
		return func(string) (string, error) { return out, err }
	}
	for _, tc := range []struct {
		name string
		env  string
		git  func(string) (string, error)
		want time.Time
	}{
		{"SOURCE_DATE_EPOCH wins", "1767225600", git("1700000000\n", nil), time.Unix(1767225600, 0).UTC()},
		{"the last commit", "", git("1700000000\n", nil), time.Unix(1700000000, 0).UTC()},
		{"no git", "", git("", errors.New("not a git repository")), fallbackCreated},
		{"garbage", "soon", git("x", nil), fallbackCreated},
	} {
		if got := sourceDate("/w", env(tc.env), tc.git); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if fallbackCreated.Year() < 2026 {
		t.Error("the fallback date says the image is older than msx")
	}
}

func TestRemoveImagesOfOneWorkspace(t *testing.T) {
	api := newFakeAPI()
	dir := t.TempDir()
	api.images["msx-shop/orders:1"] = map[string]string{LabelProject: "shop", LabelWorkspace: dir, LabelService: "orders"}
	api.images["msx-shop/gateway:1"] = map[string]string{LabelProject: "shop", LabelWorkspace: dir, LabelService: "gateway"}
	api.images["msx-shop/orders:other"] = map[string]string{LabelProject: "shop", LabelWorkspace: "/elsewhere/shop"}
	api.images["msx-blog/orders:1"] = map[string]string{LabelProject: "blog", LabelWorkspace: dir}
	removed, err := RemoveImages(context.Background(), api, "shop", dir)
	if err != nil || !slices.Equal(removed, []string{"msx-shop/gateway:1", "msx-shop/orders:1"}) {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if len(api.images) != 2 {
		t.Errorf("left %v: want the other workspace's and the other project's images kept", api.images)
	}
}

// A compile that leaves a binary as the previous build left it says so,
// so that a rebuild with nothing changed is not reported as new code.
func TestCompileSaysWhenTheBinaryIsUnchanged(t *testing.T) {
	comp := &fakeCompile{version: "v1"}
	b := newTestBuilder(t, newFakeAPI(), comp)
	targets := []Target{{Name: "orders", Pkg: "./services/orders"}}
	compile := func() Result {
		t.Helper()
		res, _, err := b.Compile(context.Background(), targets)
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	if r := compile(); r.Unchanged {
		t.Errorf("first compile (no binary before it) says unchanged")
	}
	if r := compile(); !r.Unchanged {
		t.Errorf("second compile of the same code does not say unchanged")
	}
	comp.version = "v2"
	if r := compile(); r.Unchanged {
		t.Errorf("compile of changed code says unchanged")
	}
}

// binaryID reads the Go build ID of a real binary (this test's own).
func TestBinaryIDReadsTheGoBuildID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if id := binaryID(exe); !strings.HasPrefix(id, "go:") || len(id) < 20 {
		t.Errorf("binaryID(test binary) = %q, want its Go build ID", id)
	}
}
