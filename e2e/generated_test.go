package e2e

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedWorkspaceBuildsVetsAndPasses is the proof that generated code
// is good: a workspace with a service of each database kind and each API
// (REST and GraphQL), each both alone and calling others of either API,
// and subscribers, must build, vet, be gofmt- and tidy-clean, pass its own
// tests under the race detector and pass staticcheck exactly as generated;
// the GraphQL code committed in it is what gqlgen and genqlient generate.
// One workspace for all, so that the platform's tests run once. Then a
// field of a REST callee's API type is renamed, and a field of a GraphQL
// callee's schema: each caller's build must fail, the contract checked by
// the compiler.
func TestGeneratedWorkspaceBuildsVetsAndPasses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("compiles the generated workspace and its dependencies; skipped with -short")
	}
	parent := t.TempDir()
	mustMsx(t, parent, nil, "init", "shop", "--module", e2eModule)
	ws := filepath.Join(parent, "shop")

	// An empty workspace (gateway and platform only) builds too, and its
	// go.mod and go.sum are exactly what go mod tidy would write.
	goCmd(t, ws, "build", "./...")
	goCmd(t, ws, "mod", "tidy", "-diff")

	mustMsx(t, ws, nil, "new", "service", "orders", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "catalog", "--db", "none")
	mustMsx(t, ws, nil, "new", "service", "payments", "--db", "postgres", "--depends-on", "orders")
	mustMsx(t, ws, nil, "new", "service", "order-items", "--db", "sqlite", "--depends-on", "orders,catalog", "--port", "9100",
		"--subscribes", "orders.item.created", "--subscribes", "payments.item.deleted")
	mustMsx(t, ws, nil, "new", "service", "ledger", "--db", "postgres")
	mustMsx(t, ws, nil, "new", "service", "notify", "--db", "none", "--depends-on", "payments,ledger")
	// GraphQL: each database kind, a REST service calling a GraphQL one, a
	// GraphQL one calling both kinds, one handling events.
	mustMsx(t, ws, nil, "new", "service", "products", "--api", "graphql", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "stock", "--db", "postgres", "--depends-on", "products")
	mustMsx(t, ws, nil, "new", "service", "search", "--api", "graphql", "--db", "none", "--depends-on", "products,stock")
	mustMsx(t, ws, nil, "new", "service", "reviews", "--api", "graphql", "--db", "postgres", "--depends-on", "search",
		"--subscribes", "products.item.created", "--subscribes", "stock.item.deleted")

	if out := runIn(t, ws, "gofmt", "-l", "."); out != "" {
		t.Errorf("generated code is not gofmt-clean:\n%s", out)
	}
	goCmd(t, ws, "build", "./...")
	goCmd(t, ws, "vet", "./...")
	goCmd(t, ws, "mod", "tidy", "-diff")
	out := goCmd(t, ws, "test", "-race", "-count=1", "./...")
	for _, pkg := range []string{"services/orders", "services/catalog", "services/payments", "services/order-items",
		"services/ledger", "services/notify", "services/orders/ordersapi", "gateway", "platform/messaging",
		"services/products", "services/products/productsapi", "services/stock", "services/search", "services/reviews",
		"platform/gql", "platform/service"} {
		if !strings.Contains(out, "ok  \t"+e2eModule+"/"+pkg) {
			t.Errorf("go test did not report %s as ok:\n%s", pkg, out)
		}
	}
	// go.mod and go.sum are complete as generated: building did not need to
	// edit them (-mod=readonly is the default, so a missing entry fails above).
	if _, err := os.Stat(filepath.Join(ws, "go.sum")); err != nil {
		t.Fatal(err)
	}
	if sc := staticcheckBin(t); sc != "" {
		if out := runIn(t, ws, sc, "./..."); out != "" {
			t.Errorf("staticcheck:\n%s", out)
		}
	}

	// The committed GraphQL code is what the generators write: running
	// them changes nothing.
	before := snapshotDir(t, filepath.Join(ws, "services"))
	goCmd(t, ws, "generate", "./services/...")
	if after := snapshotDir(t, filepath.Join(ws, "services")); !maps.Equal(before, after) {
		for p := range after {
			if before[p] != after[p] {
				t.Errorf("go generate changed %s: the committed generated code is not what gqlgen and genqlient write", p)
			}
		}
	}

	// The contract: rename a field of orders' API type, as an editor's
	// rename would in orders itself. orders builds; payments, which calls
	// orders, must not, and the compiler must say why.
	rename(t, filepath.Join(ws, "services", "orders", "ordersapi", "api.go"),
		"Items []Item `json:\"items\"`", "Entries []Item `json:\"entries\"`")
	rename(t, filepath.Join(ws, "services", "orders", "handlers.go"), "ItemList{Items: page", "ItemList{Entries: page")
	goCmd(t, ws, "build", "./services/orders/...")
	c := exec.Command("go", "build", "./services/payments")
	c.Dir, c.Env = ws, append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	b, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "services/payments") || !strings.Contains(string(b), "Items") {
		t.Errorf("payments still builds after orders' API renamed a field (err %v):\n%s", err, b)
	}

	// The GraphQL contract: rename a field in products' schema and in the
	// operations its callers send, and regenerate the client. stock, which
	// calls products, must no longer build, and the compiler must say what
	// is missing.
	api := filepath.Join(ws, "services", "products", "productsapi")
	rename(t, filepath.Join(api, "schema.graphqls"), "  name: String!", "  title: String!")
	rename(t, filepath.Join(api, "operations.graphql"), "id name createdAt", "id title createdAt")
	goCmd(t, ws, "generate", "./services/products/productsapi")
	c = exec.Command("go", "build", "./services/stock")
	c.Dir, c.Env = ws, append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	b, err = c.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "productsapi") || !strings.Contains(string(b), "Name") {
		t.Errorf("stock still builds after products' schema renamed a field (err %v):\n%s", err, b)
	}
}

// rename replaces each old string of file with its new one; each must occur.
func rename(t *testing.T, file string, oldNew ...string) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for i := 0; i < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("%s has no %q to rename", file, oldNew[i])
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// staticcheckBin returns the staticcheck that scripts/install-deps.sh built,
// or "" (skipping that check) outside CI when it is missing.
func staticcheckBin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("MSX_STATICCHECK")
	if p == "" {
		cache, err := os.UserCacheDir()
		if err == nil {
			p = filepath.Join(cache, "msx-tools", "staticcheck-v0.8.2", "staticcheck")
		}
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("staticcheck is missing (%v): run bash scripts/install-deps.sh", err)
		}
		t.Logf("staticcheck is missing; run bash scripts/install-deps.sh to check the generated code with it")
		return ""
	}
	return p
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
