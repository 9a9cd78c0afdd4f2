package export

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// workspace is the plan of a workspace with the three database kinds, a
// dependency (payments calls orders), a protected route and a subscriber
// (payments handles the items orders creates), so the broker; the
// workspace keeps two of the gateway's keys under .msx/secrets.
func workspace(t *testing.T, dir string) *devenv.Plan {
	t.Helper()
	m := &devenv.Manifest{
		Project: "shop",
		Module:  "example.com/shop",
		Gateway: devenv.Gateway{Port: 8080, JWT: devenv.JWT{Issuer: "https://id.example.com", Audience: "shop"}},
		Services: map[string]devenv.Service{
			"orders": {Port: 8081, DB: devenv.DBSQLite, Route: "/api/orders/"},
			"payments": {Port: 8082, DB: devenv.DBPostgres, DependsOn: []string{"orders"}, Route: "/api/payments/", Protected: true,
				Subscribes: []string{"orders.item.created"}},
			"search": {Port: 8083, DB: devenv.DBNone, Route: "/api/search/"},
		},
		Dir: dir,
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := devenv.MakePlan(m, devenv.PlanOptions{MsxVersion: "test", GatewayKeys: []string{"gateway-jwt.pem", "gateway-api-keys"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// golden compares files with testdata/NAME/..., rewriting them under -update.
// The collector's source is left out (its Dockerfile is not): it is msx's
// embedded source as it is, which TestCollectorSource checks.
func golden(t *testing.T, name string, files []File) {
	t.Helper()
	for _, f := range files {
		if strings.HasPrefix(f.Path, CollectorDir+"/") && f.Path != CollectorDir+"/Dockerfile" {
			continue
		}
		path := filepath.Join("testdata", name, filepath.FromSlash(f.Path))
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./export -update)", err)
		}
		if string(want) != string(f.Data) {
			t.Errorf("%s differs from its golden file (run go test ./export -update and review the diff):\n%s", f.Path, f.Data)
		}
	}
}
