package export

import (
	"slices"
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
)

// TestGraphQLIntrospectionIsLocalOnly: msx up turns a GraphQL service's
// introspection and playground on; both exports leave them off, so
// production has them only when someone sets GRAPHQL_INTROSPECTION.
func TestGraphQLIntrospectionIsLocalOnly(t *testing.T) {
	m := &devenv.Manifest{
		Project: "shop", Module: "example.com/shop", Gateway: devenv.Gateway{Port: 8080}, Dir: "/src/shop",
		Services: map[string]devenv.Service{
			"catalog": {Port: 8081, DB: devenv.DBSQLite, API: devenv.APIGraphQL, Route: "/api/catalog/"},
			"shop":    {Port: 8082, DB: devenv.DBNone, DependsOn: []string{"catalog"}, Route: "/api/shop/"},
		},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := devenv.MakePlan(m, devenv.PlanOptions{MsxVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Containers {
		on := slices.Contains(c.Env, "GRAPHQL_INTROSPECTION=1")
		if want := c.Service == "catalog"; on != want {
			t.Errorf("under msx up, %s has GRAPHQL_INTROSPECTION=1: %v, want %v", c.Service, on, want)
		}
	}
	compose, err := Compose(p, ComposeOptions{OutDir: "/src/shop"})
	if err != nil {
		t.Fatal(err)
	}
	k8s, err := K8s(p, K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(compose, k8s...) {
		if strings.Contains(string(f.Data), "GRAPHQL_INTROSPECTION") {
			t.Errorf("the export's %s turns GraphQL introspection on", f.Path)
		}
	}
}
