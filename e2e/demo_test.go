package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDemoBesideTheQuickStart runs scripts/demo.sh as a newcomer would
// before the README: the demo is a project of its own on a gateway port of
// its own, so the Quick start's msx init shop and msx up -d never meet it,
// and it says how it is stopped.
func TestDemoBesideTheQuickStart(t *testing.T) {
	t.Parallel()
	if testing.Short() || useStubWorkspace() {
		t.Skip("builds and runs the demo's workspace; skipped with -short or a stub workspace")
	}
	cli := requireDocker(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	qs := regexp.MustCompile(`(?m)^msx init (\S+) `).FindSubmatch(readme)
	if qs == nil {
		t.Fatal("the README's Quick start has no msx init line")
	}
	quickStart := string(qs[1])

	// The test's own project name, over the demo's, so that a demo a
	// person runs on this machine is never touched; msx.yaml still shows
	// the demo's own.
	project := uniqueProject(t)
	removeImages(t, cli, project)
	port := freePort(t)
	demo := filepath.Join(t.TempDir(), "msx-demo")
	env := []string{"MSX_PROJECT=" + project, "NO_COLOR=1"}
	t.Cleanup(func() { requireNothingLeft(t, cli, project, true) })
	cleanupDown(t, demo, env)

	c := exec.Command("bash", filepath.Join(root, "scripts", "demo.sh"))
	c.Env = append(os.Environ(), append(env, "MSX_DEMO_DIR="+demo, "MSX_DEMO_PORT="+strconv.Itoa(port), "MSX_GATEWAY_PORT=8080")...)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/demo.sh: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile(filepath.Join(demo, "msx.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(manifest), "\nproject: msx-demo\n") || strings.Contains(string(manifest), "\nproject: "+quickStart+"\n") {
		t.Errorf("the demo's project is the Quick start's %s, or not msx-demo:\n%s", quickStart, manifest)
	}
	if !strings.Contains(string(manifest), "\n  port: "+strconv.Itoa(port)+"\n") {
		t.Errorf("the demo's gateway is not on its own port %d:\n%s", port, manifest)
	}
	if !strings.Contains(string(out), "Stop it") || !strings.Contains(string(out), "-C "+demo+" down --volumes") {
		t.Errorf("the demo does not say how it is stopped:\n%s", out)
	}
	if code, body := httpGet("http://127.0.0.1:" + strconv.Itoa(port) + "/api/orders/healthz"); code != 200 {
		t.Errorf("the demo's gateway on %d: %d %s", port, code, body)
	}
}
