package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const regenerate = "go run ./internal/gendocs (from the repository root) and commit docs/"

// TestDocsCurrent regenerates the command and configuration references and
// fails when the committed pages differ: the reference cannot drift from
// the binary or from devenv.
func TestDocsCurrent(t *testing.T) {
	tmp := t.TempDir()
	if err := writeDocs(tmp, filepath.Join("..", "..")); err != nil {
		t.Fatalf("generating: %v", err)
	}
	committed := filepath.Join("..", "..", "docs")
	want := files(t, filepath.Join(tmp, "commands"))
	got := files(t, filepath.Join(committed, "commands"))
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("docs/commands/%s is missing; run %s", name, regenerate)
		}
	}
	for _, name := range got {
		if !slices.Contains(want, name) {
			t.Errorf("docs/commands/%s documents a command that no longer exists; run %s", name, regenerate)
		}
	}
	for _, name := range want {
		same(t, filepath.Join(tmp, "commands", name), filepath.Join(committed, "commands", name), "docs/commands/"+name)
	}
	same(t, filepath.Join(tmp, "configuration.md"), filepath.Join(committed, "configuration.md"), "docs/configuration.md")
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func same(t *testing.T, generated, committed, name string) {
	t.Helper()
	want, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		return // reported as missing
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date; run %s", name, regenerate)
	}
}

// TestConfigReference checks what the derivation must find on today's
// tree: a key of each kind, its default and its variable, and the
// containers' environment.
func TestConfigReference(t *testing.T) {
	ref, err := configReference(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `gateway.port` | integer | `8080` | `MSX_GATEWAY_PORT` |",
		"| `services.NAME.route` | string | `/api/NAME/` |",
		"| `services.NAME.depends_on` | list of strings |",
		"| `images.postgres` | string | `postgres:16` | `MSX_IMAGES_POSTGRES` |",
		"| `NAME_URL` | `http://catalog:8082` | for each service NAME in `depends_on` |",
		"| `DATABASE_URL` |",
		"| `MSX_ROUTES` |",
	} {
		if !strings.Contains(string(ref), want) {
			t.Errorf("the reference lacks %q:\n%s", want, ref)
		}
	}
	// A variable set in the environment of the generator must not leak
	// into what it documents.
	t.Setenv("MSX_GATEWAY_PORT", "1234")
	again, err := configReference(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ref, again) {
		t.Error("the reference depends on MSX_* variables of the environment it is generated in")
	}
}

// TestRelease checks the man pages and completions the archives carry, and
// that two runs with the same date give the same bytes.
func TestRelease(t *testing.T) {
	date := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := writeRelease(dir, date); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"man/msx.1", "man/msx-up.1", "man/msx-new-service.1", "completions/msx.bash", "completions/_msx", "completions/msx.fish"} {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Errorf("no %s: %v", f, err)
			continue
		}
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same date", f)
		}
		if !bytes.Contains(x, []byte("msx")) {
			t.Errorf("%s does not mention msx", f)
		}
	}
	man, _ := os.ReadFile(filepath.Join(a, "man/msx-up.1"))
	if !bytes.Contains(man, []byte("Nov 2026")) {
		t.Errorf("msx-up.1 does not carry the given date:\n%.300s", man)
	}
	if err := run([]string{"-release", filepath.Join(t.TempDir(), "r"), "-date", ""}); err == nil || !strings.Contains(err.Error(), "-date") {
		t.Errorf("-release without a date: err = %v, want one that asks for -date", err)
	}
}
