package watch

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBuiltInIgnoreRules(t *testing.T) {
	ig := &Ignore{}
	for rel, want := range map[string]bool{
		"services/orders/main.go":              false,
		"services/orders/migrations/001.sql":   false,
		"msx.yaml":                             false,
		"go.sum":                               false,
		".git/index":                           true,
		".msx/build/bin/orders":                true,
		"services/orders/.main.go.swp":         true,
		"services/orders/.main.go.swx":         true,
		"services/orders/4913":                 true,
		"services/orders/main.go~":             true,
		"services/orders/.#main.go":            true,
		"services/orders/#main.go#":            true,
		"services/orders/main.go___jb_tmp___":  false,
		"services/orders/___jb_old___":         true,
		"services/orders/main.go384719":        true,
		"services/orders/orders.test":          true,
		"services/orders/__debug_bin3814":      true,
		"gateway/node_modules/x/index.js":      true,
		"services/orders/handlers.go.gotmpl":   false,
		"services/orders/go.sum.tmp":           true,
		"services/orders/.goutputstream-ABCD1": true,
	} {
		if got := ig.Ignored(rel, false); got != want {
			t.Errorf("Ignored(%q) = %v, want %v", rel, got, want)
		}
	}
	if !ig.Ignored(".git", true) || !ig.Ignored(".msx", true) {
		t.Error(".git and .msx folders are not ignored")
	}
	if ig.Ignored("4913", true) {
		t.Error("a folder named 4913 is ignored")
	}
}

func TestMsxignorePatterns(t *testing.T) {
	ig, err := ParseIgnore([]string{
		"# generated files",
		"",
		"*.log",
		"/dist",
		"web/build/",
		"docs/**/*.png",
		"!keep.log",
		"tmp?/",
		`\#literal`,
		"**/fixtures",
		"[abc].txt",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"app.log", false, true},
		{"services/orders/app.log", false, true},
		{"services/orders/keep.log", false, false}, // negated later
		{"dist/app", false, true},                  // inside an anchored folder
		{"services/dist/app", false, false},        // anchored: only at the root
		{"web/build", true, true},
		{"web/build/index.html", false, true},
		{"web/build", false, false}, // a file: the pattern is for folders
		{"docs/a/b/c.png", false, true},
		{"docs/c.png", false, true},
		{"docs/c.jpg", false, false},
		{"tmp1/x.go", false, true},
		{"tmp12/x.go", false, false},
		{"#literal", false, true},
		{"a/b/fixtures/x.json", false, true},
		{"b.txt", false, true},
		{"d.txt", false, false},
		{"main.go", false, false},
	} {
		if got := ig.Ignored(c.rel, c.isDir); got != c.want {
			t.Errorf("Ignored(%q, dir=%v) = %v, want %v", c.rel, c.isDir, got, c.want)
		}
	}
}

func TestLoadIgnoreReadsTheWorkspaceFile(t *testing.T) {
	dir := t.TempDir()
	ig, err := LoadIgnore(dir)
	if err != nil || ig.Ignored("x.log", false) {
		t.Fatalf("no .msxignore: %v, ignored x.log", err)
	}
	if err := os.WriteFile(filepath.Join(dir, IgnoreFile), []byte("*.log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ig, err = LoadIgnore(dir)
	if err != nil || !ig.Ignored("x.log", false) {
		t.Fatalf(".msxignore with *.log: err %v, x.log not ignored", err)
	}
}
