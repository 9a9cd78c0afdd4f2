package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// requireCompose skips unless the docker CLI has the Compose v2 plugin:
// building it from the Go module proxy takes minutes, so the suite does
// not; scripts/e2e-export.sh installs it and sets MSX_E2E_COMPOSE=1, which
// turns a missing Compose into a failure.
func requireCompose(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "compose", "version").CombinedOutput()
	if err == nil && strings.Contains(string(out), "v2.") {
		return
	}
	if os.Getenv("MSX_E2E_COMPOSE") == "1" {
		t.Fatalf("Docker Compose v2 is required with MSX_E2E_COMPOSE=1: %v %s", err, out)
	}
	t.Skip("Docker Compose v2 is not installed; bash scripts/e2e-export.sh installs it and runs this test")
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
// with msx's images, down, then Docker Compose v2 runs the export; an item
// POSTed through the gateway is stored and read back, and compose down -v
// leaves nothing.
func TestExportComposeDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	requireCompose(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1"}
	removeImages(t, cli, project)
	mustMsx(t, parent, nil, "init", project, "--module", "example.com/"+strings.ReplaceAll(project, "-", ""))
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite")
	cleanupDown(t, ws, env)

	mustMsx(t, ws, env, "up", "-d")
	r := mustMsx(t, ws, env, "export", "compose", "--images", "msx", "--out", "deploy")
	if !strings.Contains(r.Stderr, "Not exported yet:") {
		t.Errorf("export does not say what it leaves out:\n%s", r.Stderr)
	}
	mustMsx(t, ws, env, "down")
	requireNothingLeft(t, cli, project, false)

	file := filepath.Join(ws, "deploy", "compose.yaml")
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
	if out, err := compose("up", "-d", "--wait", "--wait-timeout", "120"); err != nil {
		t.Fatalf("docker compose up -d: %v\n%s", err, out)
	}

	gateway := "http://127.0.0.1:" + strconv.Itoa(port)
	var code int
	var body string
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, body = httpDo(t, "POST", gateway+"/api/orders/items", `{"name":"exported"}`)
		if code == 201 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling the gateway until the service answers
	}
	var item struct {
		ID   json.RawMessage `json:"id"`
		Name string          `json:"name"`
	}
	if err := json.Unmarshal([]byte(body), &item); code != 201 || err != nil || item.Name != "exported" {
		t.Fatalf("POST /items through the exported gateway: %d %s", code, body)
	}
	id := strings.Trim(string(item.ID), `"`)
	if code, body = httpDo(t, "GET", gateway+"/api/orders/items/"+id, ""); code != 200 || !strings.Contains(body, `"exported"`) {
		t.Fatalf("GET /items/%s: %d %s", id, code, body)
	}

	if out, err := compose("down", "-v", "--timeout", "5"); err != nil {
		t.Fatalf("docker compose down -v: %v\n%s", err, out)
	}
	if left := composeLeft(t, cli, project); len(left) > 0 {
		t.Fatalf("docker compose down -v left %v", left)
	}
	requireNothingLeft(t, cli, project, false)
}
