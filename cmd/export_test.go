package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msx-dev/msx/iostreams"
)

// The gateway's keys are exported when .msx/secrets holds them; a project
// with protected routes and none is told so, and still exported.
// Both exports write the collector's source once, at the workspace root:
// not again under k8s/.
func TestExportsShareTheCollectorSource(t *testing.T) {
	dir := t.TempDir()
	manifest := "project: shop\nmodule: example.com/shop\ngateway:\n  port: 8080\nservices:\n" +
		"  orders:\n    port: 8081\n    db: none\n    route: /api/orders/\n"
	if err := os.WriteFile(filepath.Join(dir, "msx.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, df := range []string{"services/orders/Dockerfile", "gateway/Dockerfile"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(df)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, df), []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, kind := range []string{"compose", "k8s"} {
		io, out, _ := iostreams.Test()
		f := NewFactory(io)
		f.Dir = dir
		c := newExportCmd(f)
		c.SetArgs([]string{kind})
		c.SilenceErrors, c.SilenceUsage = true, true
		if err := c.Execute(); err != nil {
			t.Fatalf("export %s: %v", kind, err)
		}
		if kind == "k8s" && !strings.Contains(out.String(), "unchanged\t"+filepath.Join(dir, "collector", "Dockerfile")) {
			t.Errorf("export k8s does not find the collector's source the Compose export wrote:\n%s", out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "collector", "Dockerfile")); err != nil {
		t.Errorf("no collector source at the workspace root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "k8s", "collector")); err == nil {
		t.Error("export k8s wrote a second copy of the collector's source in k8s/collector")
	}
	readme, err := os.ReadFile(filepath.Join(dir, "k8s", "README.md"))
	if err != nil || !strings.Contains(string(readme), "docker build -t shop/collector collector") {
		t.Errorf("the k8s README does not build the collector from collector/ (%v):\n%s", err, readme)
	}
}

func TestExportGatewayKeys(t *testing.T) {
	dir := t.TempDir()
	manifest := "project: shop\nmodule: example.com/shop\ngateway:\n  port: 8080\nservices:\n" +
		"  orders:\n    port: 8081\n    db: none\n    route: /api/orders/\n    protected: true\n"
	if err := os.WriteFile(filepath.Join(dir, "msx.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	export := func() (string, string) {
		t.Helper()
		io, _, errOut := iostreams.Test()
		f := NewFactory(io)
		f.Dir = dir
		c := newExportCmd(f)
		c.SetArgs([]string{"k8s", "--force"})
		c.SilenceErrors, c.SilenceUsage = true, true
		if err := c.Execute(); err != nil {
			t.Fatal(err)
		}
		readme, err := os.ReadFile(filepath.Join(dir, "k8s", "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		return string(readme), errOut.String()
	}

	readme, stderr := export()
	if !strings.Contains(stderr, "protected routes of orders will refuse every request") ||
		!strings.Contains(stderr, ".msx/secrets/gateway-api-keys") {
		t.Errorf("no word of the missing key:\n%s", stderr)
	}
	if strings.Contains(readme, "gateway-") {
		t.Errorf("keys the workspace lacks are referenced:\n%s", readme)
	}

	secrets := filepath.Join(dir, ".msx", "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "gateway-api-keys"), []byte("ci:0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	readme, stderr = export()
	if strings.Contains(stderr, "refuse") {
		t.Errorf("a key is there, yet:\n%s", stderr)
	}
	want := "create secret generic gateway-api-keys --from-file=api-keys=.msx/secrets/gateway-api-keys"
	if !strings.Contains(readme, want) || strings.Contains(readme, "gateway-jwt") {
		t.Errorf("README does not say how to create exactly the key there (%s):\n%s", want, readme)
	}
	gw, err := os.ReadFile(filepath.Join(dir, "k8s", "base", "gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gw), "mountPath: /run/secrets/api-keys") || !strings.Contains(string(gw), "SECRETS_DIR: /run/secrets") {
		t.Errorf("the gateway does not read its key:\n%s", gw)
	}
}
