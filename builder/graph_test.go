package builder

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

// graphWorkspace is a small module shaped like a generated workspace: a
// platform package every service imports, orders with embedded
// migrations, checkout importing orders' API package, and a gateway that
// imports only platform.
func graphWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":                         "module example.com/shop\n\ngo 1.22\n",
		"go.sum":                         "",
		"msx.yaml":                       "project: shop\n",
		"platform/server/server.go":      "package server\n\nfunc Run() {}\n",
		"platform/server/server_test.go": "package server\n",
		"platform/log/log.go":            "package log\n\nfunc Init() {}\n",
		"services/orders/main.go": `package main

import (
	"embed"

	"example.com/shop/platform/log"
	"example.com/shop/platform/server"
)

//go:embed migrations/*.sql
var migrations embed.FS

func main() { log.Init(); server.Run(); _ = migrations }
`,
		"services/orders/migrations/001_items.sql": "create table items (id int);\n",
		"services/orders/README.md":                "orders\n",
		"services/orders/api/types.go":             "package api\n\ntype Item struct{}\n",
		"services/checkout/main.go": `package main

import (
	_ "example.com/shop/services/orders/api"
	"example.com/shop/platform/server"
)

func main() { server.Run() }
`,
		"gateway/main.go": `package main

import "example.com/shop/platform/server"

func main() { server.Run() }
`,
		"tools/gen/main.go": "package main\n\nfunc main() {}\n",
	}
	for rel, data := range files {
		writeFile(t, filepath.Join(dir, rel), data)
	}
	return dir
}

func TestAffectedMapsFilesToTargetsThroughThePackageGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	dir := graphWorkspace(t)
	g, err := LoadGraph(context.Background(), dir, []Target{
		{Name: "orders", Pkg: "./services/orders"},
		{Name: "checkout", Pkg: "./services/checkout"},
		{Name: "gateway", Pkg: "./gateway"},
	})
	if err != nil {
		t.Fatal(err)
	}
	abs := func(rel string) string { return filepath.Join(dir, rel) }
	for _, c := range []struct {
		changed []string
		want    []string
		replan  bool
	}{
		{[]string{"platform/server/server.go"}, []string{"checkout", "gateway", "orders"}, false},
		{[]string{"platform/log/log.go"}, []string{"orders"}, false},
		{[]string{"services/orders/main.go"}, []string{"orders"}, false},
		{[]string{"services/orders/api/types.go"}, []string{"checkout"}, false},
		{[]string{"services/orders/migrations/001_items.sql"}, []string{"orders"}, false},
		{[]string{"services/orders/migrations/002_new.sql"}, []string{"orders"}, false}, // a new migration
		{[]string{"services/orders/README.md"}, nil, false},
		{[]string{"platform/server/server_test.go"}, nil, false},
		{[]string{"tools/gen/main.go"}, nil, false},
		{[]string{"services/orders/new_handler.go"}, []string{"orders"}, false}, // a new file
		{[]string{"msx.yaml"}, nil, true},
		{[]string{"go.sum"}, []string{"checkout", "gateway", "orders"}, true},
		{[]string{"services/orders/main.go", "gateway/main.go", "services/orders/README.md"}, []string{"gateway", "orders"}, false},
	} {
		var paths []string
		for _, p := range c.changed {
			paths = append(paths, abs(p))
		}
		names, replan := g.Affected(paths)
		if !slices.Equal(names, c.want) || replan != c.replan {
			t.Errorf("Affected(%v) = %v, %v; want %v, %v", c.changed, names, replan, c.want, c.replan)
		}
	}
}

func TestEmbedPatterns(t *testing.T) {
	p := &graphPkg{dir: "/w/svc", embedPatterns: []string{"migrations/*.sql", "static", "all:assets"}}
	for file, want := range map[string]bool{
		"/w/svc/migrations/001.sql":   true,
		"/w/svc/migrations/001.txt":   false,
		"/w/svc/static/css/app.css":   true,
		"/w/svc/static/.hidden":       false,
		"/w/svc/assets/.keep":         true,
		"/w/svc/other/x.sql":          false,
		"/w/other/migrations/001.sql": false,
	} {
		if got := p.embeds(file); got != want {
			t.Errorf("embeds(%s) = %v, want %v", file, got, want)
		}
	}
}
