package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// TestHotSwapDocker is the inner loop on the real engine: an attached up
// watches the workspace; an edit of version.go is live through the gateway
// with the container's image unchanged; a broken build keeps the old
// version serving and shows the compiler's error; the fix recovers; two
// edit of platform/ alone rebuilds and swaps every program; two Ctrl-C at
// once exit with no error line; two up -d at once both succeed.
func TestHotSwapDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	cli := requireDocker(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1"}
	removeImages(t, cli, project)
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "none")
	mustMsx(t, ws, nil, "new", "service", "billing", "--db", "none")
	t.Cleanup(func() { requireNothingLeft(t, cli, project, true) }) // after the down below
	cleanupDown(t, ws, env)
	health := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/orders/healthz"
	version := filepath.Join(ws, "services", "orders", "version.go")
	setVersion := func(body string) {
		t.Helper()
		if err := os.WriteFile(version, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// servesVersion polls the gateway until it answers with v.
	servesVersion := func(up *running, v string, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		last := ""
		for time.Now().Before(deadline) {
			if code, body := httpGet(health); code == 200 && strings.Contains(body, `"version":"`+v+`"`) {
				return
			} else {
				last = strconv.Itoa(code) + " " + body
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("the gateway did not serve version %s within %s (last: %s):\n%s", v, timeout, last, up.stderr.String())
	}
	imageOf := func() (id, image string) {
		t.Helper()
		insp, err := cli.ContainerInspect(context.Background(), project+"-orders")
		if err != nil {
			t.Fatal(err)
		}
		return insp.ID, insp.Image
	}
	// startedAt is when the container last started: a swap restarts the
	// program inside it (msx-init), not the container.
	startedAt := func() string {
		t.Helper()
		insp, err := cli.ContainerInspect(context.Background(), project+"-orders")
		if err != nil {
			t.Fatal(err)
		}
		return insp.State.StartedAt
	}
	// swaps counts the swaps of service the plain output reported.
	swaps := func(up *running, service string) int {
		return len(regexp.MustCompile(`(?m)^`+service+` +\| msx: swapped in`).FindAllString(up.stderr.String(), -1))
	}
	// swapVolume is the container's own volume that holds its binary.
	swapVolume := func() string {
		t.Helper()
		insp, err := cli.ContainerInspect(context.Background(), project+"-orders")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range insp.Mounts {
			if m.Destination == "/msx" {
				return m.Name
			}
		}
		t.Fatalf("no volume at /msx: %+v", insp.Mounts)
		return ""
	}

	up := startMsx(t, ws, env, "up", "--no-tui")
	up.waitFor(t, "Ctrl-C to stop", 5*time.Minute)
	servesVersion(up, "0.1.0", 30*time.Second)
	id, img := imageOf()
	started := startedAt()

	t.Run("an edit is swapped in, the image unchanged", func(t *testing.T) {
		start := time.Now()
		setVersion("package main\n\nconst Version = \"0.2.0\"\n")
		servesVersion(up, "0.2.0", 3*time.Minute)
		t.Logf("edit to live: %s", time.Since(start).Round(time.Millisecond))
		if nid, nimg := imageOf(); nid != id || nimg != img {
			t.Errorf("container %s image %s became %s image %s: want the same container and image", id, img, nid, nimg)
		}
		// The prefix's width is that of the longest name (a collector may run).
		up.waitForRe(t, regexp.MustCompile(`(?m)^orders +\| msx: swapped in`), 30*time.Second)
		if s := startedAt(); s != started {
			t.Errorf("the container started again (%s, was %s): want only its program restarted", s, started)
		}
		// The image is packed after the swap, so that a later up finds it.
		deadline := time.Now().Add(2 * time.Minute)
		for !slices.ContainsFunc(serviceImages(t, cli, project, "orders"), func(i string) bool { return i != img }) {
			if time.Now().After(deadline) {
				t.Fatalf("no new image of orders after the swap: %v", serviceImages(t, cli, project, "orders"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("a broken build keeps the old version serving", func(t *testing.T) {
		setVersion("package main\n\nconst Version = \"0.3.0\" +\n")
		up.waitForRe(t, regexp.MustCompile(`services/orders/version.go:\d+:\d+: `), 3*time.Minute)
		up.waitFor(t, "the previous version keeps serving", 30*time.Second)
		servesVersion(up, "0.2.0", 5*time.Second)
	})

	t.Run("the fix recovers by itself", func(t *testing.T) {
		setVersion("package main\n\nconst Version = \"0.3.0\"\n")
		servesVersion(up, "0.3.0", 3*time.Minute)
	})

	t.Run("an edit of platform/ alone swaps every program", func(t *testing.T) {
		before := map[string]int{}
		for _, svc := range []string{"orders", "billing", "gateway"} {
			before[svc] = swaps(up, svc)
		}
		f := filepath.Join(ws, "platform", "logging", "logging.go")
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, append(src, "\n// Edited by TestHotSwapDocker.\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Minute)
		for _, svc := range []string{"orders", "billing", "gateway"} {
			for swaps(up, svc) == before[svc] {
				if time.Now().After(deadline) {
					t.Fatalf("%s was not swapped after an edit of platform/:\n%s", svc, up.stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		servesVersion(up, "0.3.0", 30*time.Second)
		if nid, _ := imageOf(); nid != id {
			t.Errorf("container %s became %s: want the same container", id, nid)
		}
	})

	t.Run("a saved msx.yaml is applied: a new service starts, routed", func(t *testing.T) {
		mustMsx(t, ws, env, "new", "service", "payments", "--db", "none")
		up.waitFor(t, "msx.yaml applied; added payments", 5*time.Minute)
		url := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/payments/healthz"
		deadline := time.Now().Add(time.Minute)
		for {
			code, body := httpGet(url)
			if code == 200 && strings.Contains(body, `"service":"payments"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the new service is not routed: %d %s\n%s", code, body, up.stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		servesVersion(up, "0.3.0", 30*time.Second)
	})

	t.Run("an invalid msx.yaml is one line and changes nothing", func(t *testing.T) {
		path := filepath.Join(ws, "msx.yaml")
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(slices.Clone(good), "bogus_key: 1\n"...), 0o644); err != nil {
			t.Fatal(err)
		}
		up.waitFor(t, "msx.yaml changed but is not valid, so nothing was applied", time.Minute)
		servesVersion(up, "0.3.0", 5*time.Second)
		if err := os.WriteFile(path, good, 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for strings.Count(up.stderr.String(), "msx: msx.yaml applied") < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the restored msx.yaml was not applied:\n%s", up.stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		servesVersion(up, "0.3.0", 30*time.Second)
	})

	t.Run("two Ctrl-C at once exit with no error line", func(t *testing.T) {
		up.cmd.Process.Signal(syscall.SIGINT)
		up.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-up.done:
		case <-time.After(30 * time.Second):
			up.cmd.Process.Kill()
			t.Fatalf("msx up did not exit 30s after two SIGINTs:\n%s", up.stderr.String())
		}
		if code := up.cmd.ProcessState.ExitCode(); code != 130 {
			t.Errorf("exit code %d, want 130", code)
		}
		out := up.stderr.String()
		_, afterStop, _ := strings.Cut(out, "stopping (Ctrl-C again to force)")
		if afterStop == "" {
			t.Fatalf("no graceful stop began:\n%s", out)
		}
		for _, l := range strings.Split(afterStop, "\n") {
			if strings.HasPrefix(l, "msx: ") && l != "msx: interrupted" {
				t.Errorf("an error line after two Ctrl-C: %q\n%s", l, up.stderr.String())
			}
		}
		cs, _, _ := labelled(t, cli, project)
		for _, s := range cs {
			if strings.HasSuffix(s, " running") {
				t.Errorf("left running: %s", s)
			}
		}
	})

	t.Run("two up -d at once both succeed", func(t *testing.T) {
		a := startMsx(t, ws, env, "up", "-d")
		b := startMsx(t, ws, env, "up", "-d")
		for _, r := range []*running{a, b} {
			select {
			case <-r.done:
			case <-time.After(5 * time.Minute):
				r.cmd.Process.Kill()
				t.Fatalf("up -d did not finish:\n%s", r.stderr.String())
			}
			if code := r.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("up -d exited %d:\n%s", code, r.stderr.String())
			}
		}
		// The lock makes one wait: the second one adopts what the first
		// started, running the version it swapped in last.
		if code, body := httpGet(health); code != 200 || !strings.Contains(body, `"version":"0.3.0"`) {
			t.Errorf("after two up -d: %d %s", code, body)
		}
	})

	t.Run("down removes the binary's volume with the container", func(t *testing.T) {
		vol := swapVolume()
		mustMsx(t, ws, env, "down")
		if _, err := cli.VolumeInspect(context.Background(), vol); err == nil {
			t.Errorf("volume %s of the swapped binary is left after down", vol)
		}
	})
}

// httpGet is httpDo for polling: an error is a status 0.
func httpGet(url string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serviceImages are the IDs of the images of one service of project.
func serviceImages(t *testing.T, cli *client.Client, project, service string) []string {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", "dev.msx.project="+project), filters.Arg("label", "dev.msx.service="+service))
	list, err := cli.ImageList(context.Background(), image.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range list {
		ids = append(ids, i.ID)
	}
	return ids
}
