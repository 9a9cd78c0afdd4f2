package confine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRelative(t *testing.T) {
	for _, p := range []string{"", "/abs", "../x", "a/../../x", `a\b`, "a//b", "./a"} {
		if err := Relative(p); err == nil {
			t.Errorf("Relative(%q) = nil, want error", p)
		}
	}
	if err := Relative("services/orders/main.go"); err != nil {
		t.Error(err)
	}
}

func TestCheckerFollowsLinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "k8s")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "inner", "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "inner", "real"), filepath.Join(root, "inner", "link")); err != nil {
		t.Fatal(err)
	}
	inside := Checker(root, "the output folder")
	err := inside("k8s/orders.yaml")
	if err == nil || !strings.Contains(err.Error(), "outside the output folder") {
		t.Errorf("a link out of the root: %v", err)
	}
	for _, ok := range []string{"compose.yaml", "new/deeper/file", "inner/link/file"} {
		if err := inside(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := Checker(filepath.Join(root, "not", "yet"), "the output folder")("a/b"); err != nil {
		t.Errorf("a root still to be made: %v", err)
	}
}
