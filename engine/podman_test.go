package engine

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// fakePodman answers as Podman's API service does for what the health
// transport uses: _ping, a container's inspection (Docker-compatible) and
// libpod's healthcheck, which turns the container healthy when its
// program answers (ok). Without podman set it answers as Docker, with no
// libpod header and no libpod API.
type fakePodman struct {
	podman bool
	mu     sync.Mutex
	ok     bool   // the health check command succeeds
	status string // the container's health status
	log    []map[string]any
	checks int // health checks run through the API
	hc     map[string]any
}

func (f *fakePodman) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Api-Version", "1.41")
	if f.podman {
		w.Header().Set("Libpod-Api-Version", "4.3.1")
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/_ping"):
		w.Write([]byte("OK"))
	case f.podman && r.Method == http.MethodGet && r.URL.Path == "/v4.3.1/libpod/containers/db/healthcheck":
		f.checks++
		if f.ok {
			f.status = "healthy"
		}
		f.log = append(f.log, map[string]any{"Start": time.Now().Format(time.RFC3339Nano), "End": time.Now().Format(time.RFC3339Nano)})
		json.NewEncoder(w).Encode(map[string]any{"Status": f.status})
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/containers/db/json"):
		json.NewEncoder(w).Encode(map[string]any{
			"Id":     "db",
			"Config": map[string]any{"Healthcheck": f.hc},
			"State":  map[string]any{"Running": true, "Status": "running", "Health": map[string]any{"Status": f.status, "Log": f.log}},
		})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakePodman) serve(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "msxp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "p.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(f)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return sock
}

func (f *fakePodman) counted() (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks, f.status
}

// connectTo connects as msx does to the engine at sock, through a Docker
// context: DOCKER_HOST would be read from the process environment.
func connectTo(t *testing.T, sock string) *client.Client {
	t.Helper()
	cfg := t.TempDir()
	handContext(t, cfg, "podman", "unix://"+sock, false, nil)
	c, err := connect(context.Background(), envOf(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "podman"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func healthOf(t *testing.T, sock string) string {
	t.Helper()
	c := connectTo(t, sock)
	insp, err := c.ContainerInspect(context.Background(), "db")
	if err != nil {
		t.Fatal(err)
	}
	return insp.State.Health.Status
}

func TestPodmanHealthCheckRunsOnInspect(t *testing.T) {
	f := &fakePodman{podman: true, ok: true, status: "starting",
		hc: map[string]any{"Test": []string{"CMD", "pg_isready"}, "Interval": int64(time.Hour)}}
	sock := f.serve(t)
	if got := healthOf(t, sock); got != "healthy" {
		t.Errorf("inspection says %q after the check ran: want healthy", got)
	}
	if n, _ := f.counted(); n != 1 {
		t.Errorf("%d checks ran: want 1", n)
	}
	// The check just ran and its interval is an hour: another client
	// (another msx command) reads its result instead of running it again.
	if got := healthOf(t, sock); got != "healthy" {
		t.Errorf("second inspection says %q", got)
	}
	if n, _ := f.counted(); n != 1 {
		t.Errorf("%d checks ran: want 1, the last one is fresh", n)
	}
}

func TestPodmanHealthCheckFailingKeepsStatus(t *testing.T) {
	f := &fakePodman{podman: true, ok: false, status: "starting",
		hc: map[string]any{"Test": []string{"CMD-SHELL", "pg_isready"}, "Interval": int64(time.Nanosecond)}}
	sock := f.serve(t)
	c := connectTo(t, sock)
	for i := 0; i < 3; i++ {
		insp, err := c.ContainerInspect(context.Background(), "db")
		if err != nil {
			t.Fatal(err)
		}
		if insp.State.Health.Status != "starting" || len(insp.State.Health.Log) != i+1 {
			t.Errorf("inspection %d: status %q with %d log entries, want starting with %d", i, insp.State.Health.Status, len(insp.State.Health.Log), i+1)
		}
		time.Sleep(time.Millisecond)
	}
	if n, _ := f.counted(); n != 3 {
		t.Errorf("%d checks ran over three inspections past the interval: want 3", n)
	}
}

func TestNoHealthCheckRunByMsx(t *testing.T) {
	for name, f := range map[string]*fakePodman{
		"docker": {podman: false, ok: true, status: "starting",
			hc: map[string]any{"Test": []string{"CMD", "true"}, "Interval": int64(time.Second)}},
		"no check": {podman: true, ok: true, status: "", hc: nil},
		"check NONE": {podman: true, ok: true, status: "",
			hc: map[string]any{"Test": []string{"NONE"}}},
		"ran by the engine": {podman: true, ok: true, status: "starting",
			hc:  map[string]any{"Test": []string{"CMD", "true"}, "Interval": int64(time.Hour)},
			log: []map[string]any{{"End": time.Now().Format(time.RFC3339Nano)}}},
	} {
		t.Run(name, func(t *testing.T) {
			want := f.status
			healthOf(t, f.serve(t))
			if n, status := f.counted(); n != 0 || status != want {
				t.Errorf("%d checks ran, status %q: want none run, %q", n, status, want)
			}
		})
	}
}

func TestInspectedContainer(t *testing.T) {
	for path, want := range map[string]string{
		"/v1.41/containers/db/json":         "db",
		"/containers/shop-orders-db/json":   "shop-orders-db",
		"/v1.41/containers/json":            "",
		"/v1.41/containers/db/logs":         "",
		"/v1.41/containers/db/archive/json": "",
		"/v1.41/images/db/json":             "",
	} {
		got, ok := inspectedContainer(path)
		if got != want || ok != (want != "") {
			t.Errorf("inspectedContainer(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

func TestRedialable(t *testing.T) {
	for host, want := range map[string]bool{
		"unix:///run/podman/podman.sock": true,
		"tcp://127.0.0.1:8888":           true,
		"ssh://core@podman-machine":      false,
		"npipe:////./pipe/docker_engine": false,
	} {
		if got := (Endpoint{Host: host}).redialable(); got != want {
			t.Errorf("redialable(%s) = %v, want %v", host, got, want)
		}
	}
	if (Endpoint{Host: "tcp://10.0.0.5:2376", tls: true}).redialable() {
		t.Error("a TLS endpoint is redialable: its streams would dial without TLS")
	}
}
