package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
)

// probeResult is what the attacker probe (testdata/attacker) printed.
type probeResult struct {
	Status  int    `json:"status"`
	Body    string `json:"body"`
	Error   string `json:"error"`
	Connect string `json:"connect"`
	Pub     string `json:"pub"`
	Sub     string `json:"sub"`
	Sent    int    `json:"sent"`
}

// refused reports whether an HTTP attack got nowhere: no connection
// (the listener is not on the network) or 401/403.
func (r probeResult) refused() bool {
	return r.Error != "" || r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden
}

// attackerImage compiles the probe with CGO_ENABLED=0 for the engine's
// architecture and packs it alone into an image (FROM scratch, as msx
// packs services: no registry, no Dockerfile), labelled with the project
// so that the test's cleanup finds it.
func attackerImage(t *testing.T, cli *client.Client, project string) string {
	t.Helper()
	ctx := context.Background()
	info, err := cli.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	goarch, ok := builder.GoArch(info.Architecture)
	if !ok {
		t.Skipf("no GOARCH for the engine's architecture %s", info.Architecture)
	}
	bin := filepath.Join(t.TempDir(), "attacker")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/attacker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("compiling the attacker probe: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	for _, h := range []*tar.Header{
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		{Name: "attacker", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	ref := "msx-e2e-attacker:" + project
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &rootfs, SourceName: "-"}, ref, image.ImportOptions{
		Changes: []string{`ENTRYPOINT ["/attacker"]`, "USER 65534:65534", "LABEL " + devenv.LabelProject + "=" + project},
	})
	if err != nil {
		t.Fatalf("importing the attacker image: %v", err)
	}
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	return ref
}

// probe runs the attacker image once on the project's network with args,
// as a container an attacker holds would run (labelled with the project,
// so that nothing of it can outlive the test unnoticed), and returns what
// it printed. The container is removed before probe returns.
func probe(t *testing.T, cli *client.Client, img, project string, args ...string) probeResult {
	t.Helper()
	ctx := context.Background()
	created, err := cli.ContainerCreate(ctx,
		&container.Config{Image: img, Cmd: args, Labels: map[string]string{devenv.LabelProject: project, devenv.LabelService: "attacker"}},
		&container.HostConfig{ReadonlyRootfs: true, CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges"},
			Resources: container.Resources{Memory: 512 << 20}},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{devenv.NetworkName(project): {}}},
		nil, "")
	if err != nil {
		t.Fatalf("creating the attacker container: %v", err)
	}
	defer func() {
		if err := cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("removing the attacker container: %v", err)
		}
	}()
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("starting the attacker container: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	waitC, errC := cli.ContainerWait(wctx, created.ID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatalf("waiting for the attacker container: %v", err)
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, logs); err != nil {
		t.Fatal(err)
	}
	var r probeResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("attacker %v printed %q (stderr %q): %v", args, out.String(), errOut.String(), err)
	}
	return r
}

// publishedPort is the host port msx ps --json shows for a container port
// of a service, 0 when none.
func publishedPort(t *testing.T, ws string, env []string, service string, containerPort int) int {
	t.Helper()
	var list []struct {
		Service string `json:"service"`
		Ports   []struct {
			HostPort      int `json:"host_port"`
			ContainerPort int `json:"container_port"`
		} `json:"ports"`
	}
	if err := json.Unmarshal([]byte(mustMsx(t, ws, env, "ps", "--json").Stdout), &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		for _, p := range s.Ports {
			if s.Service == service && p.ContainerPort == containerPort {
				return p.HostPort
			}
		}
	}
	return 0
}

// rawControl names the first byte of s that a terminal would interpret
// (what cat -v would show as ^[ or M-^[), or "".
func rawControl(s string) string {
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' {
			return strconv.QuoteRune(r)
		}
	}
	return ""
}

// TestAttackerDocker plays issue 19's attacker: one container on a
// generated project's network (built here from a static Go probe), trying
// each attack from inside, and a client sending escape sequences through
// the gateway. Each case states what a careful reviewer expects: refused
// with 401/403, no connection, an authorization violation, a collector
// that stays up, no raw control byte on the developer's terminal; and the
// same legitimate requests, through the gateway with a key, still served.
func TestAttackerDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() || useStubWorkspace() {
		t.Skip("builds a generated workspace and runs it with an attacker beside it; skipped with -short or a stub workspace")
	}
	cli := requireDocker(t)
	nats := natsImage(t)
	project := "sanitize-" + uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1", "MSX_IMAGES_NATS=" + nats}
	parent := t.TempDir()
	// Cleanups run last first: down --volumes, then the images, then the
	// check that nothing labelled with the project remains.
	t.Cleanup(func() {
		requireNothingLeft(t, cli, project, true)
		imgs, err := cli.ImageList(context.Background(), image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", devenv.LabelProject+"="+project))})
		if err != nil || len(imgs) > 0 {
			t.Errorf("images of %s left behind: %v %v", project, imgs, err)
		}
	})
	removeImages(t, cli, project)
	img := attackerImage(t, cli, project)

	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	const ordersPort, ledgerPort = 8101, 8102
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite", "--port", strconv.Itoa(ordersPort))
	mustMsx(t, ws, nil, "new", "service", "ledger", "--db", "sqlite", "--port", strconv.Itoa(ledgerPort), "--subscribes", "orders.item.created")
	// orders is protected, with an API key where msx keeps secrets.
	editFile(t, filepath.Join(ws, "msx.yaml"), "    route: /api/orders/\n", "    route: /api/orders/\n    protected: true\n")
	const apiKey = "key-e2e-attacker-0123456789abcdef"
	if err := os.MkdirAll(filepath.Join(ws, ".msx", "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, ".msx", "secrets", "gateway-api-keys"), []byte("e2e:"+apiKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cleanupDown(t, ws, env)
	mustMsx(t, ws, env, "up", "-d")

	gw := "http://127.0.0.1:" + strconv.Itoa(port)
	withKey := func(method, url, body string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("X-Api-Key", apiKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, url, err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	legitimate := func(t *testing.T) {
		if code := withKey("POST", gw+"/api/orders/items", `{"name":"legit"}`); code != http.StatusCreated {
			t.Errorf("POST /api/orders/items with the key: %d, want 201", code)
		}
		if code := withKey("GET", gw+"/api/orders/items", ""); code != http.StatusOK {
			t.Errorf("GET /api/orders/items with the key: %d, want 200", code)
		}
		if code, _ := httpDo(t, "GET", gw+"/api/orders/items", ""); code != http.StatusUnauthorized {
			t.Errorf("GET /api/orders/items without a key: %d, want 401", code)
		}
		if code, _ := httpDo(t, "GET", gw+"/api/ledger/items", ""); code != http.StatusOK {
			t.Errorf("GET /api/ledger/items (public): %d, want 200", code)
		}
	}
	t.Run("legitimate requests through the gateway are served", legitimate)

	orders := "http://orders:" + strconv.Itoa(ordersPort)
	admin := "http://orders:" + strconv.Itoa(devenv.AdminPort)

	t.Run("a forged identity to a protected service is refused", func(t *testing.T) {
		for _, who := range []string{"e2e", "alice"} {
			r := probe(t, cli, img, project, "http", "GET", orders+"/items", "-H", "X-Msx-Identity: "+who)
			if !r.refused() {
				t.Errorf("GET %s/items with X-Msx-Identity: %s from another container: %+v, want 401/403 or no connection", orders, who, r)
			}
		}
		r := probe(t, cli, img, project, "http", "POST", orders+"/items", "-H", "X-Msx-Identity: e2e", "-H", "Content-Type: application/json", "-d", `{"name":"forged"}`)
		if !r.refused() {
			t.Errorf("POST %s/items as e2e from another container: %+v, want 401/403 or no connection", orders, r)
		}
	})

	t.Run("the admin listener takes no fault from the network", func(t *testing.T) {
		r := probe(t, cli, img, project, "http", "PUT", admin+"/debug/fault", "-H", "Content-Type: application/json", "-d", `{"errors":1,"latency":"0s"}`)
		if !r.refused() {
			t.Errorf("PUT %s/debug/fault from another container: %+v, want 401/403 or no connection", admin, r)
			// It took: clear it, so that the cases after this one see
			// their own effect.
			msx(t, ws, env, "fault", "orders", "clear")
		}
	})

	t.Run("pprof is not readable from the network", func(t *testing.T) {
		for _, path := range []string{"/debug/pprof/heap?debug=1", "/debug/pprof/cmdline"} {
			r := probe(t, cli, img, project, "http", "GET", admin+path)
			if !r.refused() && r.Status != http.StatusNotFound {
				t.Errorf("GET %s%s from another container: status %d, %q; want 401/403/404 or no connection", admin, path, r.Status, r.Body)
			}
		}
	})

	t.Run("the broker refuses a client without credentials", func(t *testing.T) {
		forged := `{"id":"forged-by-attacker","type":"item.created","source":"orders","time":"2026-01-01T00:00:00Z","data":{"id":999999,"name":"forged"}}`
		r := probe(t, cli, img, project, "nats", "nats:4222", "events.orders.item.created", forged)
		connected := r.Error == "" && strings.HasPrefix(r.Connect, "+OK")
		if connected && (!strings.HasPrefix(r.Pub, "-ERR") || !strings.HasPrefix(r.Sub, "-ERR")) {
			t.Errorf("NATS without credentials: connect %q, publish a forged events.orders.item.created %q, subscribe to events.> %q; want the connection refused or an authorization violation",
				r.Connect, r.Pub, r.Sub)
		}
	})

	t.Run("the collector survives a gzip bomb and a 31 MiB body", func(t *testing.T) {
		name := devenv.ContainerName(project, devenv.CollectorName)
		before, err := cli.ContainerInspect(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		otlp := "http://" + devenv.CollectorName + ":" + strconv.Itoa(devenv.CollectorPort) + "/v1/traces"
		for _, attack := range []string{"gzipbomb", "bigbody"} {
			r := probe(t, cli, img, project, attack, otlp)
			if r.Status != http.StatusRequestEntityTooLarge && r.Status != http.StatusBadRequest {
				t.Errorf("%s (%d bytes sent) to the collector: %+v, want 413 or 400", attack, r.Sent, r)
			}
		}
		// An OOM kill shows within seconds: watch that long for one.
		deadline := time.Now().Add(8 * time.Second)
		for {
			after, err := cli.ContainerInspect(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if after.State.OOMKilled || after.RestartCount != before.RestartCount || !after.State.Running || after.State.StartedAt != before.State.StartedAt {
				t.Fatalf("the collector went down: OOMKilled %v, restarts %d -> %d, running %v, started %s -> %s",
					after.State.OOMKilled, before.RestartCount, after.RestartCount, after.State.Running, before.State.StartedAt, after.State.StartedAt)
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code, body := tryGet("http://127.0.0.1:" + strconv.Itoa(publishedPort(t, ws, env, devenv.CollectorName, devenv.CollectorPort)) + "/healthz"); code != http.StatusOK {
			t.Errorf("the collector's /healthz after the attacks: %d %s", code, body)
		}
	})

	t.Run("published listeners answer only their own Host", func(t *testing.T) {
		for _, c := range []struct {
			service string
			port    int
			path    string
		}{
			{"orders", devenv.AdminPort, "/debug/breakers"},
			{devenv.CollectorName, devenv.CollectorPort, "/api/traces"},
			{devenv.KindNATS, devenv.NATS.MonitorPort, "/varz"},
		} {
			hp := publishedPort(t, ws, env, c.service, c.port)
			if hp == 0 {
				t.Errorf("%s publishes no port %d", c.service, c.port)
				continue
			}
			req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(hp)+c.path, nil)
			req.Host = "rebind.attacker.example"
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				continue // no answer at all is a refusal too
			}
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("%s's published port %d answers Host rebind.attacker.example on %s with %d; want it refused (DNS rebinding)", c.service, c.port, c.path, resp.StatusCode)
			}
		}
	})

	t.Run("escape sequences a client sends reach no terminal raw", func(t *testing.T) {
		seen := map[string]bool{}
		var list []struct {
			TraceID string `json:"trace_id"`
		}
		_ = json.Unmarshal([]byte(mustMsx(t, ws, env, "trace", "--json", "--last", "200").Stdout), &list)
		for _, s := range list {
			seen[s.TraceID] = true
		}
		evil := gw + "/api/orders/items/%1B%5D0;msx-e2e-pwned%07%1B%5B2J%C2%9B%E2%80%AE"
		withKey("GET", evil, "")
		// The trace holding the path, once the collector has it.
		var id string
		deadline := time.Now().Add(30 * time.Second)
		for id == "" && time.Now().Before(deadline) {
			_ = json.Unmarshal([]byte(mustMsx(t, ws, env, "trace", "--json", "--last", "200").Stdout), &list)
			for _, s := range list {
				if seen[s.TraceID] {
					continue
				}
				if strings.Contains(mustMsx(t, ws, env, "trace", s.TraceID, "--json").Stdout, "msx-e2e-pwned") {
					id = s.TraceID
					break
				}
				seen[s.TraceID] = true
			}
			if id == "" {
				time.Sleep(500 * time.Millisecond)
			}
		}
		if id == "" {
			t.Fatal("no trace of the request with escape sequences in its path")
		}
		outputs := map[string]string{
			"msx trace " + id: mustMsx(t, ws, env, "trace", id).Stdout,
			"msx trace":       mustMsx(t, ws, env, "trace").Stdout,
			"msx logs":        mustMsx(t, ws, env, "logs").Stdout,
		}
		for what, out := range outputs {
			if c := rawControl(out); c != "" {
				t.Errorf("%s prints %s raw (as cat -v shows it: %q)", what, c, out)
			}
		}
		if !strings.Contains(outputs["msx trace "+id], `\x1b]0;msx-e2e-pwned\x07\x1b[2J`) {
			t.Errorf("msx trace %s does not show the path escaped:\n%s", id, outputs["msx trace "+id])
		}
		// --json stays exact JSON: the same path, escaped as JSON.
		var tr struct {
			Spans []struct {
				Name  string `json:"name"`
				Attrs []struct {
					Key   string `json:"key"`
					Value string `json:"value"`
				} `json:"attributes"`
			} `json:"spans"`
		}
		js := mustMsx(t, ws, env, "trace", id, "--json").Stdout
		if err := json.Unmarshal([]byte(js), &tr); err != nil {
			t.Errorf("msx trace %s --json is not JSON: %v", id, err)
		}
		if c := rawControl(js); c != "" {
			t.Errorf("msx trace %s --json prints %s raw", id, c)
		}
		kept := false
		for _, sp := range tr.Spans {
			kept = kept || strings.Contains(sp.Name, "\x1b]0;msx-e2e-pwned\x07")
			for _, a := range sp.Attrs {
				kept = kept || strings.Contains(a.Value, "\x1b]0;msx-e2e-pwned\x07")
			}
		}
		if !kept {
			t.Errorf("msx trace %s --json does not hold the path as the client sent it:\n%s", id, js)
		}
	})

	t.Run("legitimate requests are still served after the attacks", legitimate)
}
