package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pathWithoutGo is PATH without the folder of the go command: an msx run
// with it proves it did not need the Go toolchain.
func pathWithoutGo(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: %v", err)
	}
	goDir := filepath.Dir(goCmd)
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d != goDir {
			keep = append(keep, d)
		}
	}
	p := strings.Join(keep, string(os.PathListSeparator))
	for _, d := range keep {
		if _, err := os.Stat(filepath.Join(d, "go")); err == nil {
			t.Fatalf("go is also in %s: cannot take it off PATH", d)
		}
	}
	return "PATH=" + p
}
