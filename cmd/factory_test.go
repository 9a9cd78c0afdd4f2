package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/iostreams"
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
	t.Setenv("MSX_GATEWAY_PORT", "")
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
