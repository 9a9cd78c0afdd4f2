package scaffold

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the templates")

// TestGolden renders a workspace with one service of each database kind
// and a GraphQL one from the real templates, and compares every file with
// testdata/golden, so that a template change shows up as a reviewable diff. Refresh with
// go test ./scaffold -run TestGolden -update.
func TestGolden(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	if _, err := Init(templates.FS, InitOptions{Dir: dir, Module: "example.com/shop"}); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(dir, devenv.FileName)
	for _, o := range []ServiceOptions{
		{Name: "orders", DB: devenv.DBSQLite},
		{Name: "catalog", DB: devenv.DBNone},
		{Name: "payments", DB: devenv.DBPostgres, DependsOn: []string{"orders", "catalog"}},
		{Name: "reviews", DB: devenv.DBSQLite, API: devenv.APIGraphQL, DependsOn: []string{"orders"}},
	} {
		o.ManifestPath = mf
		if _, err := NewService(templates.FS, o); err != nil {
			t.Fatal(err)
		}
	}
	got := snapshot(t, dir)
	golden := filepath.Join("testdata", "golden", "shop")
	if *update {
		if err := os.RemoveAll(golden); err != nil {
			t.Fatal(err)
		}
		for rel, data := range got {
			if rel[len(rel)-1] == '/' {
				continue
			}
			p := filepath.Join(golden, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := snapshot(t, golden)
	for rel, data := range got {
		if rel[len(rel)-1] == '/' {
			continue
		}
		w, ok := want[rel]
		switch {
		case !ok:
			t.Errorf("%s is generated but not in %s; run go test ./scaffold -run TestGolden -update", rel, golden)
		case w != data:
			t.Errorf("%s differs from its golden file; review the template change and run go test ./scaffold -run TestGolden -update", rel)
		}
	}
	for rel := range want {
		if _, ok := got[rel]; !ok && rel[len(rel)-1] != '/' {
			t.Errorf("%s is in %s but no longer generated; run with -update if that is intended", rel, golden)
		}
	}
}

// TestServicesAreLean holds generated services to the line budgets of lean
// services (issue 9): the service's own non-test Go, package main, under
// 250 lines with Postgres and one dependency and under 150 with no
// database; its API package, the contract callers import, under 70.
func TestServicesAreLean(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	if _, err := Init(templates.FS, InitOptions{Dir: dir, Module: "example.com/shop"}); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(dir, devenv.FileName)
	for _, o := range []ServiceOptions{
		{Name: "catalog", DB: devenv.DBNone},
		{Name: "payments", DB: devenv.DBPostgres, DependsOn: []string{"catalog"}},
	} {
		o.ManifestPath = mf
		if _, err := NewService(templates.FS, o); err != nil {
			t.Fatal(err)
		}
	}
	lines := func(glob string) int {
		files, err := filepath.Glob(filepath.Join(dir, glob))
		if err != nil || len(files) == 0 {
			t.Fatalf("no files match %s", glob)
		}
		n := 0
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n += strings.Count(string(data), "\n")
		}
		return n
	}
	for _, c := range []struct {
		glob string
		max  int
	}{
		{"services/catalog/*.go", 150},
		{"services/payments/*.go", 250},
		{"services/catalog/catalogapi/*.go", 70},
	} {
		if n := lines(c.glob); n >= c.max {
			t.Errorf("%s: %d lines, want under %d: move what is not the service's own into platform/", c.glob, n, c.max)
		}
	}
}

// TestGatewayNamesItsProject guards the gateway's package comment, which
// once named a fixed project ("ws2") whatever the workspace was called.
func TestGatewayNamesItsProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	if _, err := Init(templates.FS, InitOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "gateway", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(src), "// Command gateway is the API gateway of acme:") {
		t.Errorf("gateway/main.go does not name project acme:\n%.120s", src)
	}
}
