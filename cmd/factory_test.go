package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msx-dev/msx/builder"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/iostreams"
	"github.com/msx-dev/msx/msxdir"
	"github.com/msx-dev/msx/progress"
	"github.com/msx-dev/msx/runner"
	"github.com/msx-dev/msx/session"
)

const manifest = `project: shop
module: example.com/shop
gateway:
  port: 8080
services:
  orders: {port: 8081, db: sqlite, route: /api/orders/}
`

func writeManifest(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "msx.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestManifestEnvironmentOverrides(t *testing.T) {
	dir := writeManifest(t)
	io, _, _ := iostreams.Test()
	f := NewFactory(io)
	f.Dir = filepath.Join(dir)

	m, err := f.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Gateway.Port != 8080 || m.Project != "shop" {
		t.Fatalf("without overrides: port %d project %s", m.Gateway.Port, m.Project)
	}

	t.Setenv("MSX_GATEWAY_PORT", "9191")
	t.Setenv("MSX_PROJECT", "shop-two")
	t.Setenv("MSX_IMAGES_POSTGRES", "local/postgres:16")
	m, err = f.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Gateway.Port != 9191 || m.Project != "shop-two" || m.Image(&devenv.Postgres) != "local/postgres:16" {
		t.Fatalf("overrides not applied: %+v", m)
	}

	t.Setenv("MSX_GATEWAY_PORT", "http")
	if _, err := f.Manifest(); err == nil || !strings.Contains(err.Error(), "MSX_GATEWAY_PORT") {
		t.Fatalf("err = %v, want one naming MSX_GATEWAY_PORT", err)
	}
	// Two bad variables: the same one is named every time.
	t.Setenv("MSX_GATEWAY_RATE_BURST", "many")
	for range 20 {
		if _, err := f.Manifest(); err == nil || !strings.Contains(err.Error(), "MSX_GATEWAY_PORT") {
			t.Fatalf("err = %v, want the first bad variable in key order, MSX_GATEWAY_PORT", err)
		}
	}
	t.Setenv("MSX_GATEWAY_PORT", "")
	if _, err := f.Manifest(); err == nil || !strings.Contains(err.Error(), `MSX_GATEWAY_RATE_BURST is "many", not a whole number`) {
		t.Fatalf("err = %v, want a whole number asked of MSX_GATEWAY_RATE_BURST", err)
	}
	t.Setenv("MSX_GATEWAY_RATE_BURST", "")
	t.Setenv("MSX_PROJECT", "Bad")
	if _, err := f.Manifest(); err == nil || !strings.Contains(err.Error(), "uppercase") {
		t.Fatalf("err = %v, want the name rule", err)
	}
}

func TestManifestFromConfigFlagAndWalkUp(t *testing.T) {
	dir := writeManifest(t)
	io, _, _ := iostreams.Test()
	f := NewFactory(io)
	deep := filepath.Join(dir, "services", "orders")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	f.Dir = deep
	m, err := f.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir != dir {
		t.Fatalf("Dir = %s, want %s", m.Dir, dir)
	}
	f.Dir = t.TempDir()
	f.ConfigFile = filepath.Join(dir, "msx.yaml")
	if m, err = f.Manifest(); err != nil || m.Dir != dir {
		t.Fatalf("--config: %v %v", m, err)
	}
}

func TestEverySettingHasAnEnvironmentVariableAndFlagsWin(t *testing.T) {
	dir := writeManifest(t)
	io, _, _ := iostreams.Test()
	f := NewFactory(io)
	root := NewRootCmd(f)
	f.Dir = dir
	name := ""
	m0, err := f.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m0.ServiceNames() {
		name = n
	}
	if name == "" {
		t.Fatal("the test manifest has no service")
	}
	env := "MSX_SERVICES_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	t.Setenv(env+"_PORT", "9301")
	t.Setenv(env+"_DEPENDS_ON", "")
	t.Setenv(env+"_PROTECTED", "true")
	t.Setenv("MSX_GATEWAY_PORT", "9191")
	if err := root.PersistentFlags().Set("gateway-port", "9400"); err != nil {
		t.Fatal(err)
	}
	m, err := f.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Services[name]; s.Port != 9301 || !s.Protected {
		t.Errorf("%s: %+v, want port 9301 and protected from %s_*", name, s, env)
	}
	if m.Gateway.Port != 9400 {
		t.Errorf("gateway port %d, want 9400: --gateway-port wins over MSX_GATEWAY_PORT", m.Gateway.Port)
	}
}

// The production factory's constructors make the real collaborators, as
// the session expects them (it asks the runner and the builder for more
// than their interfaces say).
func TestFactoryMakesTheRealCollaborators(t *testing.T) {
	io, _, _ := iostreams.Test()
	f := NewFactory(io)
	reported := 0
	r, ok := f.Runner(nil, nil, func(progress.Step) { reported++ }).(*runner.Runner)
	if !ok || r.Progress == nil {
		t.Fatalf("Runner = %T, want a *runner.Runner reporting progress", r)
	}
	r.Progress(progress.Step{})
	if reported != 1 {
		t.Error("the runner's progress does not reach the report function")
	}
	if _, ok := f.Builder(nil, builder.Options{}).(session.Compiler); !ok {
		t.Error("the builder cannot compile alone (session.Compiler)")
	}
	if _, ok := f.Runner(nil, nil, nil).(session.StatusReader); !ok {
		t.Error("the runner does not read status for the session (session.StatusReader)")
	}
	dir := t.TempDir()
	if s, ok := f.Store(dir).(*msxdir.Store); !ok || s.Dir != dir {
		t.Errorf("Store = %#v, want the .msx of %s", f.Store(dir), dir)
	}
	if f.Clock.Now().IsZero() {
		t.Error("the clock has no time")
	}
}
