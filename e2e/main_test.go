// Package e2e drives the real msx binary: scaffolding sessions written as
// testscript files, and the Docker engine on this machine.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// msxBin is the msx binary built once for the whole package.
var msxBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "msx-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	msxBin = filepath.Join(dir, "msx")
	if runtime.GOOS == "windows" {
		msxBin += ".exe"
	}
	build := exec.Command("go", "build", "-o", msxBin, "github.com/msx-dev/msx")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building msx:", err)
		return 1
	}
	code := m.Run()
	removeBuildStages()
	return code
}

// result is what one run of msx printed and how it ended.
type result struct {
	Stdout, Stderr string
	Code           int
}

// msx runs the binary in dir with args and extra environment, under a
// timeout, and returns what it printed.
func msx(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, msxBin, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running msx %v: %v", args, err)
	}
	return result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// mustMsx is msx that fails the test on a non-zero exit.
func mustMsx(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	r := msx(t, dir, env, args...)
	if r.Code != 0 {
		t.Fatalf("msx %v exited %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}
