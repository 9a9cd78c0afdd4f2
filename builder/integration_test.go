package builder

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/msx-dev/msx/engine"
	"github.com/msx-dev/msx/progress"
)

// engineClient connects to the engine of the environment, or skips the test
// when there is none, unless CI=true, where a missing engine fails it.
func engineClient(t *testing.T) *client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	c, err := engine.NewClient()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = c.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Docker engine answers: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const helloMain = `package main

import (
	"fmt"
	"os"
)

func main() {
	home, _ := os.UserHomeDir()
	for _, dir := range []string{"/data", os.TempDir(), home} {
		f, err := os.CreateTemp(dir, "probe")
		if err != nil {
			fmt.Printf("%s not writable: %v\n", dir, err)
			os.Exit(1)
		}
		f.Close()
	}
	_, err := os.Stat("/etc/ssl/certs/ca-certificates.crt")
	fmt.Printf("hello uid=%d gid=%d home=%s certs=%v\n", os.Getuid(), os.Getgid(), home, err == nil)
}
`

func TestBuildHelloIntoEngine(t *testing.T) {
	api := engineClient(t)
	ctx := context.Background()

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/hello\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "hello", "main.go"), helloMain)

	project := "msxtest" + time.Now().Format("150405")
	var mu sync.Mutex
	var statuses []string
	start := time.Now()
	packing := map[string]time.Time{}
	var packTimes []string
	var stderr bytes.Buffer
	b := New(api, Options{
		Project:    project,
		Dir:        dir,
		MsxVersion: `test "v1"`,
		Progress: func(s progress.Step) {
			mu.Lock()
			defer mu.Unlock()
			statuses = append(statuses, fmt.Sprintf("%s: %s @%v", s.Name, s, time.Since(start).Round(time.Millisecond)))
			switch s.Kind {
			case progress.Packing:
				packing[s.Name] = time.Now()
			case progress.Built:
				packTimes = append(packTimes, fmt.Sprintf("%s %v", s.Name, time.Since(packing[s.Name]).Round(time.Millisecond)))
			}
		},
		Stderr: &stderr,
	})
	t.Cleanup(func() { removeProjectImages(t, api, project) })

	// twin is the same program under another name: another image on the
	// same base layer.
	start = time.Now()
	res, err := b.Build(ctx, []Target{{Name: "hello", Pkg: "./hello"}, {Name: "twin", Pkg: "./hello"}})
	if err != nil {
		t.Fatalf("cold build: %v\n%s", err, stderr.String())
	}
	t.Logf("cold compile+pack of two: %v (%v); packing: %v", time.Since(start), statuses, packTimes)
	if len(res) != 2 || !res[0].Rebuilt || res[0].Name != "hello" || !res[1].Rebuilt {
		t.Fatalf("cold build results = %+v, want hello and twin rebuilt", res)
	}
	twin, err := api.ImageInspect(ctx, res[1].Image)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}

	targets := []Target{{Name: "hello", Pkg: "./hello"}}
	if want := "msx-" + project + "/hello:" + res[0].Hash[:12]; res[0].Image != want {
		t.Errorf("image = %q, want %q", res[0].Image, want)
	}
	if !filepath.IsAbs(res[0].Binary) {
		t.Errorf("binary path %q is not absolute", res[0].Binary)
	}

	insp, err := api.ImageInspect(ctx, res[0].Image)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	for k, want := range map[string]string{
		LabelProject: project, LabelService: "hello", LabelContentHash: res[0].Hash, LabelVersion: `test "v1"`, LabelWorkspace: dir,
	} {
		if got := insp.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if insp.Config.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", insp.Config.User)
	}
	if got := strings.Join(insp.Config.Entrypoint, " "); got != "/msx-init /msx/app" {
		t.Errorf("entrypoint = %q, want /msx-init /msx/app", got)
	}
	if insp.Os != "linux" || !strings.Contains(insp.Architecture, "64") && insp.Architecture != "arm" {
		t.Errorf("platform = %s/%s", insp.Os, insp.Architecture)
	}
	if len(insp.RootFS.Layers) != 3 || len(twin.RootFS.Layers) != 3 || insp.RootFS.Layers[0] != twin.RootFS.Layers[0] ||
		insp.RootFS.Layers[1] != twin.RootFS.Layers[1] {
		t.Errorf("layers %v and %v: want three each, base and init shared", insp.RootFS.Layers, twin.RootFS.Layers)
	}

	// Run it with a fresh named volume on /data: it must be writable.
	out := runOnce(t, api, project, res[0].Image)
	if !strings.Contains(out, "hello uid=65532 gid=65532 home=/home/nonroot") {
		t.Errorf("container output = %q", out)
	}
	if b.readCACerts() != nil && !strings.Contains(out, "certs=true") {
		t.Errorf("no CA bundle in the image: %q", out)
	}

	start = time.Now()
	statuses = nil
	res2, err := b.Build(ctx, targets)
	if err != nil {
		t.Fatalf("warm build: %v", err)
	}
	t.Logf("warm no-op build: %v (%v)", time.Since(start), statuses)
	if res2[0].Rebuilt || res2[0].Image != res[0].Image {
		t.Errorf("warm build = %+v, want the same image, not rebuilt", res2[0])
	}

	// A change rebuilds and prunes the old image.
	writeFile(t, filepath.Join(dir, "hello", "main.go"), strings.Replace(helloMain, "hello uid", "hi uid", 1))
	start = time.Now()
	statuses, packTimes = nil, nil
	res3, err := b.Build(ctx, targets)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	// The base layer is in the engine already: what an edit or a new
	// service costs.
	t.Logf("rebuild after an edit: %v (%v); packing: %v", time.Since(start), statuses, packTimes)
	if !res3[0].Rebuilt || res3[0].Hash == res[0].Hash {
		t.Errorf("rebuild = %+v, want a new image", res3[0])
	}
	if _, err := api.ImageInspect(ctx, res[0].Image); err == nil {
		t.Errorf("old image %s was not pruned", res[0].Image)
	}

	// A compile error names the service and shows the compiler's output.
	writeFile(t, filepath.Join(dir, "hello", "main.go"), "package main\n\nfunc main() { undefinedThing() }\n")
	stderr.Reset()
	_, err = b.Build(ctx, targets)
	if err == nil || err.Error() != "service hello does not compile; fix the error above and run msx up again" {
		t.Errorf("compile error = %v", err)
	}
	if !strings.Contains(stderr.String(), "undefinedThing") {
		t.Errorf("compiler output not on stderr: %q", stderr.String())
	}
}

func runOnce(t *testing.T, api *client.Client, project, ref string) string {
	t.Helper()
	ctx := context.Background()
	vol := project + "-data"
	created, err := api.ContainerCreate(ctx, &container.Config{
		Image:  ref,
		Labels: map[string]string{LabelProject: project},
	}, &container.HostConfig{
		Binds:       []string{vol + ":/data"},
		NetworkMode: "none",
	}, nil, nil, project+"-hello")
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	defer func() {
		_ = api.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		_ = api.VolumeRemove(ctx, vol, true)
	}()
	waitC, errC := api.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := api.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start container: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case w := <-waitC:
		if w.StatusCode != 0 {
			t.Errorf("container exited %d", w.StatusCode)
		}
	case err := <-errC:
		t.Fatalf("wait: %v", err)
	case <-wctx.Done():
		t.Fatal("container did not exit within 30s")
	}
	logs, err := api.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	defer logs.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil {
		t.Fatalf("logs: %v", err)
	}
	return stdout.String() + stderr.String()
}

func removeProjectImages(t *testing.T, api *client.Client, project string) {
	ctx := context.Background()
	imgs, err := api.ImageList(ctx, image.ListOptions{Filters: projectFilter(project)})
	if err != nil {
		t.Errorf("list images: %v", err)
		return
	}
	for _, img := range imgs {
		if _, err := api.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("remove %s: %v", img.ID, err)
		}
	}
	left, err := api.ImageList(ctx, image.ListOptions{Filters: projectFilter(project)})
	if err == nil && len(left) != 0 {
		t.Errorf("%d images of project %s remain", len(left), project)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
