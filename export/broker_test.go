package export

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/msx-dev/msx/devenv"
)

// The broker's configuration and each program's seed travel as secrets in
// both exports, each seed to its program alone; the broker is not root.
func TestComposeBrokerCredentials(t *testing.T) {
	dir := t.TempDir()
	proj := loadCompose(t, workspace(t, dir), ComposeOptions{})
	nats := proj.Services["nats"]
	if !slices.Equal([]string(nats.Command), []string{"-c", "/run/secrets/nats-server.conf"}) || nats.User != devenv.ContainerUser {
		t.Errorf("broker command %v user %q", nats.Command, nats.User)
	}
	gw := proj.Services["gateway"]
	for _, owner := range []string{"nats", "orders", "payments"} {
		fill := proj.Services[owner+"-secrets"]
		// The gateway's image copies them: the others have no shell.
		if fill.Image != gw.Image || fill.Build == nil || fill.Build.Dockerfile != gw.Build.Dockerfile ||
			strings.Join(fill.Entrypoint, " ") != "/gateway install-secrets "+secretFiles+" "+devenv.SecretsDir || fill.NetworkMode != "none" {
			t.Errorf("%s's filler: %+v", owner, fill)
		}
		want := "nats-" + owner + ".nk->" + secretFiles + "/nats.nk"
		if owner == "nats" {
			want = "nats-server.conf->" + secretFiles + "/nats-server.conf"
		}
		var got []string
		for _, sm := range fill.Secrets {
			got = append(got, sm.Source+"->"+sm.Target)
		}
		// Beside the seed, a program's filler copies its identity keys.
		if !slices.Contains(got, want) || slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, "nats-") && g != want }) {
			t.Errorf("%s's filler reads %v, want %s and no other broker secret", owner, got, want)
		}
		if c := proj.Services[owner].DependsOn[owner+"-secrets"].Condition; c != "service_completed_successfully" {
			t.Errorf("%s waits on its filler with %q", owner, c)
		}
	}
	// The broker's filler also makes its store, owned by its user.
	nf := proj.Services["nats-secrets"]
	if env := nf.Environment["MSX_OWNED_DIR"]; env == nil || *env != "/data/store:65532" || !slices.Contains(nf.CapAdd, "CHOWN") {
		t.Errorf("broker filler env %v caps %v", nf.Environment, nf.CapAdd)
	}
	if !slices.ContainsFunc(nf.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Source == "nats-data" && v.Target == "/data" }) {
		t.Errorf("broker filler volumes %+v", nf.Volumes)
	}
	if proj.Services["orders-secrets"].Environment["MSX_OWNED_DIR"] != nil {
		t.Error("orders' filler makes a folder")
	}
	// payments' read-only secrets volume gets the folder its database's
	// password is mounted on.
	if env := proj.Services["payments-secrets"].Environment["MSX_OWNED_DIR"]; env == nil || *env != "/run/secrets/postgres:0" {
		t.Errorf("payments' filler env %v", proj.Services["payments-secrets"].Environment)
	}
	for _, name := range []string{"nats-server.conf", "nats-orders.nk", "nats-payments.nk"} {
		if f := proj.Secrets[name].File; f != filepath.Join(dir, ".msx", "secrets", name) {
			t.Errorf("secret %s from %q", name, f)
		}
	}
	// A seed's volume is mounted by its program (and filler) alone.
	for name, s := range proj.Services {
		for _, v := range s.Volumes {
			if owner, ok := strings.CutSuffix(v.Source, "-secrets"); ok && owner != "payments-db" && name != owner && name != v.Source {
				t.Errorf("%s mounts %s", name, v.Source)
			}
		}
		if env := s.Environment["NATS_NKEY_FILE"]; env != nil && *env != "/run/secrets/nats.nk" {
			t.Errorf("%s NATS_NKEY_FILE=%s", name, *env)
		}
	}
	if proj.Services["search"].Environment["NATS_NKEY_FILE"] != nil {
		t.Error("search, no user of the broker, has a seed")
	}
}

func TestK8sBrokerCredentials(t *testing.T) {
	files, err := K8s(workspace(t, "/src/shop"), K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := workloads(t, files)
	secretAt := func(name, path string) string {
		pod := pods[name]
		for _, c := range pod.Spec.Containers {
			for _, m := range c.VolumeMounts {
				if m.MountPath != path {
					continue
				}
				for _, v := range pod.Spec.Volumes {
					if v.Name == m.Name && v.Secret != nil {
						return v.Secret.SecretName
					}
				}
			}
		}
		return ""
	}
	if got := secretAt("nats", "/run/secrets/nats-server.conf"); got != "nats-server.conf" {
		t.Errorf("broker's configuration from %q", got)
	}
	for _, s := range []string{"orders", "payments"} {
		if got := secretAt(s, "/run/secrets/nats.nk"); got != "nats-"+s+".nk" {
			t.Errorf("%s's seed from %q", s, got)
		}
	}
	if got := secretAt("search", "/run/secrets/nats.nk"); got != "" {
		t.Errorf("search gets a seed: %s", got)
	}
	nats := pods["nats"]
	if args := nats.Spec.Containers[0].Args; !slices.Equal(args, []string{"-c", "/run/secrets/nats-server.conf"}) {
		t.Errorf("broker args %v", args)
	}
	if sc := nats.Spec.SecurityContext; sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.FSGroup == nil || *sc.FSGroup != 65532 {
		t.Errorf("broker pod security %+v", sc)
	}
	// Its monitoring port answers under a secret path that no manifest
	// may show: readiness is its client port, opened once JetStream is up.
	if rp := nats.Spec.Containers[0].ReadinessProbe; rp == nil || rp.HTTPGet != nil || rp.TCPSocket == nil || rp.TCPSocket.Port.String() != "nats" {
		t.Errorf("broker readiness probe %+v", rp)
	}
	var readme string
	for _, f := range files {
		if f.Path == "README.md" {
			readme = string(f.Data)
		}
	}
	for _, want := range []string{
		"create secret generic nats-server.conf --from-file=nats-server.conf=.msx/secrets/nats-server.conf",
		"create secret generic nats-orders.nk --from-file=nats.nk=.msx/secrets/nats-orders.nk",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README lacks %s", want)
		}
	}
}
