package export

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	proj := loadCompose(t, p, ComposeOptions{})
	if got := strings.Join(proj.ServiceNames(), " "); got != "collector gateway gateway-secrets nats nats-secrets orders orders-secrets payments payments-db payments-db-secrets payments-secrets search search-secrets" {
		t.Fatalf("services: %v", got)
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
	if c := pay.DependsOn["nats"].Condition; c != "service_started" {
		t.Errorf("payments waits on the broker with %q", c)
	}
	if c := proj.Services["gateway"].DependsOn["payments"].Condition; c != "service_healthy" {
		t.Errorf("the gateway waits on payments with %q", c)
	}
	if b := proj.Services["collector"].Build; b == nil || b.Context != filepath.Join(out, "collector") || b.Dockerfile != "Dockerfile" {
		t.Errorf("collector build: %+v", b)
	}
	for name, s := range proj.Services {
		if _, ok := s.Networks["payments-db"]; ok && name != "payments" && name != "payments-db" {
			t.Errorf("%s joins the private network of payments' database", name)
		}
		for _, v := range s.Volumes {
			if v.Source == "payments-db-secrets" && name != "payments" && name != "payments-db" && name != "payments-db-secrets" {
				t.Errorf("%s mounts the secrets of payments' database", name)
			}
		}
		for _, v := range s.Volumes {
			if v.Source == "gateway-secrets" && name != "gateway" && name != "gateway-secrets" {
				t.Errorf("%s mounts the gateway's keys", name)
			}
		}
		if len(s.Secrets) > 0 && !strings.HasSuffix(name, "-secrets") {
			t.Errorf("%s mounts a Compose secret (%v): only the filler reads the host's files", name, s.Secrets)
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
	fill := proj.Services["payments-db-secrets"]
	if len(fill.Secrets) != 1 || fill.Secrets[0].Source != "payments-db-db-password" || fill.NetworkMode != "none" ||
		len(fill.CapAdd) != 1 || fill.CapAdd[0] != "DAC_OVERRIDE" {
		t.Errorf("secrets filler: %+v", fill)
	}
	for _, name := range []string{"payments", "payments-db"} {
		if c := proj.Services[name].DependsOn["payments-db-secrets"].Condition; c != "service_completed_successfully" {
			t.Errorf("%s waits on the secrets filler with %q", name, c)
		}
	}
	for _, name := range []string{"payments-db-db-password", "gateway-jwt.pem", "gateway-api-keys"} {
		sec := proj.Secrets[name]
		if want := filepath.Join(dir, ".msx", "secrets", name); sec.File != want {
			t.Errorf("secret file %q, want %q", sec.File, want)
		}
	}
	// The gateway's keys: copied by the gateway's own image (it has no
	// shell) with its install-secrets argument into a volume only the
	// gateway mounts, read-only at SECRETS_DIR, under the names the
	// gateway reads.
	gw, gfill := proj.Services["gateway"], proj.Services["gateway-secrets"]
	if gfill.Image != gw.Image || gfill.Image == "" || gfill.Build == nil || gfill.Build.Context != gw.Build.Context || gfill.Build.Dockerfile != gw.Build.Dockerfile || gfill.NetworkMode != "none" || gfill.User != "0" || !gfill.ReadOnly ||
		len(gfill.CapAdd) != 1 || gfill.CapAdd[0] != "DAC_OVERRIDE" || gfill.Restart != "no" {
		t.Errorf("gateway secrets filler: %+v", gfill)
	}
	var got []string
	for _, sm := range gfill.Secrets {
		got = append(got, sm.Source+"->"+sm.Target)
	}
	if want := "gateway-jwt.pem->" + secretFiles + "/jwt.pem gateway-api-keys->" + secretFiles + "/api-keys identity-gateway.ed25519->" + secretFiles + "/identity.key"; strings.Join(got, " ") != want {
		t.Errorf("gateway filler secrets %v, want %s", got, want)
	}
	if got, want := strings.Join(gfill.Entrypoint, " "), "/gateway install-secrets "+secretFiles+" "+devenv.SecretsDir; got != want {
		t.Errorf("the gateway filler runs %q, want %q", got, want)
	}
	if c := gw.DependsOn["gateway-secrets"].Condition; c != "service_completed_successfully" {
		t.Errorf("the gateway waits on its secrets filler with %q", c)
	}
	mounted := false
	for _, v := range gw.Volumes {
		if v.Source == "gateway-secrets" {
			mounted = v.Target == devenv.SecretsDir && v.ReadOnly
		}
	}
	if !mounted {
		t.Errorf("the gateway does not mount its keys read-only at %s: %+v", devenv.SecretsDir, gw.Volumes)
	}
	if d := gw.Environment["SECRETS_DIR"]; d == nil || *d != devenv.SecretsDir {
		t.Errorf("gateway SECRETS_DIR = %v", d)
	}
}

// A workspace without the gateway's keys exports no volume or filler of
// them.
func TestComposeGatewayKeys(t *testing.T) {
	p := workspace(t, "/src/shop")
	gw := p.Container(devenv.GatewayName)
	gw.Secrets = nil
	files, err := Compose(p, ComposeOptions{OutDir: "/src/shop"})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(files[0].Data); strings.Contains(s, "gateway-secrets") || strings.Contains(s, "gateway-jwt") {
		t.Errorf("an export without keys carries them:\n%s", s)
	}
}

func TestComposeMsxImages(t *testing.T) {
	p := workspace(t, "/src/shop")
	built := map[string]string{"orders": "msx-shop/orders:1", "payments": "msx-shop/payments:2", "search": "msx-shop/search:3",
		"gateway": "msx-shop/gateway:4", "collector": "msx-shop/collector:5"}
	files, err := Compose(p, ComposeOptions{OutDir: "/src/shop", Built: built})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Errorf("with msx's images the export writes the collector's source too: %d files", len(files))
	}
	s := string(files[0].Data)
	if strings.Contains(s, "build:") || !strings.Contains(s, "image: msx-shop/gateway:4") || !strings.Contains(s, "image: msx-shop/collector:5") {
		t.Errorf("export with msx's images:\n%s", s)
	}
	// msx's images hold the program at /msx/app, as the plan's check says.
	if !strings.Contains(s, "- /msx/app\n        - healthcheck") {
		t.Errorf("the health check does not run msx's image's program:\n%s", s)
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

// A link planted inside --out (k8s -> ~/.config) must not make msx export
// write elsewhere, with --force too: scaffolding refuses the same trick.
func TestWriteRefusesLinksOut(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "k8s")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	_, err := Write(dir, []File{{Path: "compose.yaml", Data: []byte("x\n")}, {Path: "k8s/orders.yaml", Data: []byte("y\n")}}, true)
	if err == nil || !strings.Contains(err.Error(), "outside the output folder") {
		t.Fatalf("Write through a link: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written outside the output folder: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(dir, "compose.yaml")); err == nil {
		t.Error("a refused export wrote part of its files")
	}
}

func TestDockerfiles(t *testing.T) {
	got := strings.Join(Dockerfiles(workspace(t, "/src/shop")), " ")
	if want := "services/orders/Dockerfile services/payments/Dockerfile services/search/Dockerfile gateway/Dockerfile"; got != want {
		t.Errorf("Dockerfiles = %q, want %q", got, want)
	}
}
