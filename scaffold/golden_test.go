package scaffold

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the templates")

// TestGolden renders a workspace with one service of each database kind
// from the real templates and compares every file with testdata/golden, so
// that a template change shows up as a reviewable diff. Refresh with
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
