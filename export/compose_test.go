package export

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/msx-dev/msx/devenv"
)

func TestComposeGolden(t *testing.T) {
	p := workspace(t, "/src/shop")
	files, err := Compose(p, ComposeOptions{OutDir: "/src/shop"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "compose", files)
	again, _ := Compose(workspace(t, "/src/shop"), ComposeOptions{OutDir: "/src/shop"})
	if !bytes.Equal(files[0].Data, again[0].Data) {
		t.Error("two exports of the same plan differ")
	}
}

// TestComposeLoads passes the export through Compose v2's own loader,
// with its consistency checks, and checks what it understood.
func TestComposeLoads(t *testing.T) {
	dir := t.TempDir()
	p := workspace(t, dir)
	out := filepath.Join(dir, "deploy")
	files, err := Compose(p, ComposeOptions{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(out, files, false); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Secrets() {
		path := filepath.Join(dir, ".msx", "secrets", s)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	proj, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  out,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(out, ComposeFile)}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SetProjectName("shop", true) })
	if err != nil {
		t.Fatalf("Compose's loader refuses the export: %v", err)
	}
	if len(proj.Services) != 5 {
		t.Fatalf("services: %v", proj.ServiceNames())
	}
	pay := proj.Services["payments"]
	if pay.Build == nil || pay.Build.Context != dir || pay.Build.Dockerfile != "services/payments/Dockerfile" {
		t.Errorf("payments build: %+v", pay.Build)
	}
	if c := pay.DependsOn["payments-db"].Condition; c != "service_healthy" {
		t.Errorf("payments waits on its database with %q", c)
	}
	if _, ok := pay.Networks["payments-db"]; !ok {
		t.Error("payments is not on its database's network")
	}
	for name, s := range proj.Services {
		if _, ok := s.Networks["payments-db"]; ok && name != "payments" && name != "payments-db" {
			t.Errorf("%s joins the private network of payments' database", name)
		}
		if !s.ReadOnly || len(s.CapDrop) != 1 || s.CapDrop[0] != "ALL" || s.MemLimit == 0 || s.PidsLimit == 0 {
			t.Errorf("%s is not hardened: %+v", name, s)
		}
		for _, port := range s.Ports {
			if port.HostIP != devenv.LoopbackIP {
				t.Errorf("%s publishes on %q", name, port.HostIP)
			}
		}
		for k, v := range s.Environment {
			if strings.Contains(strings.ToLower(k), "password") && !strings.HasSuffix(k, "_FILE") {
				t.Errorf("%s has a password in its environment: %s=%v", name, k, v)
			}
		}
	}
	if !proj.Networks["payments-db"].Internal {
		t.Error("the database network is not internal")
	}
	sec := proj.Secrets["payments-db-db-password"]
	if want := filepath.Join(dir, ".msx", "secrets", "payments-db-db-password"); sec.File != want {
		t.Errorf("secret file %q, want %q", sec.File, want)
	}
}

func TestComposeMsxImages(t *testing.T) {
	p := workspace(t, "/src/shop")
	built := map[string]string{"orders": "msx-shop/orders:1", "payments": "msx-shop/payments:2", "search": "msx-shop/search:3", "gateway": "msx-shop/gateway:4"}
	files, err := Compose(p, ComposeOptions{OutDir: "/src/shop", Built: built})
	if err != nil {
		t.Fatal(err)
	}
	s := string(files[0].Data)
	if strings.Contains(s, "build:") || !strings.Contains(s, "image: msx-shop/gateway:4") {
		t.Errorf("export with msx's images:\n%s", s)
	}
	delete(built, "search")
	if _, err := Compose(p, ComposeOptions{OutDir: "/src/shop", Built: built}); err == nil || !strings.Contains(err.Error(), "search") {
		t.Errorf("a missing image: %v", err)
	}
}

func TestWriteRefusesEdits(t *testing.T) {
	dir := t.TempDir()
	files := []File{{Path: "a/b.yaml", Data: []byte("one\n")}}
	ch, err := Write(dir, files, false)
	if err != nil || ch[0].Action != Create {
		t.Fatal(ch, err)
	}
	ch, err = Write(dir, files, false)
	if err != nil || ch[0].Action != Unchanged {
		t.Fatal(ch, err)
	}
	path := filepath.Join(dir, "a", "b.yaml")
	if err := os.WriteFile(path, []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, files, false); err == nil || !strings.Contains(err.Error(), "other content") {
		t.Fatalf("an edited file was overwritten: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "edited\n" {
		t.Fatal("the edited file changed")
	}
	if ch, err = Write(dir, files, true); err != nil || ch[0].Action != Overwrite {
		t.Fatal(ch, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one\n" {
		t.Fatal("--force did not write")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("staging left behind: %v", entries)
	}
	if _, err := Write(dir, []File{{Path: "../x", Data: nil}}, true); err == nil {
		t.Error("a path outside the folder was written")
	}
}

func TestDockerfiles(t *testing.T) {
	got := strings.Join(Dockerfiles(workspace(t, "/src/shop")), " ")
	if want := "services/orders/Dockerfile services/payments/Dockerfile services/search/Dockerfile gateway/Dockerfile"; got != want {
		t.Errorf("Dockerfiles = %q, want %q", got, want)
	}
}
