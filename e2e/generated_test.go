package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedWorkspaceBuildsVetsAndPasses is the proof that generated code
// is good: a workspace with one service of each database kind, with
// dependencies between them, must build, vet, be gofmt-clean and pass its
// own tests exactly as generated.
func TestGeneratedWorkspaceBuildsVetsAndPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the generated workspace and its dependencies; skipped with -short")
	}
	parent := t.TempDir()
	mustMsx(t, parent, nil, "init", "shop", "--module", "example.com/shop")
	ws := filepath.Join(parent, "shop")

	// An empty workspace (gateway and platform only) builds too.
	goCmd(t, ws, "build", "./...")

	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "catalog", "--db", "none")
	mustMsx(t, ws, nil, "new", "service", "payments", "--db", "postgres", "--depends-on", "orders")
	mustMsx(t, ws, nil, "new", "service", "order-items", "--db", "sqlite", "--depends-on", "orders,catalog", "--port", "9100",
		"--subscribes", "orders.item.created", "--subscribes", "payments.item.deleted")

	if out := runIn(t, ws, "gofmt", "-l", "."); out != "" {
		t.Errorf("generated code is not gofmt-clean:\n%s", out)
	}
	goCmd(t, ws, "build", "./...")
	goCmd(t, ws, "vet", "./...")
	out := goCmd(t, ws, "test", "-count=1", "./...")
	for _, pkg := range []string{"services/orders", "services/catalog", "services/payments", "services/order-items", "gateway", "platform/messaging"} {
		if !strings.Contains(out, "ok  \texample.com/shop/"+pkg) {
			t.Errorf("go test did not report %s as ok:\n%s", pkg, out)
		}
	}
	// go.mod and go.sum are complete as generated: building did not need to
	// edit them (-mod=readonly is the default, so a missing entry fails above).
	if _, err := os.Stat(filepath.Join(ws, "go.sum")); err != nil {
		t.Fatal(err)
	}
}

func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return runIn(t, dir, "go", args...)
}

func runIn(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	// The generated workspace is its own module; keep msx's GOFLAGS out.
	c.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out.String())
	}
	return out.String()
}
