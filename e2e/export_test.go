package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"gopkg.in/yaml.v3"
)

// requireCompose skips unless the docker CLI has the Compose v2 plugin.
// scripts/test.sh installs the pinned one (scripts/compose-v2.sh), so under
// CI=true (or MSX_E2E_COMPOSE=1, which scripts/e2e-export.sh sets) a missing
// Compose fails the test rather than letting the suite pass without it.
func requireCompose(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "compose", "version").CombinedOutput()
	if err == nil && strings.Contains(string(out), "v2.") {
		return
	}
	if os.Getenv("CI") == "true" || os.Getenv("MSX_E2E_COMPOSE") == "1" {
		t.Fatalf("Docker Compose v2 is required with CI=true: install it with bash scripts/compose-v2.sh (%v %s)", err, out)
	}
	t.Skip("Docker Compose v2 is not installed; bash scripts/compose-v2.sh installs it")
}

// composeLeft lists what Compose left of a project, found by its label.
func composeLeft(t *testing.T, cli *client.Client, project string) []string {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))
	var left []string
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		left = append(left, "container "+c.Names[0])
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		left = append(left, "network "+n.Name)
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Volumes {
		left = append(left, "volume "+v.Name)
	}
	return left
}

// TestExportComposeDocker takes a project off msx: up -d, export compose
// with msx's images, down, then Docker Compose v2 runs the export. Every
// container becomes healthy (or, for the secrets filler, completes); an item
// POSTed through the gateway to a service with a Postgres database and the
// broker is stored and read back; an item of its publisher reaches the
// broker; the publisher's protected route admits the API key from
// .msx/secrets only (the gateway's keys are exported too); the database is reachable from its service's network namespace
// only; and compose down -v leaves nothing.
func TestExportComposeDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	requireCompose(t)
	pg, nats := postgresImage(t), natsImage(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1", "MSX_IMAGES_POSTGRES=" + pg, "MSX_IMAGES_NATS=" + nats}
	removeImages(t, cli, project)
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "payments", "--db", "postgres", "--subscribes", "orders.item.created")
	// orders is protected, with an API key where msx keeps secrets.
	editFile(t, filepath.Join(ws, "msx.yaml"), "    route: /api/orders/\n", "    route: /api/orders/\n    protected: true\n")
	const apiKey = "key-e2e-export-0123456789abcdef"
	if err := os.MkdirAll(filepath.Join(ws, ".msx", "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, ".msx", "secrets", "gateway-api-keys"), []byte("e2e:"+apiKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cleanupDown(t, ws, env)

	mustMsx(t, ws, env, "up", "-d")
	r := mustMsx(t, ws, env, "export", "compose", "--images", "msx", "--out", "deploy")
	if !strings.Contains(r.Stderr, "Not exported: a health check of the broker") {
		t.Errorf("export does not say what it leaves out:\n%s", r.Stderr)
	}
	file := filepath.Join(ws, "deploy", "compose.yaml")
	if b, err := os.ReadFile(file); err != nil || strings.Contains(string(b), "build:") {
		t.Fatalf("the export with msx's images builds: %v\n%s", err, b)
	}
	mustMsx(t, ws, env, "down")
	requireNothingLeft(t, cli, project, false)

	compose := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, "docker", append([]string{"compose", "-p", project, "-f", file}, args...)...)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if out, err := compose("down", "-v", "--timeout", "5"); err != nil {
			t.Errorf("cleanup: docker compose down -v: %v\n%s", err, out)
		}
	})
	// Compose v2's own loader and consistency checks.
	if out, err := compose("config", "--quiet"); err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
	// --wait: every service healthy (or running, for those without a
	// check), the secrets filler completed.
	if out, err := compose("up", "-d", "--wait", "--wait-timeout", "150"); err != nil {
		logs, _ := compose("logs", "--no-color", "--tail", "30")
		t.Fatalf("docker compose up -d --wait: %v\n%s\n%s", err, out, logs)
	}
	ids := map[string]string{}
	out, err := compose("ps", "-a", "--format", "{{.Service}} {{.ID}} {{.State}} {{.Health}}")
	if err != nil {
		t.Fatalf("docker compose ps: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		ids[f[0]] = f[1]
		want := "running healthy"
		switch {
		case strings.HasSuffix(f[0], "-secrets"): // the fillers (each program's keys and seed; the broker's also made its store for its user)
			want = "exited"
		case f[0] == "nats":
			want = "running"
		}
		if got := strings.Join(f[2:], " "); got != want {
			t.Errorf("%s is %q, want %q", f[0], got, want)
		}
	}
	if len(ids) != 11 {
		t.Fatalf("compose ps lists %v, want the gateway, orders, payments and the secrets filler of each, payments' database and its filler, the broker and its configuration's filler, and the collector", ids)
	}

	gateway := "http://127.0.0.1:" + strconv.Itoa(port)
	// withKey calls the gateway with the API key, as a client of a
	// protected route does.
	withKey := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, gateway+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", apiKey)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(path, name string) string {
		t.Helper()
		var code int
		var body string
		for deadline := time.Now().Add(60 * time.Second); ; {
			code, body = withKey("POST", path, `{"name":"`+name+`"}`)
			if code == 201 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond) // polling the gateway until the service answers
		}
		var item struct {
			ID   json.RawMessage `json:"id"`
			Name string          `json:"name"`
		}
		if err := json.Unmarshal([]byte(body), &item); code != 201 || err != nil || item.Name != name {
			t.Fatalf("POST %s through the exported gateway: %d %s", path, code, body)
		}
		return strings.Trim(string(item.ID), `"`)
	}
	// payments: its Postgres database, its password read from the secrets
	// volume, the broker.
	id := post("/api/payments/items", "exported")
	if code, body := httpDo(t, "GET", gateway+"/api/payments/items/"+id, ""); code != 200 || !strings.Contains(body, `"exported"`) {
		t.Fatalf("GET /api/payments/items/%s: %d %s", id, code, body)
	}
	// orders publishes item.created for payments: the broker stores it.
	// Its route is protected: the exported gateway read the API key from
	// the file .msx/secrets holds, and refuses a call without it.
	post("/api/orders/items", "published")
	if code, body := httpDo(t, "GET", gateway+"/api/orders/items", ""); code != 401 {
		t.Errorf("GET /api/orders/items without the API key: %d %s, want 401", code, body)
	}
	if code, body := withKey("GET", "/api/orders/items", ""); code != 200 || !strings.Contains(body, `"published"`) {
		t.Errorf("GET /api/orders/items with the API key: %d %s", code, body)
	}
	mon, err := compose("port", "nats", "8222")
	if err != nil {
		t.Fatalf("docker compose port nats 8222: %v\n%s", err, mon)
	}
	// The exported broker has the same configuration: its monitoring
	// port answers under the path .msx/secrets holds, and only there.
	mpath, err := os.ReadFile(filepath.Join(ws, ".msx", "secrets", "nats-monitor-path"))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := httpDo(t, "GET", "http://"+strings.TrimSpace(mon)+"/jsz", ""); code != 404 {
		t.Errorf("the exported broker's /jsz outside its monitoring path: %d", code)
	}
	var js struct {
		Messages int `json:"messages"`
	}
	for deadline := time.Now().Add(30 * time.Second); js.Messages == 0 && time.Now().Before(deadline); {
		if code, body := httpDo(t, "GET", "http://"+strings.TrimSpace(mon)+"/"+strings.TrimSpace(string(mpath))+"/jsz", ""); code == 200 {
			_ = json.Unmarshal([]byte(body), &js)
		}
		if js.Messages == 0 {
			time.Sleep(300 * time.Millisecond) // polling until the outbox relay has published
		}
	}
	if js.Messages == 0 {
		t.Error("the broker holds no message after an item was created in orders")
	}

	// Database per service: pg_isready, from the Postgres image, in the
	// network namespace of each service's container.
	reach := func(from string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "run", "--rm", "--network", "container:"+ids[from],
			"--entrypoint", "pg_isready", pg, "-h", "payments-db", "-p", "5432", "-t", "5").CombinedOutput()
		return string(out), err
	}
	if out, err := reach("payments"); err != nil {
		t.Errorf("payments cannot reach its database: %v %s", err, out)
	}
	if out, err := reach("orders"); err == nil {
		t.Errorf("orders reaches the database of payments: %s", out)
	}

	if out, err := compose("down", "-v", "--timeout", "5"); err != nil {
		t.Fatalf("docker compose down -v: %v\n%s", err, out)
	}
	if left := composeLeft(t, cli, project); len(left) > 0 {
		t.Fatalf("docker compose down -v left %v", left)
	}
	requireNothingLeft(t, cli, project, false)
}

// TestExportComposeBuildsDocker is the export's other path: msx export
// compose without --images msx writes build: entries, and Docker Compose v2
// builds every image from the workspace's production Dockerfiles (and the
// collector's from its exported source), starts them healthy, and serves
// an item written through the gateway into Postgres and one into SQLite,
// the first service listing the second's through its typed client. As a
// CI points builds at its mirrors, the test points GO_IMAGE at this
// machine's Go image and GOPROXY at its module cache (no registry, no
// network), and builds with the classic builder, the one this engine has.
func TestExportComposeBuildsDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds images and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	requireCompose(t)
	pg, nats := postgresImage(t), natsImage(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1", "MSX_IMAGES_POSTGRES=" + pg, "MSX_IMAGES_NATS=" + nats}
	// The workspace TestDockerfilesBuildDocker builds, byte for byte (its
	// name is in the generated comments), so that the classic builder's
	// layer cache serves what that test compiled in containers: only the
	// collector compiles here. The Compose file then names the run's
	// project, so that nothing here is shared with another run.
	mustMsx(t, parent, nil, "init", "shop", "--module", e2eModule)
	ws := filepath.Join(parent, "shop")
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "payments", "--db", "postgres", "--depends-on", "orders", "--subscribes", "orders.item.created")
	mustMsx(t, ws, env, "export", "compose", "--out", "deploy")
	file := filepath.Join(ws, "deploy", "compose.yaml")

	base := goBuildImage(t, cli, ws)
	proxy := moduleProxy(t, ws, filepath.Join(ws, "deploy", "collector"))
	builds := pointBuilds(t, file, "shop", project, map[string]string{"GO_IMAGE": base, "GOPROXY": proxy})
	for _, s := range []string{"collector", "gateway", "orders", "payments"} {
		if !slices.Contains(builds, s) {
			t.Fatalf("services that build: %v, want %s among them", builds, s)
		}
	}
	compose := func(timeout time.Duration, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c := exec.CommandContext(ctx, "docker", append([]string{"compose", "-p", project, "-f", file}, args...)...)
		// The classic builder, as TestDockerfilesBuildDocker's, for its layer
		// cache; one image at a time, so that the first compiles the layers
		// the others share and they find them in that cache.
		c.Env = append(os.Environ(), "DOCKER_BUILDKIT=0", "COMPOSE_PARALLEL_LIMIT=1")
		out, err := c.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if out, err := compose(time.Minute, "down", "-v", "--timeout", "5"); err != nil {
			t.Errorf("cleanup: docker compose down -v: %v\n%s", err, out)
		}
		removeBuilt(t, cli, project)
	})
	func() {
		containerBuilds.Lock()
		defer containerBuilds.Unlock()
		start := time.Now()
		if out, err := compose(30*time.Minute, "build"); err != nil {
			t.Fatalf("docker compose build: %v\n%s", err, out)
		}
		t.Logf("docker compose build: %s", time.Since(start).Round(time.Second))
	}()
	if out, err := compose(4*time.Minute, "up", "-d", "--wait", "--wait-timeout", "180"); err != nil {
		logs, _ := compose(time.Minute, "logs", "--no-color", "--tail", "30")
		t.Fatalf("docker compose up -d --wait: %v\n%s\n%s", err, out, logs)
	}

	gateway := "http://127.0.0.1:" + strconv.Itoa(port)
	for _, s := range []string{"orders", "payments"} {
		if code, body := httpDo(t, "POST", gateway+"/api/"+s+"/items", `{"name":"built-`+s+`"}`); code != 201 {
			t.Fatalf("POST /api/%s/items through the built gateway: %d %s", s, code, body)
		}
	}
	if code, body := httpDo(t, "GET", gateway+"/api/payments/upstream", ""); code != 200 || !strings.Contains(body, `"built-orders"`) {
		t.Errorf("GET /api/payments/upstream: %d %s, want orders' item", code, body)
	}

	if out, err := compose(time.Minute, "down", "-v", "--timeout", "5"); err != nil {
		t.Fatalf("docker compose down -v: %v\n%s", err, out)
	}
	if left := composeLeft(t, cli, project); len(left) > 0 {
		t.Fatalf("docker compose down -v left %v", left)
	}
}

// pointBuilds sets build args (and the host's network, where the module
// proxy listens) on every service of the Compose file that builds, renames
// the file's project from to project (its images and labels), and returns
// the names of the services that build.
func pointBuilds(t *testing.T, file, from, project string, args map[string]string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.NewReplacer("image: "+from+"/", "image: "+project+"/", "dev.msx.project: "+from+"\n", "dev.msx.project: "+project+"\n").Replace(string(data)))
	var cf map[string]any
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatal(err)
	}
	var names []string
	services, _ := cf["services"].(map[string]any)
	for name, s := range services {
		if b, ok := s.(map[string]any)["build"].(map[string]any); ok {
			b["args"], b["network"] = args, "host"
			names = append(names, name)
		}
	}
	if data, err = yaml.Marshal(cf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return names
}

// removeBuilt removes the images Compose built for project, named
// project/NAME; removeBuildStages, their build stages, when the run ends.
func removeBuilt(t *testing.T, cli *client.Client, project string) {
	t.Helper()
	ctx := context.Background()
	all, err := cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		t.Errorf("listing images: %v", err)
		return
	}
	for _, img := range all {
		if slices.ContainsFunc(img.RepoTags, func(tag string) bool { return strings.HasPrefix(tag, project+"/") }) {
			if _, err := cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
				t.Errorf("removing image %s: %v", img.ID, err)
			}
		}
	}
}
