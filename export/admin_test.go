package export

import (
	"bytes"
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
)

// TestExportsLeaveFaultsAndTheProfilerOff: an exported program gets no
// admin token and no MSX_FAULTS, so that it serves neither faults nor the
// profiler; even up's plan, which gives every program the token, exports
// exactly as an export's own plan does.
func TestExportsLeaveFaultsAndTheProfilerOff(t *testing.T) {
	own := workspace(t, "/src/shop")
	ups := workspace(t, "/src/shop")
	for i := range ups.Containers {
		c := &ups.Containers[i]
		if c.Role == devenv.RoleService || c.Role == devenv.RoleGateway {
			c.Secrets = append(c.Secrets, devenv.SecretRef{Name: devenv.AdminTokenSecret, File: devenv.AdminTokenSecret})
			c.Env = append(c.Env, "ADMIN_TOKEN_FILE=/run/secrets/admin-token", "ADMIN_HOSTS="+c.Name)
		}
	}
	for name, export := range map[string]func(p *devenv.Plan) ([]File, error){
		"compose": func(p *devenv.Plan) ([]File, error) { return Compose(p, ComposeOptions{OutDir: "/src/shop"}) },
		"k8s":     func(p *devenv.Plan) ([]File, error) { return K8s(p, K8sOptions{}) },
	} {
		want, err := export(own)
		if err != nil {
			t.Fatal(err)
		}
		got, err := export(ups)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d files from up's plan, %d from the export's", name, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i].Data, want[i].Data) {
				t.Errorf("%s: %s differs with up's plan:\n%s", name, got[i].Path, got[i].Data)
			}
			for _, s := range []string{"MSX_FAULTS", "admin-token", "ADMIN_TOKEN_FILE"} {
				if strings.Contains(string(got[i].Data), s) {
					t.Errorf("%s: %s holds %s", name, got[i].Path, s)
				}
			}
		}
	}
}
