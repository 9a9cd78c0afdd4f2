package e2e

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/go-connections/nat"
)

// TestDockerfilesBuildDocker builds every production Dockerfile of a
// generated workspace (a SQLite service, a Postgres one that calls it and
// subscribes to its events, the gateway) through the Engine API's classic
// builder, from the workspace root as the README says, with no registry and
// no network: the Go image is this machine's toolchain with a build cache
// of the workspace's packages (goBuildImage) and the modules come from this
// machine's module cache (moduleProxy). Then the
// images run as they would in production (read-only root, a Postgres
// container, the gateway routing to both): orders stores an item on its
// /data volume, payments reaches its database and lists orders' items
// through the typed client of orders' API package.
func TestDockerfilesBuildDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("compiles the workspace in containers; skipped with -short")
	}
	cli := requireDocker(t)
	pg := postgresImage(t)
	ctx := context.Background()
	project := uniqueProject(t)
	// A fixed module path: the same go.mod and platform/ give the same
	// layers for every image of the workspace.
	parent := t.TempDir()
	mustMsx(t, parent, nil, "init", "shop", "--module", e2eModule)
	ws := filepath.Join(parent, "shop")
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "payments", "--db", "postgres", "--depends-on", "orders",
		"--subscribes", "orders.item.created")

	base := goBuildImage(t, cli, ws)
	proxy := moduleProxy(t, ws)
	var dockerfiles []string
	for _, pattern := range []string{"gateway/Dockerfile", "services/*/Dockerfile"} {
		m, err := filepath.Glob(filepath.Join(ws, pattern))
		if err != nil {
			t.Fatal(err)
		}
		dockerfiles = append(dockerfiles, m...)
	}
	if len(dockerfiles) != 3 {
		t.Fatalf("Dockerfiles %v, want the gateway's, orders' and payments'", dockerfiles)
	}
	images := map[string]string{}
	func() {
		containerBuilds.Lock()
		defer containerBuilds.Unlock()
		for _, df := range dockerfiles {
			rel, _ := filepath.Rel(ws, df)
			name := filepath.Base(filepath.Dir(df))
			ref := "msx-e2e-" + project + "/" + name + ":test"
			start := time.Now()
			buildImage(t, cli, ws, rel, ref, map[string]*string{"GO_IMAGE": &base, "GOPROXY": &proxy})
			t.Logf("built %s in %s", rel, time.Since(start).Round(time.Second))
			images[name] = ref
			info, err := cli.ImageInspect(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if info.Config.User != "65532:65532" || len(info.RootFS.Layers) > 4 {
				t.Errorf("%s: user %q, %d layers; want 65532:65532 FROM scratch (certificates, binary, data)", ref, info.Config.User, len(info.RootFS.Layers))
			}
		}
	}()

	// Run them: a network of their own, Postgres for payments.
	netID, err := cli.NetworkCreate(ctx, project, network.CreateOptions{Labels: map[string]string{"dev.msx.project": project}})
	if err != nil {
		t.Fatal(err)
	}
	var containers []string
	t.Cleanup(func() {
		for _, id := range containers {
			if err := cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				t.Errorf("removing container: %v", err)
			}
		}
		if err := cli.NetworkRemove(ctx, netID.ID); err != nil {
			t.Errorf("removing network: %v", err)
		}
	})
	run := func(name, img string, env []string, publish string) string {
		t.Helper()
		cfg := &container.Config{Image: img, Env: env, Labels: map[string]string{"dev.msx.project": project}}
		host := &container.HostConfig{}
		if publish != "" {
			port := nat.Port(publish + "/tcp")
			cfg.ExposedPorts = nat.PortSet{port: {}}
			host.PortBindings = nat.PortMap{port: {{HostIP: "127.0.0.1"}}}
			// As a cluster runs them: nothing writable but the volumes.
			host.ReadonlyRootfs = true
			host.Tmpfs = map[string]string{"/tmp": ""}
		}
		c, err := cli.ContainerCreate(ctx, cfg, host, &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			project: {Aliases: []string{name}},
		}}, nil, project+"-"+name)
		if err != nil {
			t.Fatal(err)
		}
		containers = append(containers, c.ID)
		if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
			t.Fatal(err)
		}
		if publish == "" {
			return ""
		}
		info, err := cli.ContainerInspect(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		b := info.NetworkSettings.Ports[nat.Port(publish+"/tcp")]
		if len(b) == 0 {
			t.Fatalf("%s: port %s not published", name, publish)
		}
		return "http://127.0.0.1:" + b[0].HostPort
	}
	const pw = "e2e-dockerfile-password"
	run("payments-db", pg, []string{"POSTGRES_USER=payments", "POSTGRES_DB=payments", "POSTGRES_PASSWORD=" + pw}, "")
	run("orders", images["orders"], nil, "8081")
	run("payments", images["payments"], []string{
		"DATABASE_URL=postgres://payments:" + pw + "@payments-db:5432/payments?sslmode=disable",
		"ORDERS_URL=http://orders:8081",
	}, "8082")
	routes := `[{"name":"orders","prefix":"/api/orders/","upstream":"http://orders:8081"},` +
		`{"name":"payments","prefix":"/api/payments/","upstream":"http://payments:8082"}]`
	gw := run("gateway", images["gateway"], []string{"MSX_ROUTES=" + routes}, "8080")

	answer := func(method, url, body string, want int) string {
		t.Helper()
		var code int
		var got string
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
			code, got = tryDo(method, url, body)
			if code == want {
				return got
			}
			time.Sleep(250 * time.Millisecond) // polling until the container answers
		}
		logs := containerLogs(t, cli, containers)
		t.Fatalf("%s %s: %d %s, want %d\n%s", method, url, code, got, want, logs)
		return ""
	}
	answer("GET", gw+"/healthz", "", 200)
	for _, s := range []string{"orders", "payments"} {
		if body := answer("GET", gw+"/api/"+s+"/healthz", "", 200); !strings.Contains(body, `"service":"`+s+`"`) {
			t.Errorf("/api/%s/healthz: %s", s, body)
		}
	}
	answer("POST", gw+"/api/orders/items", `{"name":"built"}`, 201)
	answer("POST", gw+"/api/payments/items", `{"name":"paid"}`, 201)
	if body := answer("GET", gw+"/api/payments/upstream", "", 200); !strings.Contains(body, `"built"`) {
		t.Errorf("payments' /upstream does not list orders' item: %s", body)
	}

	// orders goes away: payments passes its unavailability on through the
	// gateway, 503 with Retry-After, and its own routes keep working.
	if err := cli.ContainerStop(ctx, containers[1], container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", gw+"/api/payments/upstream", nil)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/api/payments/upstream with orders stopped: %s, Retry-After %q; want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	answer("GET", gw+"/api/payments/items", "", 200)
}

// tryDo sends one request and returns the status and body, or 0 when it
// could not be sent.
func tryDo(method, url, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// containerLogs returns the last lines of each container, for a failure.
func containerLogs(t *testing.T, cli *client.Client, ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		rc, err := cli.ContainerLogs(context.Background(), id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		fmt.Fprintf(&b, "== %.12s\n%s\n", id, data)
	}
	return b.String()
}

// goImageRecipe names how goBuildImage makes the Go image; change it when
// the recipe changes.
const goImageRecipe = "msx-e2e-go/2"

// goImages serializes goBuildImage: the tests that call it run in
// parallel, and the image is made once for all of them.
var goImages sync.Mutex

// goBuildImage returns the Go image the container builds use, made on this
// machine, as no registry is reachable: the toolchain of the go command on
// PATH (GOROOT, without its tests and docs), the CA bundle, and a Go build
// cache holding ws's packages compiled as its Dockerfiles compile them
// (CGO_ENABLED=0, -trimpath, linux, this toolchain), as a CI's cache of
// GOCACHE would: every step of the Dockerfiles still runs, and their
// compiles find what the host compiled instead of compiling it again under
// the storage driver, which is slow here (fuse-overlayfs). One layer,
// tagged by a hash of the recipe, the toolchain and ws's go.mod and go.sum;
// made when that tag is missing (a compile on the host and an import, once
// per change of the workspace's dependencies), and the images of earlier
// tags removed then.
func goBuildImage(t *testing.T, cli *client.Client, ws string) string {
	t.Helper()
	goroot := strings.TrimSpace(runIn(t, ".", "go", "env", "GOROOT"))
	version := strings.TrimSpace(runIn(t, ".", "go", "env", "GOVERSION"))
	const certs = "/etc/ssl/certs/ca-certificates.crt"
	key := sha256.New()
	fmt.Fprintf(key, "%s\n%s\n%s\n%s\n", goImageRecipe, version, goroot, runtime.GOARCH)
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(ws, f))
		if err != nil {
			t.Fatal(err)
		}
		key.Write(data)
	}
	ref := "msx-e2e/go:" + version + "-" + hex.EncodeToString(key.Sum(nil)[:6])
	ctx := context.Background()
	goImages.Lock()
	defer goImages.Unlock()
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref
	}
	cache := t.TempDir()
	build := exec.Command("go", "build", "./...")
	build.Dir = ws
	build.Env = append(os.Environ(), "GOCACHE="+cache, "CGO_ENABLED=0", "GOFLAGS=-trimpath", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("compiling %s for the Go image's build cache: %v\n%s", ws, err, out)
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := writeGoRoot(tw, goroot, certs)
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "root/.cache/", Mode: 0o755})
		}
		if err == nil {
			err = filepath.WalkDir(cache, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(cache, path)
				return addToTar(tw, path, "root/.cache/go-build/"+filepath.ToSlash(rel), d)
			})
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{Changes: []string{
		"ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ENV GOPATH=/go",
		"ENV HOME=/root",
		// The toolchain is what it is: never download another.
		"ENV GOTOOLCHAIN=local",
	}})
	if err != nil {
		t.Fatalf("importing the Go image: %v", err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		t.Fatalf("importing the Go image: %v", err)
	}
	// Earlier recipes' and dependencies' images: hundreds of MB each.
	if old, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", "msx-e2e/go"))}); err == nil {
		for _, img := range old {
			if !slices.Contains(img.RepoTags, ref) {
				cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true})
			}
		}
	}
	return ref
}

// writeGoRoot writes the toolchain and CA bundle of goBuildImage.
func writeGoRoot(tw *tar.Writer, goroot, certs string) error {
	for _, d := range []struct {
		name string
		mode int64
	}{{"etc/", 0o755}, {"etc/ssl/", 0o755}, {"etc/ssl/certs/", 0o755}, {"go/", 0o755}, {"root/", 0o700}, {"tmp/", 0o1777}, {"usr/", 0o755}, {"usr/local/", 0o755}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode}); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(certs)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(certs, "/"), Mode: 0o644, Size: int64(len(data))}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	skip := map[string]bool{"test": true, "doc": true, "api": true, "misc": true}
	return filepath.WalkDir(goroot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(goroot, path)
		if d.IsDir() && skip[rel] {
			return filepath.SkipDir
		}
		return addToTar(tw, path, "usr/local/go/"+filepath.ToSlash(rel), d)
	})
}

// addToTar adds the file or folder at path to tw as name.
func addToTar(tw *tar.Writer, path, name string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	hdr, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = strings.TrimSuffix(name, "/."), 0, 0, "", ""
	if d.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// buildCache is what the Docker build tests of one run share, so that the
// second reuses the layers of the first (the modules downloaded, the
// dependencies and platform/ compiled): one module proxy, whose URL is a
// build arg and so part of the builder's cache keys, and the build stages'
// images, removed when the run ends (removeBuildStages).
var buildCache struct {
	mu     sync.Mutex
	proxy  string
	layers []string
}

// containerBuilds is held by a test while it compiles the workspace in
// containers. The tests run in parallel, and two such builds at once would
// each compile the same layers for want of the other's: one after the
// other, the second finds the first's in the builder's cache.
var containerBuilds sync.Mutex

// moduleProxy serves this machine's module cache as a GOPROXY on
// 127.0.0.1, after go mod download has filled it with the modules of each
// module folder, so that a build reaching it (on the host's network) needs
// no other network. It returns the GOPROXY value, the same for the run.
func moduleProxy(t *testing.T, modules ...string) string {
	t.Helper()
	for _, m := range modules {
		goCmd(t, m, "mod", "download")
	}
	buildCache.mu.Lock()
	defer buildCache.mu.Unlock()
	if buildCache.proxy == "" {
		cache := strings.TrimSpace(runIn(t, modules[0], "go", "env", "GOMODCACHE"))
		// Served until the run ends: it is the cache keys' GOPROXY.
		srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(cache, "cache", "download"))))
		buildCache.proxy = srv.URL
	}
	return buildCache.proxy
}

// removeBuildStages removes, when the run ends, the images of the build
// stages the tests left for each other: those buildImage noted, and the
// untagged ones whose history holds the run's GOPROXY (Compose's builds).
func removeBuildStages() {
	buildCache.mu.Lock()
	defer buildCache.mu.Unlock()
	if buildCache.proxy == "" {
		return
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return
	}
	defer cli.Close()
	ctx := context.Background()
	for i := len(buildCache.layers) - 1; i >= 0; i-- {
		cli.ImageRemove(ctx, buildCache.layers[i], image.RemoveOptions{PruneChildren: true})
	}
	all, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("dangling", "true"))})
	if err != nil {
		return
	}
	for _, img := range all {
		hist, err := cli.ImageHistory(ctx, img.ID)
		if err == nil && slices.ContainsFunc(hist, func(h image.HistoryResponseItem) bool { return strings.Contains(h.CreatedBy, buildCache.proxy) }) {
			cli.ImageRemove(ctx, img.ID, image.RemoveOptions{PruneChildren: true})
		}
	}
}

// buildImage builds the Dockerfile at rel (from the workspace root ws, as
// its comment says to) through the Engine API's classic builder on the
// host's network and tags it ref; the test's end removes it, the run's
// end its build stage's layers.
func buildImage(t *testing.T, cli *client.Client, ws, rel, ref string, args map[string]*string) {
	t.Helper()
	ctx := context.Background()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, ws)) }()
	resp, err := cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Version: build.BuilderV1, Dockerfile: rel, Tags: []string{ref}, BuildArgs: args,
		NetworkMode: "host", Remove: true, ForceRemove: true,
	})
	if err != nil {
		t.Fatalf("building %s: %v", rel, err)
	}
	defer resp.Body.Close()
	var out strings.Builder
	var layers []string
	step := regexp.MustCompile(`^ ---> ([0-9a-f]{12})$`)
	err = jsonmessage.DisplayJSONMessagesStream(resp.Body, &out, 0, false, nil)
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		if m := step.FindStringSubmatch(sc.Text()); m != nil {
			layers = append(layers, m[1])
		}
	}
	// The Go image is the first step's: it stays, cached for the next run.
	if base, err := cli.ImageInspect(ctx, *args["GO_IMAGE"]); err == nil {
		layers = slices.DeleteFunc(layers, func(id string) bool { return strings.HasPrefix(base.ID, "sha256:"+id) })
	}
	t.Cleanup(func() { cli.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}) })
	buildCache.mu.Lock()
	buildCache.layers = append(buildCache.layers, layers...)
	buildCache.mu.Unlock()
	if err != nil {
		t.Fatalf("building %s: %v\n%s", rel, err, out.String())
	}
}

// writeContext writes the build context of ws to w as the docker CLI
// would: every file but those the workspace's .dockerignore names (its
// patterns are folders, "DIR/", and file suffixes, "**/*.EXT").
func writeContext(w io.Writer, ws string) error {
	ignore, err := os.ReadFile(filepath.Join(ws, ".dockerignore"))
	if err != nil {
		return err
	}
	var dirs, suffixes []string
	for _, line := range strings.Split(string(ignore), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "**/*"):
			suffixes = append(suffixes, strings.TrimPrefix(line, "**/*"))
		case strings.HasSuffix(line, "/"):
			dirs = append(dirs, strings.TrimSuffix(line, "/"))
		default:
			return fmt.Errorf(".dockerignore pattern %q is not one this test understands", line)
		}
	}
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(ws, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ws, path)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() && slices.Contains(dirs, rel) {
			return filepath.SkipDir
		}
		for _, s := range suffixes {
			if strings.HasSuffix(rel, s) {
				return nil
			}
		}
		return addToTar(tw, path, rel, d)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
