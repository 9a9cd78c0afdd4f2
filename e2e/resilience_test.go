package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/msx-dev/msx/devenv"
)

type psEntry struct {
	Service  string `json:"service"`
	AdminURL string `json:"admin_url"`
	Ports    []struct {
		ContainerPort int `json:"container_port"`
	} `json:"ports"`
	Breakers map[string]string `json:"breakers"`
	Faults   *struct {
		Errors float64 `json:"errors"`
	} `json:"faults"`
}

func psJSON(t *testing.T, ws string, env []string) map[string]psEntry {
	t.Helper()
	var list []psEntry
	if err := json.Unmarshal([]byte(mustMsx(t, ws, env, "ps", "--json").Stdout), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]psEntry{}
	for _, e := range list {
		out[e.Service] = e
	}
	return out
}

// TestResilienceDocker runs a generated workspace on the real engine: only
// the gateway is published, containers are hardened, application errors
// never open the gateway's breaker, msx fault errors trips the caller's
// client breaker and msx ps shows it, and a protected service's data is
// not readable through a public dependent.
func TestResilienceDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() || useStubWorkspace() {
		t.Skip("builds a generated workspace and runs it; skipped with -short or a stub workspace")
	}
	cli := requireDocker(t)
	project := uniqueProject(t)
	removeImages(t, cli, project)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1"}
	parent := t.TempDir()
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "none")
	mustMsx(t, ws, nil, "new", "service", "catalog", "--db", "none", "--depends-on", "orders")
	// orders is protected: only an authenticated caller may read it.
	manifest := filepath.Join(ws, "msx.yaml")
	editFile(t, manifest, "    route: /api/orders/\n", "    route: /api/orders/\n    protected: true\n")
	// A short upstream timeout, so that a paused service trips the
	// gateway's breaker within the test.
	editFile(t, manifest, "gateway:\n", "gateway:\n  upstream_timeout: 500ms\n")
	// An API key for the protected routes, kept where msx keeps secrets:
	// .msx/secrets, 0700 and 0600.
	const apiKey = "key-e2e-0123456789abcdef"
	if err := os.MkdirAll(filepath.Join(ws, ".msx", "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, ".msx", "secrets", "gateway-api-keys"), []byte("e2e:"+apiKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: down, then the check that nothing is left.
	t.Cleanup(func() { requireNothingLeft(t, cli, project, true) })
	cleanupDown(t, ws, env)

	mustMsx(t, ws, env, "up", "-d")
	gw := "http://127.0.0.1:" + strconv.Itoa(port)

	t.Run("only the gateway's API port is published", func(t *testing.T) {
		for name, e := range psJSON(t, ws, env) {
			for _, p := range e.Ports {
				// Beside the admin listeners: the trace collector's query
				// API, which msx trace reads.
				if p.ContainerPort != 9901 && name != "gateway" && !(name == "collector" && p.ContainerPort == devenv.CollectorPort) {
					t.Errorf("%s publishes container port %d", name, p.ContainerPort)
				}
			}
		}
	})

	t.Run("docker inspect shows the hardening", func(t *testing.T) {
		list, err := cli.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "dev.msx.project="+project))})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			insp, err := cli.ContainerInspect(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			h := insp.HostConfig
			// The collector is no service binary: msx waits on its /healthz
			// rather than a Docker health check.
			collector := c.Labels[devenv.LabelRole] == devenv.RoleCollector
			if !h.ReadonlyRootfs || len(h.CapDrop) != 1 || h.CapDrop[0] != "ALL" || h.Memory == 0 || h.PidsLimit == nil ||
				h.RestartPolicy.Name != "on-failure" || h.Tmpfs["/tmp"] == "" || !strings.Contains(strings.Join(h.SecurityOpt, ","), "no-new-privileges") ||
				(!collector && (insp.Config.Healthcheck == nil || insp.Config.Healthcheck.Test[0] != "CMD")) {
				t.Errorf("%s: not hardened: %+v", insp.Name, h)
			}
		}
	})

	t.Run("the protected dependency's data is refused through a public dependent", func(t *testing.T) {
		if code, _ := httpDo(t, "GET", gw+"/api/orders/items", ""); code != 401 {
			t.Errorf("GET /api/orders/items unauthenticated: %d, want 401", code)
		}
		// The key from .msx/secrets reached the gateway as a file.
		req, _ := http.NewRequest("GET", gw+"/api/orders/items", nil)
		req.Header.Set("X-Api-Key", apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET /api/orders/items with the API key from .msx/secrets: %d, want 200", resp.StatusCode)
		}
		insp, err := cli.ContainerInspect(context.Background(), project+"-gateway")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.Join(insp.Config.Env, " "), apiKey) {
			t.Error("the API key is in the gateway's environment")
		}
		code, body := httpDo(t, "GET", gw+"/api/catalog/upstream", "")
		if code != 200 || !strings.Contains(body, `"orders":{"error"`) {
			t.Errorf("GET /api/catalog/upstream: %d %s, want orders refused", code, body)
		}
	})

	t.Run("application errors do not open the gateway's breaker; they trip the caller's", func(t *testing.T) {
		if r := mustMsx(t, ws, env, "fault", "orders", "errors", "100%"); !strings.Contains(r.Stdout, "errors 100%") {
			t.Errorf("msx fault: %q", r.Stdout)
		}
		// orders' 500s are answers: catalog's /upstream says so with 200 until
		// its own breaker opens, then that orders is unavailable (503).
		for i := 0; i < 10; i++ {
			if code, body := httpDo(t, "GET", gw+"/api/catalog/upstream", ""); code != 200 && code != 503 {
				t.Fatalf("catalog /upstream: %d %s, want 200 (orders' error inside) or 503", code, body)
			}
			httpDo(t, "GET", gw+"/api/orders/items", "")
		}
		// With catalog's breaker open: 503 with Retry-After, passed on so
		// that the gateway's breaker does not count catalog as down.
		resp, err := http.Get(gw + "/api/catalog/upstream")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("catalog /upstream with its breaker open: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		ps := psJSON(t, ws, env)
		if ps["catalog"].Breakers["orders"] != "open" {
			t.Errorf("catalog's breakers %v, want orders open", ps["catalog"].Breakers)
		}
		if ps["orders"].Faults == nil || ps["orders"].Faults.Errors != 1 {
			t.Errorf("ps does not show the fault: %+v", ps["orders"].Faults)
		}
		for name, st := range ps["gateway"].Breakers {
			if st != "closed" {
				t.Errorf("gateway breaker %s is %s after application errors", name, st)
			}
		}
		plain := mustMsx(t, ws, env, "ps").Stdout
		if !strings.Contains(plain, "orders:open") {
			t.Errorf("msx ps does not show the open breaker:\n%s", plain)
		}
		mustMsx(t, ws, env, "fault", "orders", "clear")
	})

	t.Run("pause: timeouts open the gateway's breaker, then fast 503s; resume closes it", func(t *testing.T) {
		mustMsx(t, ws, env, "fault", "catalog", "pause")
		resumed := false
		defer func() {
			if !resumed {
				msx(t, ws, env, "fault", "catalog", "resume")
			}
		}()
		for i := 0; i < 5; i++ { // the gateway's breaker trips after 5 failures in a row
			if code, _ := httpDo(t, "GET", gw+"/api/catalog/items", ""); code != 504 {
				t.Fatalf("request %d to a paused service: %d, want 504", i, code)
			}
		}
		start := time.Now()
		code, _ := httpDo(t, "GET", gw+"/api/catalog/items", "")
		if took := time.Since(start); code != 503 || took > 250*time.Millisecond {
			t.Errorf("with the breaker open: %d in %v, want a fast 503", code, took)
		}
		if st := psJSON(t, ws, env)["gateway"].Breakers["catalog"]; st != "open" {
			t.Errorf("ps shows the gateway's catalog breaker %q, want open", st)
		}
		mustMsx(t, ws, env, "fault", "catalog", "resume")
		resumed = true
		deadline := time.Now().Add(30 * time.Second) // the breaker's cool-down is 10s
		for {
			if code, _ := httpDo(t, "GET", gw+"/api/catalog/items", ""); code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("catalog still refused 30s after resume")
			}
			time.Sleep(250 * time.Millisecond)
		}
		if st := psJSON(t, ws, env)["gateway"].Breakers["catalog"]; st != "closed" {
			t.Errorf("after resume, ps shows the breaker %q, want closed", st)
		}
	})

	t.Run("latency raises the route's p50 by about that much", func(t *testing.T) {
		p50 := func() time.Duration {
			var d []time.Duration
			for i := 0; i < 11; i++ {
				start := time.Now()
				if code, _ := httpDo(t, "GET", gw+"/api/catalog/items", ""); code != 200 {
					t.Fatalf("GET: %d", code)
				}
				d = append(d, time.Since(start))
			}
			slices.Sort(d)
			return d[len(d)/2]
		}
		before := p50()
		mustMsx(t, ws, env, "fault", "catalog", "latency", "300ms")
		after := p50()
		mustMsx(t, ws, env, "fault", "catalog", "clear")
		// A lower bound only: the injected sleep guarantees it, whatever
		// the machine's load.
		if after-before < 250*time.Millisecond {
			t.Errorf("p50 %v before, %v with 300ms of latency", before, after)
		}
	})

	t.Run("the admin listener wants the token and its own Host", func(t *testing.T) {
		admin := psJSON(t, ws, env)["orders"].AdminURL
		if code, _ := httpDo(t, "PUT", admin+"/debug/fault", `{"errors":1}`); code != 401 {
			t.Errorf("PUT /debug/fault without the token: %d, want 401", code)
		}
		if code, _ := httpDo(t, "GET", admin+"/debug/pprof/cmdline", ""); code != 401 {
			t.Errorf("GET /debug/pprof/cmdline without the token: %d, want 401", code)
		}
		if code, body := adminGet(t, ws, admin+"/debug/pprof/cmdline"); code != 200 {
			t.Errorf("GET /debug/pprof/cmdline with the token: %d %s", code, body)
		}
		req, _ := http.NewRequest("GET", admin+"/metrics", nil)
		req.Host = "rebound.example"
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("GET /metrics with Host rebound.example: %v %v, want 421", resp, err)
		} else {
			resp.Body.Close()
		}
		if code, _ := httpDo(t, "GET", admin+"/metrics", ""); code != 200 {
			t.Errorf("GET /metrics on 127.0.0.1: %d", code)
		}
	})

	t.Run("kill: the service is started again, as after a crash", func(t *testing.T) {
		if r := mustMsx(t, ws, env, "fault", "catalog", "kill"); !strings.Contains(r.Stdout, "started again") {
			t.Errorf("msx fault kill: %q", r.Stdout)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if code, _ := httpDo(t, "GET", gw+"/api/catalog/items", ""); code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("catalog does not answer 30s after msx fault kill")
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
}

// editFile replaces the one occurrence of old in the file at path.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("%s does not hold %q once:\n%s", path, old, b)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
