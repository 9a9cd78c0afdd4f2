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
