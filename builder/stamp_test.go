package builder

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// countingGo is a go command that logs each run, then runs the real go.
func countingGo(t *testing.T) (cmd string, runs func() []string) {
	t.Helper()
	real, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "runs.log")
	cmd = filepath.Join(dir, "go")
	script := "#!/bin/sh\necho \"$*\" >> " + log + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(cmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cmd, func() []string {
		data, _ := os.ReadFile(log)
		// msx-init's own build (once, then read from .msx/build/init) is
		// not a build of the workspace.
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if !strings.Contains(l, filepath.Join(".msx", "build", "init")) {
				out = append(out, l)
			}
		}
		if out == nil {
			out = []string{""}
		}
		return out
	}
}

func TestOneGoBuildForAllTargetsThenNoToolchainUntilASourceChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go toolchain")
	}
	dir := graphWorkspace(t)
	goCmd, runs := countingGo(t)
	api := newFakeAPI()
	b := New(api, Options{Project: "shop", Dir: dir, MsxVersion: "1.2.3"})
	b.goCmd = goCmd
	b.caCerts = nil
	targets := []Target{
		{Name: "orders", Pkg: "./services/orders"},
		{Name: "checkout", Pkg: "./services/checkout"},
		{Name: "gateway", Pkg: "./gateway"},
	}
	build := func() []Result {
		t.Helper()
		res, err := b.Build(context.Background(), targets)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	first := build()
	if got := runs(); len(got) != 1 || !strings.Contains(got[0], "-o "+filepath.Join(dir, ".msx", "build", "bin")+"/ ./services/orders ./services/checkout ./gateway") ||
		!strings.Contains(got[0], "-trimpath -ldflags=-s -w") {
		t.Fatalf("go runs = %q, want one build of every target with msx's flags", got)
	}
	for _, r := range first {
		if _, err := os.Stat(r.Binary); err != nil || !r.Rebuilt {
			t.Errorf("%s: binary %s: %v, rebuilt %v", r.Name, r.Binary, err, r.Rebuilt)
		}
	}

	// Nothing changed, or only files no binary holds: no toolchain at all.
	writeFile(t, filepath.Join(dir, "services/orders/README.md"), "changed\n")
	writeFile(t, filepath.Join(dir, "platform/server/server_test.go"), "package server\n\n// changed\n")
	writeFile(t, filepath.Join(dir, "services/orders/.main.go.swp"), "x")
	second := build()
	if got := runs(); len(got) != 1 {
		t.Fatalf("go ran again with nothing changed: %q", got)
	}
	for i, r := range second {
		if r.Rebuilt || r.Image != first[i].Image || r.Binary != first[i].Binary {
			t.Errorf("stamped result %+v, want %+v not rebuilt", r, first[i])
		}
	}

	// Each input the binaries depend on is seen.
	for _, change := range []struct{ file, data string }{
		{"services/orders/api/types.go", "package api\n\ntype Item struct{ ID int }\n"},
		{"services/orders/migrations/002_new.sql", "create table x (id int);\n"}, // embedded
		{"go.sum", "\n"},
	} {
		n := len(runs())
		writeFile(t, filepath.Join(dir, change.file), change.data)
		build()
		if len(runs()) != n+1 {
			t.Errorf("after a change to %s, go ran %d times, want once", change.file, len(runs())-n)
		}
		build()
		if len(runs()) != n+1 {
			t.Errorf("after a change to %s, the second build ran go again", change.file)
		}
	}

	// Without a go command at all, a build with nothing changed still
	// succeeds: it needs none.
	b.goCmd = filepath.Join(t.TempDir(), "no-such-go")
	if _, err := b.Build(context.Background(), targets); err != nil {
		t.Fatalf("without a go command: %v", err)
	}
	b.goCmd = goCmd

	// An image gone from the engine: go build decides again.
	n := len(runs())
	api.mu.Lock()
	delete(api.images, first[2].Image)
	api.mu.Unlock()
	build()
	if len(runs()) != n+1 {
		t.Errorf("with an image gone, go ran %d times, want once", len(runs())-n)
	}

	// A new go command is a different build.
	n = len(runs())
	script, err := os.ReadFile(goCmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goCmd, append(script, "# upgraded\n"...), 0o755); err != nil {
		t.Fatal(err)
	}
	build()
	if len(runs()) != n+1 {
		t.Errorf("after a go upgrade, go ran %d times, want once", len(runs())-n)
	}

	// A different msx version is a different build.
	n = len(runs())
	b.opts.MsxVersion = "1.2.4"
	build()
	if len(runs()) != n+1 {
		t.Errorf("after an msx upgrade, go ran %d times, want once", len(runs())-n)
	}
}

func TestNoStampWhenGoModReplacesWithALocalFolder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/w\n\ngo 1.22\n\nreplace example.com/lib => ../lib\n")
	if _, ok := sourceFiles(dir); ok {
		t.Error("a local replace was taken for a workspace whose sources msx can hash")
	}
	writeFile(t, filepath.Join(dir, "go.mod"), "module example.com/w\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "a", "a.go"), "package a\n\n//go:embed \"static\" data/*.txt\nvar x string\n")
	writeFile(t, filepath.Join(dir, "a", "static", "index.html"), "x")
	writeFile(t, filepath.Join(dir, "a", "data", "1.txt"), "x")
	writeFile(t, filepath.Join(dir, "a", "data", "1.md"), "x")
	writeFile(t, filepath.Join(dir, "a", "a_test.go"), "package a\n")
	writeFile(t, filepath.Join(dir, "testdata", "x.go"), "package x\n")
	files, ok := sourceFiles(dir)
	want := []string{"a/a.go", "a/data/1.txt", "a/static/index.html", "go.mod"}
	if !ok || strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("sourceFiles = %v, %v; want %v", files, ok, want)
	}
}
