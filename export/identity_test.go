package export

import (
	"slices"
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/names"
)

// Every program's identity keys travel as secrets, as the gateway's keys
// do: its own private key, and the public keys of those it accepts calls
// from. The gateway's private key reaches the gateway alone.
func TestExportsCarryTheIdentityKeys(t *testing.T) {
	gwKey := devenv.IdentityKey(devenv.GatewayName)
	want := map[string][]string{ // secret names a program gets
		"gateway":  {gwKey},
		"orders":   {devenv.IdentityKey("orders"), gwKey + ".pub", devenv.IdentityKey("payments") + ".pub"},
		"payments": {devenv.IdentityKey("payments"), gwKey + ".pub"},
	}

	proj := loadCompose(t, workspace(t, t.TempDir()), ComposeOptions{})
	for program, names := range want {
		filler := proj.Services[program+"-secrets"]
		var got []string
		for _, s := range filler.Secrets {
			if strings.HasPrefix(s.Source, "identity-") {
				got = append(got, s.Source)
			}
		}
		if !slices.Equal(got, names) {
			t.Errorf("compose: %s-secrets copies %v, want %v", program, got, names)
		}
		// Copied by the gateway's program: a service's has no install-secrets.
		if !strings.HasSuffix(filler.Image, "/gateway") || slices.Index(filler.Entrypoint, "install-secrets") != 1 {
			t.Errorf("compose: %s-secrets runs %s %v, want the gateway's install-secrets", program, filler.Image, filler.Entrypoint)
		}
	}

	files, err := K8s(workspace(t, "/src/shop"), K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for program, names := range want {
		var got []string
		for _, v := range workloads(t, files)[program].Spec.Volumes {
			if v.Secret != nil && strings.HasPrefix(v.Secret.SecretName, "identity-") {
				got = append(got, v.Secret.SecretName)
			}
		}
		if !slices.Equal(got, names) {
			t.Errorf("k8s: %s mounts %v, want %v", program, got, names)
		}
	}
	var readme string
	for _, f := range files {
		if f.Path == "README.md" {
			readme = string(f.Data)
		}
	}
	if n := strings.Count(readme, "create secret generic "+gwKey+".pub "); n != 1 {
		t.Errorf("k8s README creates the gateway's public key %d times, want once", n)
	}
}

// A service with the longest name (names.ServiceMaxLen) still gets secret
// volumes whose names are DNS labels.
func TestK8sSecretVolumeNamesOfALongService(t *testing.T) {
	long := strings.Repeat("s", names.ServiceMaxLen)
	m := &devenv.Manifest{Project: "shop", Module: "example.com/shop", Gateway: devenv.Gateway{Port: 8080}, Dir: "/src/shop",
		Services: map[string]devenv.Service{long: {Port: 8081, DB: devenv.DBNone}, "web": {Port: 8082, DB: devenv.DBNone, DependsOn: []string{long}}}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := devenv.MakePlan(m, devenv.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := K8s(p, K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, pod := range workloads(t, files) {
		seen := map[string]bool{}
		for _, v := range pod.Spec.Volumes {
			if len(v.Name) > 63 || seen[v.Name] {
				t.Errorf("%s: volume name %q is too long or not unique", name, v.Name)
			}
			seen[v.Name] = true
		}
	}
}
