package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/msx-dev/msx/engine"
	"github.com/msx-dev/msx/internal/syncbuf"
)

// requireDocker returns a client for the engine, or skips the test when it
// does not answer; with CI=true a missing engine fails the test instead.
func requireDocker(t *testing.T) *client.Client {
	t.Helper()
	cli, err := engine.NewClient()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = cli.Ping(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker is required with CI=true: %v", err)
		}
		t.Skipf("Docker is not answering: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// e2eModule is the module path of every workspace the tests make: msx
// builds with -trimpath, so the Go build cache keys on import paths, and
// one module path lets each test reuse the platform/ packages the tests
// before it compiled, instead of compiling them again under a new path.
const e2eModule = "example.com/shop"

// uniqueProject returns a project name no other test uses.
func uniqueProject(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "e2e-" + hex.EncodeToString(b)
}

// stopLabelled stops every container of project, as a machine restart would.
func stopLabelled(t *testing.T, cli *client.Client, project string) {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))
	cs, err := cli.ContainerList(ctx, container.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if err := cli.ContainerStop(ctx, c.ID, container.StopOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// freePort returns a loopback port that nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// labelled lists what is left of a project: containers, networks and
// volumes carrying dev.msx.project=project.
func labelled(t *testing.T, cli *client.Client, project string) (containers, networks, volumes []string) {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		containers = append(containers, c.Names[0]+" "+c.State)
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		networks = append(networks, n.Name)
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Volumes {
		volumes = append(volumes, v.Name)
	}
	return containers, networks, volumes
}

// requireNothingLeft fails unless no container or network (and, with
// volumes, no volume) of the project remains.
func requireNothingLeft(t *testing.T, cli *client.Client, project string, volumes bool) {
	t.Helper()
	cs, ns, vs := labelled(t, cli, project)
	if len(cs) > 0 || len(ns) > 0 || (volumes && len(vs) > 0) {
		t.Fatalf("left behind for %s: containers %v, networks %v, volumes %v", project, cs, ns, vs)
	}
}

// containerIDs maps each container of the project to its ID.
func containerIDs(t *testing.T, cli *client.Client, project string) map[string]string {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))
	cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cs {
		out[c.Names[0]] = c.ID
	}
	return out
}

// newShop creates a workspace with three SQLite services, orders depending
// on payments, in a folder named after the project. It registers a
// down --volumes that runs even when the test fails.
func newShop(t *testing.T, parent, project string, env []string) string {
	t.Helper()
	if useStubWorkspace() {
		ws := writeStubWorkspace(t, parent, project)
		cleanupDown(t, ws, env)
		return ws
	}
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "payments", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "catalog", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite", "--depends-on", "payments")
	cleanupDown(t, ws, env)
	return ws
}

func cleanupDown(t *testing.T, ws string, env []string) {
	t.Cleanup(func() {
		if r := msx(t, ws, env, "down", "--volumes"); r.Code != 0 {
			t.Errorf("cleanup: msx down --volumes exited %d: %s", r.Code, r.Stderr)
		}
	})
}

// removeImages removes the project's images when the test ends: down
// keeps them (they are the build cache), tests must not pile them up.
func removeImages(t *testing.T, cli *client.Client, project string) {
	t.Cleanup(func() {
		ctx := context.Background()
		f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))
		list, err := cli.ImageList(ctx, image.ListOptions{Filters: f})
		if err != nil {
			t.Errorf("listing images: %v", err)
			return
		}
		for _, img := range list {
			if _, err := cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
				t.Errorf("removing image %s: %v", img.ID, err)
			}
		}
	})
}

// httpDo sends one request and returns the status and body.
func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestUpDocker runs one workspace through its life: up -d, a request
// through the gateway to a service and its database, ps, a no-op up,
// attached up and SIGINT, a kill -9 mid-up, a second project beside it, the
// same project name in another folder, a taken gateway port, and down.
func TestUpDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1"}
	// Cleanups run last first: the images go after down removed the
	// containers that use them, even when a subtest fails half-way.
	removeImages(t, cli, project)
	ws := newShop(t, parent, project, env)
	gateway := "http://127.0.0.1:" + strconv.Itoa(port)

	t.Run("up -d", func(t *testing.T) {
		start := time.Now()
		r := mustMsx(t, ws, env, "up", "-d")
		t.Logf("cold up -d: %s", time.Since(start).Round(time.Millisecond))
		if got := strings.TrimSpace(r.Stdout); got != gateway {
			t.Errorf("stdout = %q, want the gateway URL %q", got, gateway)
		}
	})

	t.Run("a request reaches a service and its database", func(t *testing.T) {
		code, body := httpDo(t, "GET", gateway+"/api/orders/healthz", "")
		var health struct{ Status, Service string }
		if err := json.Unmarshal([]byte(body), &health); code != 200 || err != nil || health.Status != "ok" || health.Service != "orders" {
			t.Fatalf("healthz: %d %s", code, body)
		}
		code, body = httpDo(t, "POST", gateway+"/api/orders/items", `{"name":"widget"}`)
		var item struct {
			ID   json.RawMessage `json:"id"`
			Name string          `json:"name"`
		}
		if err := json.Unmarshal([]byte(body), &item); code != 201 || err != nil || item.Name != "widget" {
			t.Fatalf("POST /items: %d %s", code, body)
		}
		id := strings.Trim(string(item.ID), `"`)
		code, body = httpDo(t, "GET", gateway+"/api/orders/items/"+id, "")
		if code != 200 || !strings.Contains(body, `"widget"`) {
			t.Fatalf("GET /items/%s: %d %s", id, code, body)
		}
	})

	t.Run("ps --json", func(t *testing.T) {
		r := mustMsx(t, ws, env, "ps", "--json")
		var list []struct {
			Service string `json:"service"`
			State   string `json:"state"`
			Ready   bool   `json:"ready"`
			Ports   []struct {
				HostIP   string `json:"host_ip"`
				HostPort int    `json:"host_port"`
			} `json:"ports"`
			Restarts      int   `json:"restarts"`
			UptimeSeconds int64 `json:"uptime_seconds"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
			t.Fatalf("ps --json: %v\n%s", err, r.Stdout)
		}
		var got []string
		for _, s := range list {
			got = append(got, s.Service)
			// A service publishes only its admin listener; the gateway
			// its API port too.
			want := 1
			if s.Service == "gateway" {
				want = 2
			}
			if s.State != "running" || !s.Ready || len(s.Ports) != want {
				t.Errorf("ps: %+v", s)
			}
			for _, p := range s.Ports {
				if p.HostIP != "127.0.0.1" {
					t.Errorf("ps: %s published on %s", s.Service, p.HostIP)
				}
			}
			if s.Service == "gateway" && len(s.Ports) == 2 && s.Ports[0].HostPort != port && s.Ports[1].HostPort != port {
				t.Errorf("gateway not published on %d: %+v", port, s.Ports)
			}
		}
		if want := "collector payments catalog orders gateway"; strings.Join(got, " ") != want && strings.Join(got, " ") != "collector catalog payments orders gateway" {
			t.Errorf("ps lists %v, want %s in start order", got, want)
		}
		plain := mustMsx(t, ws, env, "ps")
		if !strings.Contains(plain.Stdout, "orders\trunning\tyes\t127.0.0.1:") {
			t.Errorf("ps (not a terminal) is not tab-separated:\n%s", plain.Stdout)
		}
	})

	t.Run("a second up is a no-op", func(t *testing.T) {
		before := containerIDs(t, cli, project)
		start := time.Now()
		// Without go on PATH: nothing changed, so the toolchain must not run.
		r := mustMsx(t, ws, append(slices.Clone(env), pathWithoutGo(t)), "up", "-d")
		t.Logf("warm up -d: %s", time.Since(start).Round(time.Millisecond))
		if after := containerIDs(t, cli, project); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("containers changed: %v -> %v", before, after)
		}
		for _, s := range []string{"payments", "catalog", "orders", "gateway"} {
			if !strings.Contains(r.Stderr, fmt.Sprintf("%-12s unchanged, running", s)) {
				t.Errorf("%s: no 'unchanged' in:\n%s", s, r.Stderr)
			}
		}
		for _, word := range []string{"built", " created", "recreated"} {
			if strings.Contains(r.Stderr, word) {
				t.Errorf("second up says %q:\n%s", word, r.Stderr)
			}
		}
	})

	t.Run("up SERVICE, then up, keeps the gateway", func(t *testing.T) {
		mustMsx(t, ws, env, "down")
		mustMsx(t, ws, env, "up", "-d", "payments")
		gw := "/" + project + "-gateway"
		before := containerIDs(t, cli, project)
		if before[gw] == "" || len(before) != 3 {
			t.Fatalf("up payments started %v, want the collector, payments and the gateway", before)
		}
		r := mustMsx(t, ws, env, "up", "-d")
		after := containerIDs(t, cli, project)
		if after[gw] != before[gw] || after["/"+project+"-payments"] != before["/"+project+"-payments"] {
			t.Errorf("up after up payments recreated the gateway or payments: %v -> %v\n%s", before, after, r.Stderr)
		}
		if !strings.Contains(r.Stderr, fmt.Sprintf("%-12s unchanged, running", "gateway")) {
			t.Errorf("no 'gateway unchanged' in:\n%s", r.Stderr)
		}
		if len(after) != 5 {
			t.Errorf("containers after up: %v", after)
		}
	})

	t.Run("another project beside it", func(t *testing.T) {
		// A copy of the workspace under another project name shares the
		// Go build cache, so this costs no compilation.
		other := uniqueProject(t)
		dir := copyWorkspace(t, ws, filepath.Join(t.TempDir(), other), project, other)
		otherPort := freePort(t)
		otherEnv := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(otherPort), "NO_COLOR=1"}
		removeImages(t, cli, other)
		cleanupDown(t, dir, otherEnv)
		mustMsx(t, dir, otherEnv, "up", "-d")
		for _, p := range []int{port, otherPort} {
			if code, body := httpDo(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/api/catalog/healthz", p), ""); code != 200 {
				t.Errorf("gateway on %d: %d %s", p, code, body)
			}
		}
		mustMsx(t, dir, otherEnv, "down", "--volumes")
		requireNothingLeft(t, cli, other, true)
		if cs, _, _ := labelled(t, cli, project); len(cs) != 5 {
			t.Errorf("down of the other project touched this one: %v", cs)
		}
	})

	t.Run("the same project name in another folder", func(t *testing.T) {
		dir := copyWorkspace(t, ws, filepath.Join(t.TempDir(), project), project, project)
		otherEnv := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(freePort(t)), "NO_COLOR=1"}
		r := msx(t, dir, otherEnv, "up", "-d")
		if r.Code == 0 || !strings.Contains(r.Stderr, "already running from "+ws) {
			t.Errorf("up from another folder: exit %d\n%s", r.Code, r.Stderr)
		}
		mustMsx(t, dir, otherEnv, "down", "--volumes")
		if cs, _, vs := labelled(t, cli, project); len(cs) != 5 || len(vs) != 4 {
			t.Errorf("down in another folder touched this one: %v %v", cs, vs)
		}
	})

	t.Run("attached up follows a service across a restart", func(t *testing.T) {
		up := startMsx(t, ws, env, "up")
		up.waitFor(t, "Ctrl-C to stop", 2*time.Minute)
		t.Cleanup(func() {
			up.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-up.done:
			case <-time.After(30 * time.Second):
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cli.ContainerRestart(ctx, project+"-catalog", container.StopOptions{}); err != nil {
			t.Fatal(err)
		}
		up.waitFor(t, "catalog   | msx: restarted\n", 30*time.Second)
		// The new run's lines follow, and no line is shown twice (the
		// lines are shown with millisecond times: a repeat is a re-shown
		// line).
		deadline := time.Now().Add(30 * time.Second)
		for {
			out := up.stderr.String()
			_, after, _ := strings.Cut(out, "catalog   | msx: restarted\n")
			if strings.Contains(after, "catalog   | ") {
				seen := map[string]bool{}
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "catalog   | ") && !strings.Contains(l, "msx: ") && seen[l] {
						t.Errorf("shown twice: %s\n%s", l, out)
					}
					seen[l] = true
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no catalog line after the restart:\n%s", out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("SIGINT stops an attached up", func(t *testing.T) {
		up := startMsx(t, ws, env, "up")
		up.waitFor(t, "Ctrl-C to stop", 2*time.Minute)
		start := time.Now()
		if err := up.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-up.done:
		case <-time.After(30 * time.Second):
			up.cmd.Process.Kill()
			t.Fatalf("msx up did not exit 30s after SIGINT:\n%s", up.stderr.String())
		}
		t.Logf("attached up stopped %s after SIGINT", time.Since(start).Round(time.Millisecond))
		if code := up.cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("exit code %d, want 130", code)
		}
		cs, _, _ := labelled(t, cli, project)
		for _, s := range cs {
			if strings.HasSuffix(s, " running") {
				t.Errorf("still running after SIGINT: %s\n%s", s, up.stderr.String())
			}
		}
	})

	t.Run("a second SIGINT forces the stop", func(t *testing.T) {
		// catalog is edited to take 5s to shut down, so that the graceful
		// stop is surely still under way when the second SIGINT comes.
		main := filepath.Join(ws, "services", "catalog", "main.go")
		orig, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		slow := strings.Replace(string(orig), "\ta.register(s.Mux)\n", "\ta.register(s.Mux)\n\ts.OnStop(func() { time.Sleep(5 * time.Second) })\n", 1)
		slow = strings.Replace(slow, "import (\n", "import (\n\t\"time\"\n", 1)
		if slow == string(orig) {
			t.Fatal("catalog's main.go has no a.register(s.Mux) to follow")
		}
		if err := os.WriteFile(main, []byte(slow), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(main, orig, 0o644)
		up := startMsx(t, ws, env, "up")
		up.waitFor(t, "Ctrl-C to stop", 2*time.Minute)
		start := time.Now()
		if err := up.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		up.waitFor(t, "Ctrl-C again to force", 10*time.Second)
		if err := up.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-up.done:
		case <-time.After(20 * time.Second):
			up.cmd.Process.Kill()
			t.Fatalf("msx up did not exit 20s after two SIGINTs:\n%s", up.stderr.String())
		}
		t.Logf("attached up stopped %s after two SIGINTs", time.Since(start).Round(time.Millisecond))
		if !strings.Contains(up.stderr.String(), "forcing") {
			t.Errorf("the second SIGINT did not force the stop:\n%s", up.stderr.String())
		}
		if code := up.cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("exit code %d, want 130\n%s", code, up.stderr.String())
		}
		cs, _, _ := labelled(t, cli, project)
		for _, s := range cs {
			if strings.HasSuffix(s, " running") || strings.HasSuffix(s, " created") {
				t.Errorf("left after two SIGINTs: %s\n%s", s, up.stderr.String())
			}
		}
	})

	t.Run("kill -9 during up, then up adopts", func(t *testing.T) {
		// The previous case ran a slowed catalog and put its code back:
		// converge first, then stop every container, so that the up killed
		// below only starts containers one by one.
		mustMsx(t, ws, env, "up", "-d")
		stopLabelled(t, cli, project)
		up := startMsx(t, ws, env, "up", "-d")
		up.waitFor(t, "unchanged, started", 2*time.Minute)
		up.cmd.Process.Kill()
		<-up.done
		r := mustMsx(t, ws, env, "up", "-d")
		if strings.Contains(r.Stderr, " created\n") || strings.Contains(r.Stderr, "recreated") {
			t.Errorf("up after kill -9 created containers instead of adopting them:\n%s", r.Stderr)
		}
		if code, _ := httpDo(t, "GET", gateway+"/api/orders/healthz", ""); code != 200 {
			t.Errorf("after adopting, healthz answered %d", code)
		}
		mustMsx(t, ws, env, "down")
		requireNothingLeft(t, cli, project, false)
		if _, _, vs := labelled(t, cli, project); len(vs) != 4 {
			t.Errorf("down without --volumes removed volumes: %v", vs)
		}
	})

	t.Run("kill -9 during a fresh up, then down leaves nothing", func(t *testing.T) {
		up := startMsx(t, ws, env, "up", "-d")
		// A container's line ("payments     created"), not the network's.
		up.waitForRe(t, containerCreated, 2*time.Minute)
		up.cmd.Process.Kill()
		<-up.done
		if cs, _, _ := labelled(t, cli, project); len(cs) == 0 {
			t.Errorf("killed before any container existed:\n%s", up.stderr.String())
		}
		mustMsx(t, ws, env, "down")
		requireNothingLeft(t, cli, project, false)
	})

	// SIGINT while containers are being created: whatever the moment,
	// nothing is left in "created" and nothing runs. The network's line
	// comes just before the first creates, the container's line between
	// two of them.
	// The creates take milliseconds, so the network's line is followed by
	// several delays, as the reviewer's repro did.
	network := regexp.MustCompile(`(?m)^network \S+ +created$`)
	type moment struct {
		name  string
		re    *regexp.Regexp
		delay time.Duration
	}
	moments := []moment{{"after the first container is created", containerCreated, 0}}
	for _, d := range []time.Duration{0, 3, 6, 10, 15, 25, 40} {
		moments = append(moments, moment{fmt.Sprintf("%dms after the network is created", d), network, d * time.Millisecond})
	}
	for _, at := range moments {
		t.Run("SIGINT mid-up "+at.name, func(t *testing.T) {
			mustMsx(t, ws, env, "down")
			up := startMsx(t, ws, env, "up")
			up.waitForRe(t, at.re, 2*time.Minute)
			time.Sleep(at.delay)
			if err := up.cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			select {
			case <-up.done:
			case <-time.After(30 * time.Second):
				up.cmd.Process.Kill()
				t.Fatalf("msx up did not exit 30s after SIGINT:\n%s", up.stderr.String())
			}
			if code := up.cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit code %d, want 130\n%s", code, up.stderr.String())
			}
			cs, _, _ := labelled(t, cli, project)
			for _, s := range cs {
				if strings.HasSuffix(s, " running") || strings.HasSuffix(s, " created") {
					t.Errorf("left after SIGINT mid-up: %s\n%s", s, up.stderr.String())
				}
			}
			mustMsx(t, ws, env, "down")
			requireNothingLeft(t, cli, project, false)
		})
	}

	t.Run("a taken gateway port is reported before anything is created", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken := l.Addr().(*net.TCPAddr).Port
		r := msx(t, ws, []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(taken)}, "up", "-d")
		if r.Code == 0 || !strings.Contains(r.Stderr, fmt.Sprintf("port %d", taken)) || !strings.Contains(r.Stderr, "MSX_GATEWAY_PORT") {
			t.Errorf("exit %d\n%s", r.Code, r.Stderr)
		}
		requireNothingLeft(t, cli, project, false)
	})

	t.Run("a service that crashes stops up with its name, exit code and logs", func(t *testing.T) {
		crashOnStart(t, ws, "catalog")
		r := msx(t, ws, env, "up", "-d", "catalog")
		if r.Code == 0 || !strings.Contains(r.Stderr, "catalog exited with code 2 before it was ready") || !strings.Contains(r.Stderr, "e2e: boom") {
			t.Errorf("exit %d\n%s", r.Code, r.Stderr)
		}
		cs, _, _ := labelled(t, cli, project)
		for _, s := range cs {
			if strings.HasSuffix(s, " created") {
				t.Errorf("left in created: %s", s)
			}
		}
	})

	t.Run("a failed up, attached or -d, leaves nothing of its attempt running", func(t *testing.T) {
		// orders crashes once payments, which it depends on, is ready.
		crashOnStart(t, ws, "orders")
		mustMsx(t, ws, env, "down")
		for _, args := range [][]string{{"up"}, {"up", "-d"}} {
			r := msx(t, ws, env, args...)
			if r.Code != 1 || !strings.Contains(r.Stderr, "orders exited with code 2") || !strings.Contains(r.Stderr, "removed (this up failed)") {
				t.Errorf("%v: exit %d\n%s", args, r.Code, r.Stderr)
			}
			cs, _, _ := labelled(t, cli, project)
			for _, s := range cs {
				if strings.HasSuffix(s, " running") || strings.HasSuffix(s, " created") {
					t.Errorf("%v: left after a failed up: %s\n%s", args, s, r.Stderr)
				}
			}
		}
	})

	t.Run("down --volumes leaves nothing and is idempotent", func(t *testing.T) {
		mustMsx(t, ws, env, "up", "-d")
		mustMsx(t, ws, env, "down", "--volumes")
		requireNothingLeft(t, cli, project, true)
		mustMsx(t, ws, env, "down", "--volumes")
	})

	t.Run("down --rmi removes the project's images", func(t *testing.T) {
		f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))
		before, err := cli.ImageList(context.Background(), image.ListOptions{Filters: f})
		if err != nil || len(before) == 0 {
			t.Fatalf("no image of %s before down --rmi (%v)", project, err)
		}
		for _, img := range before {
			if img.Created < time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
				t.Errorf("image %v was created at %s: want the source's date, not 1970", img.RepoTags, time.Unix(img.Created, 0).UTC())
			}
		}
		r := mustMsx(t, ws, env, "down", "--rmi")
		if !strings.Contains(r.Stderr, "removed image msx-") {
			t.Errorf("down --rmi did not list the images it removed:\n%s", r.Stderr)
		}
		after, err := cli.ImageList(context.Background(), image.ListOptions{Filters: f})
		if err != nil || len(after) != 0 {
			t.Errorf("images left after down --rmi: %d (%v)", len(after), err)
		}
	})
}

// copyWorkspace copies a workspace's source (not .msx) to dir, renaming the
// project in msx.yaml.
func copyWorkspace(t *testing.T, from, to, project, newProject string) string {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			if d.Name() == ".msx" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "msx.yaml" {
			data = bytes.Replace(data, []byte("project: "+project), []byte("project: "+newProject), 1)
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// running is msx started in the background.
type running struct {
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	done   chan struct{} // closed once it exited
}

// startMsx starts msx in dir; it is killed when the test ends.
func startMsx(t *testing.T, dir string, env []string, args ...string) *running {
	t.Helper()
	r := &running{cmd: exec.Command(msxBin, args...), stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	r.cmd.Dir = dir
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

// waitFor polls what msx printed on stderr until it contains s; it fails
// after timeout or when msx exits first.
func (r *running) waitFor(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(r.stderr.String(), s) {
		select {
		case <-r.done:
			if strings.Contains(r.stderr.String(), s) {
				return
			}
			t.Fatalf("msx exited before printing %q:\n%s", s, r.stderr.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q after %s:\n%s", s, timeout, r.stderr.String())
		}
	}
}

// containerCreated matches the progress line of a container created by up
// ("payments     created"), not that of a network or volume.
var containerCreated = regexp.MustCompile(`(?m)^(payments|catalog|orders|gateway) +created$`)

// waitForRe is waitFor with a regular expression.
func (r *running) waitForRe(t *testing.T, re *regexp.Regexp, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !re.MatchString(r.stderr.String()) {
		select {
		case <-r.done:
			if re.MatchString(r.stderr.String()) {
				return
			}
			t.Fatalf("msx exited before printing %s:\n%s", re, r.stderr.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s:\n%s", re, timeout, r.stderr.String())
		}
	}
}

// crashOnStart makes service svc panic ("e2e: boom") as soon as it starts,
// until the end of the (sub)test, which puts its main.go back.
func crashOnStart(t *testing.T, ws, svc string) {
	t.Helper()
	main := filepath.Join(ws, "services", svc, "main.go")
	orig, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(main, orig, 0o644); err != nil {
			t.Error(err)
		}
	})
	broken := strings.Replace(string(orig), "func main() {", "func main() {\n\tpanic(\"e2e: boom\")", 1)
	if err := os.WriteFile(main, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
}
