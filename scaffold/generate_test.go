package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/msxerr"
	"github.com/msx-dev/msx/templates"
)

// tinyTree is a template tree with the shape of the real one, small enough
// to read in a test.
var tinyTree = fstest.MapFS{
	"workspace/msx.yaml.tmpl": {Data: []byte("# keep me\nproject: {{.Project}}\nmodule: {{.Module}}\ngateway:\n  port: {{.GatewayPort}}\nservices: {}\n")},
	"workspace/go.mod.tmpl":   {Data: []byte("module {{.Module}}\n\ngo {{.GoVersion}}\n")},
	"service/main.go.tmpl": {Data: []byte(`package main

const name = {{goString .Name}}
{{range .Deps}}
const {{.VarName}}Env = {{goString .EnvVar}}
{{end}}
func main() {}
`)},
	"service/store_sqlite.go.tmpl": {Data: []byte(`{{if eq .DB "sqlite"}}package main{{end}}`)},
}

func initTiny(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shop")
	if _, err := Init(tinyTree, InitOptions{Dir: dir, Module: "example.com/shop"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNewServiceRegistersAndRenders(t *testing.T) {
	dir := initTiny(t)
	mf := filepath.Join(dir, devenv.FileName)
	if _, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "orders", DB: "sqlite"}); err != nil {
		t.Fatal(err)
	}
	res, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "order-items", DB: "none", DependsOn: []string{"orders"}})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, c := range res.Changes {
		paths = append(paths, string(c.Action)+" "+c.Path)
	}
	if got := strings.Join(paths, ","); got != "update msx.yaml,create services/order-items/main.go" {
		t.Fatalf("changes = %s", got)
	}
	main, _ := os.ReadFile(filepath.Join(dir, "services/order-items/main.go"))
	if !strings.Contains(string(main), `ordersEnv = "ORDERS_URL"`) {
		t.Fatalf("dependency not rendered:\n%s", main)
	}
	m, err := devenv.Load(mf)
	if err != nil {
		t.Fatal(err)
	}
	want := devenv.Service{Port: 8082, DB: "none", DependsOn: []string{"orders"}, Route: "/api/order-items/"}
	got := m.Services["order-items"]
	if got.Port != want.Port || got.DB != want.DB || got.Route != want.Route || strings.Join(got.DependsOn, ",") != "orders" {
		t.Fatalf("manifest entry = %+v, want %+v", got, want)
	}
	if b, _ := os.ReadFile(mf); !strings.HasPrefix(string(b), "# keep me") {
		t.Fatalf("manifest comment lost:\n%s", b)
	}
}

func TestNewServiceRefusesBadInputAndChangesNothing(t *testing.T) {
	dir := initTiny(t)
	mf := filepath.Join(dir, devenv.FileName)
	if _, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "orders", DB: "sqlite", Port: 9000}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "services", "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "services", "handmade"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "services", "handmade", "x.go"), []byte("package x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    ServiceOptions
		want string
	}{
		{"uppercase", ServiceOptions{Name: "Orders"}, "uppercase"},
		{"path", ServiceOptions{Name: "../x"}, "is a path"},
		{"keyword", ServiceOptions{Name: "func"}, "Go keyword"},
		{"reserved", ServiceOptions{Name: "gateway"}, "reserved"},
		{"another's database", ServiceOptions{Name: "orders-db"}, "collides with the names msx gives the database"},
		{"the broker", ServiceOptions{Name: "nats"}, "reserved"},
		{"the collector", ServiceOptions{Name: "collector"}, "reserved"},
		{"msx's own", ServiceOptions{Name: "msx-events"}, "collides"},
		{"exists", ServiceOptions{Name: "orders"}, "already exists"},
		{"bad db", ServiceOptions{Name: "pay", DB: "mysql"}, `"mysql" is not supported`},
		{"missing dep", ServiceOptions{Name: "pay", DependsOn: []string{"nope"}}, "dependency nope is not a service"},
		{"self dep", ServiceOptions{Name: "pay", DependsOn: []string{"pay"}}, "cannot depend on itself"},
		{"bad dep name", ServiceOptions{Name: "pay", DependsOn: []string{"../x"}}, "is a path"},
		{"port taken", ServiceOptions{Name: "pay", Port: 9000}, "already used by service orders"},
		{"gateway port", ServiceOptions{Name: "pay", Port: 8080}, "gateway's"},
		{"port range", ServiceOptions{Name: "pay", Port: 70000}, "not valid"},
		{"symlink escape", ServiceOptions{Name: "escape"}, "outside the workspace"},
		{"non-empty folder", ServiceOptions{Name: "handmade"}, "not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, dir)
			tt.o.ManifestPath = mf
			_, err := NewService(tinyTree, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if !equalSnapshots(before, snapshot(t, dir)) {
				t.Fatal("a refused generation changed the workspace")
			}
		})
	}
}

func TestNewServiceForceRegenerates(t *testing.T) {
	dir := initTiny(t)
	mf := filepath.Join(dir, devenv.FileName)
	if _, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "orders", DB: "sqlite"}); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "services/orders/main.go")
	if err := os.WriteFile(main, []byte("package main // edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "orders", DB: "sqlite", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Changes {
		if c.Path == "services/orders/main.go" && c.Action != Overwrite {
			t.Fatalf("main.go: %s, want overwrite", c.Action)
		}
		if c.Path == "msx.yaml" && c.Action != Unchanged {
			t.Fatalf("msx.yaml: %s, want unchanged (same settings, same port)", c.Action)
		}
	}
}

func TestInitRefusals(t *testing.T) {
	parent := t.TempDir()
	nonEmpty := filepath.Join(parent, "full")
	if err := os.MkdirAll(nonEmpty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nonEmpty, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    InitOptions
		want string
	}{
		{"non-empty", InitOptions{Dir: nonEmpty}, "not empty"},
		{"bad folder name", InitOptions{Dir: filepath.Join(parent, "My Shop")}, "--name"},
		{"bad module", InitOptions{Dir: filepath.Join(parent, "shop"), Module: "bad path!"}, "module path"},
		{"bad name", InitOptions{Dir: filepath.Join(parent, "shop"), Project: "func"}, "Go keyword"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, parent)
			_, err := Init(tinyTree, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !equalSnapshots(before, snapshot(t, parent)) {
				t.Fatal("a refused init changed the disk")
			}
		})
	}
}

func TestForceKeepsSettingsAndRemovesStaleFiles(t *testing.T) {
	dir := initTiny(t)
	mf := filepath.Join(dir, devenv.FileName)
	must := func(o ServiceOptions) *Result {
		t.Helper()
		o.ManifestPath = mf
		res, err := NewService(tinyTree, o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	must(ServiceOptions{Name: "orders", DB: "sqlite"})
	must(ServiceOptions{Name: "pay", DB: "sqlite", DependsOn: []string{"orders"}, DependsOnSet: true})
	// The user protects the route by hand.
	b, _ := os.ReadFile(mf)
	b = []byte(strings.Replace(string(b), "route: /api/pay/", "route: /api/pay/\n    protected: true", 1))
	if err := os.WriteFile(mf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(mf, 0o600); err != nil {
		t.Fatal(err)
	}

	// --force with nothing else given keeps db, dependencies, route and protection.
	must(ServiceOptions{Name: "pay", Force: true})
	m, err := devenv.Load(mf)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Services["pay"]; s.DB != "sqlite" || !s.Protected || strings.Join(s.DependsOn, ",") != "orders" || s.Port != 8082 {
		t.Fatalf("--force lost settings: %+v", s)
	}
	if st, _ := os.Stat(mf); st.Mode().Perm() != 0o600 {
		t.Fatalf("msx.yaml mode = %v, want 0600 kept", st.Mode().Perm())
	}

	// Switching the database removes the SQLite store the new settings no longer generate.
	res := must(ServiceOptions{Name: "pay", DB: "none", Force: true})
	var deleted []string
	for _, c := range res.Changes {
		if c.Action == Delete {
			deleted = append(deleted, c.Path)
		}
	}
	if strings.Join(deleted, ",") != "services/pay/store_sqlite.go" {
		t.Fatalf("deleted = %v", deleted)
	}
	if _, err := os.Stat(filepath.Join(dir, "services/pay/store_sqlite.go")); !os.IsNotExist(err) {
		t.Fatal("stale store_sqlite.go is still there")
	}

	// An edited file that would go stale is the user's: regeneration stops.
	must(ServiceOptions{Name: "pay", DB: "sqlite", Force: true})
	if err := os.WriteFile(filepath.Join(dir, "services/pay/store_sqlite.go"), []byte("package main // mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	_, err = NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "pay", DB: "none", Force: true})
	if err == nil || !strings.Contains(err.Error(), "store_sqlite.go was edited") {
		t.Fatalf("err = %v, want a refusal naming the edited file", err)
	}
	if !equalSnapshots(before, snapshot(t, dir)) {
		t.Fatal("refused regeneration changed the workspace")
	}
}

func TestSymlinkBelowServiceIsRefused(t *testing.T) {
	dir := initTiny(t)
	mf := filepath.Join(dir, devenv.FileName)
	if _, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	svc := filepath.Join(dir, "services", "orders")
	if err := os.RemoveAll(svc); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, svc); err != nil {
		t.Fatal(err)
	}
	_, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "orders", Force: true})
	if err == nil || !strings.Contains(err.Error(), "outside the workspace") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("msx wrote outside the workspace: %v", entries)
	}
	// The same through init --force.
	ws := filepath.Join(t.TempDir(), "si")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(ws, "nested")); err != nil {
		t.Fatal(err)
	}
	tree := fstest.MapFS{"workspace/nested/x.txt.tmpl": {Data: []byte("x")}, "workspace/msx.yaml.tmpl": tinyTree["workspace/msx.yaml.tmpl"]}
	if _, err := Init(tree, InitOptions{Dir: ws, Force: true, Module: "m"}); err == nil || !strings.Contains(err.Error(), "outside the workspace") {
		t.Fatalf("init --force err = %v, want a refusal", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("init wrote outside the workspace: %v", entries)
	}
}

func TestCollidingDependencyIdentifiers(t *testing.T) {
	dir := initTiny(t)
	mf := filepath.Join(dir, devenv.FileName)
	for _, n := range []string{"a1", "a-1"} {
		if _, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "c", DependsOn: []string{"a1", "a-1"}, DependsOnSet: true})
	if err == nil || !strings.Contains(err.Error(), "both become the Go type A1Client") {
		t.Fatalf("err = %v", err)
	}
}

func TestInitForceKeepsManifest(t *testing.T) {
	dir := initTiny(t)
	mf := filepath.Join(dir, devenv.FileName)
	if _, err := NewService(tinyTree, ServiceOptions{ManifestPath: mf, Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(tinyTree, InitOptions{Dir: dir, Force: true, Module: "example.com/shop"}); err != nil {
		t.Fatal(err)
	}
	m, err := devenv.Load(mf)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Services["orders"]; !ok {
		t.Fatal("init --force unregistered orders")
	}
}

func TestAddDependencyKeepsEditedFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	if _, err := Init(templates.FS, InitOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(dir, devenv.FileName)
	for _, n := range []string{"orders", "payments"} {
		if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: n, DB: devenv.DBNone}); err != nil {
			t.Fatal(err)
		}
	}
	handlers := filepath.Join(dir, "services/payments/handlers.go")
	edited := []byte("package main // edited by hand\n")
	if err := os.WriteFile(handlers, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	// A file the dependency does not change, edited: left as it is too.
	version := filepath.Join(dir, "services/payments/version.go")
	if err := os.WriteFile(version, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := AddDependency(templates.FS, mf, "payments", []string{"orders"}, false)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]Action{}
	for _, c := range res.Changes {
		actions[c.Path] = c.Action
	}
	if actions["services/payments/handlers.go"] != Kept || actions["services/payments/main.go"] != Overwrite || actions["msx.yaml"] != Update {
		t.Fatalf("actions = %v, want handlers.go kept, main.go overwritten, msx.yaml updated", actions)
	}
	if got, _ := os.ReadFile(handlers); string(got) != string(edited) {
		t.Fatal("the edited handlers.go was changed")
	}
	if got, _ := os.ReadFile(version); string(got) != string(edited) {
		t.Fatal("the edited version.go was restored")
	}
	if main, _ := os.ReadFile(filepath.Join(dir, "services/payments/main.go")); !strings.Contains(string(main), "ordersapi.NewClient") {
		t.Fatalf("main.go does not wire the orders client:\n%s", main)
	}
	m, err := devenv.Load(mf)
	if err != nil || !slices.Equal(m.Services["payments"].DependsOn, []string{"orders"}) {
		t.Fatalf("msx.yaml: %v, %v", m, err)
	}
	// orders -> payments would close a cycle: refused, nothing written.
	if _, err := AddDependency(templates.FS, mf, "orders", []string{"payments"}, false); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("AddDependency closing a cycle: %v", err)
	}
}

func TestAddSubscriptionToAnExistingService(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	if _, err := Init(templates.FS, InitOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(dir, devenv.FileName)
	for _, n := range []string{"orders", "payments"} {
		if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: n, DB: devenv.DBSQLite}); err != nil {
			t.Fatal(err)
		}
	}
	store := filepath.Join(dir, "services/payments/store.go")
	edited := []byte("package main // edited by hand\n")
	if err := os.WriteFile(store, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	// Twice the same subject, and again later: one subscription.
	for range 2 {
		if _, err := AddSubscription(templates.FS, mf, "payments", []string{"orders.item.created", "orders.item.created"}, false); err != nil {
			t.Fatal(err)
		}
	}
	m, err := devenv.Load(mf)
	if err != nil || !slices.Equal(m.Services["payments"].Subscribes, []string{"orders.item.created"}) {
		t.Fatalf("msx.yaml: %+v, %v", m.Services["payments"], err)
	}
	events, err := os.ReadFile(filepath.Join(dir, "services/payments/events.go"))
	if err != nil || !strings.Contains(string(events), "ordersapi.ItemCreated") {
		t.Fatalf("no typed handler stub for orders.item.created: %v\n%s", err, events)
	}
	if main, _ := os.ReadFile(filepath.Join(dir, "services/payments/main.go")); !strings.Contains(string(main), "handlers)") {
		t.Fatalf("main.go does not start the consumer with the handlers:\n%s", main)
	}
	if got, _ := os.ReadFile(store); string(got) != string(edited) {
		t.Fatal("the edited store.go was changed")
	}
	// A subject of no publisher is refused, and msx.yaml is left as it was.
	before, _ := os.ReadFile(mf)
	if _, err := AddSubscription(templates.FS, mf, "payments", []string{"billing.item.created"}, false); err == nil {
		t.Fatal("a subscription to a service that does not exist was accepted")
	}
	if after, _ := os.ReadFile(mf); string(after) != string(before) {
		t.Fatal("a refused subscription changed msx.yaml")
	}
}

func TestInitRefusesInsideAWorkspace(t *testing.T) {
	dir := initTiny(t)
	_, err := Init(tinyTree, InitOptions{Dir: filepath.Join(dir, "services", "inner")})
	if err == nil || !strings.Contains(err.Error(), "is inside the workspace") {
		t.Fatalf("Init inside a workspace: %v", err)
	}
}

// TestOneGoVersion keeps the README's Go requirement on the one source of
// the Go version, templates.GoVersion, that generated go.mod files and
// msx doctor read.
func TestOneGoVersion(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(templates.GoVersion, ".", 3)
	want := "Go (" + parts[0] + "." + parts[1] + " or newer)"
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not say %q; templates.GoVersion is %s", want, templates.GoVersion)
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "\ngo "+templates.GoVersion+"\n") {
		t.Errorf("msx's own go.mod does not say go %s", templates.GoVersion)
	}
}

func TestProjectName(t *testing.T) {
	if got, err := ProjectName("/tmp/ws/shop", ""); err != nil || got != "shop" {
		t.Errorf("folder shop: %q %v", got, err)
	}
	if got, err := ProjectName("/tmp/ws/My_Shop", "shop"); err != nil || got != "shop" {
		t.Errorf("--name shop over a bad folder name: %q %v", got, err)
	}
	_, err := ProjectName("/tmp/ws/My_Shop", "")
	var me *msxerr.Error
	if !errors.As(err, &me) || !strings.Contains(me.Msg, `"My_Shop"`) || me.Hint != "pass --name my-shop or another valid project name" {
		t.Errorf("bad folder name: %v, want it named with a suggestion", err)
	}
	if _, err := ProjectName("/tmp/ws/shop", "Bad"); err == nil || errors.As(err, &me) && strings.Contains(me.Msg, "folder") {
		t.Errorf("bad --name: %v, want the name rule", err)
	}
}
