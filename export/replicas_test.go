package export

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/msx-dev/msx/devenv"
)

// TestExportsCarryReplicas: a service with replicas runs that many under
// Compose (deploy.replicas) and Kubernetes (the Deployment's replicas), each
// reached by the service's name, with no replica list for the gateway.
func TestExportsCarryReplicas(t *testing.T) {
	m := &devenv.Manifest{
		Project: "shop",
		Module:  "example.com/shop",
		Gateway: devenv.Gateway{Port: 8080},
		Services: map[string]devenv.Service{
			"orders":   {Port: 8081, DB: devenv.DBPostgres, Replicas: 3},
			"checkout": {Port: 8082, DB: devenv.DBNone, DependsOn: []string{"orders"}},
		},
		Dir: t.TempDir(),
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := devenv.MakePlan(m, devenv.PlanOptions{MsxVersion: "test", ReplicasByEngine: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := loadCompose(t, p, ComposeOptions{})
	for name, want := range map[string]int{"orders": 3, "checkout": 0} {
		s, ok := proj.Services[name]
		if !ok {
			t.Fatalf("no Compose service %s", name)
		}
		got := 0
		if s.Deploy != nil && s.Deploy.Replicas != nil {
			got = *s.Deploy.Replicas
		}
		if got != want {
			t.Errorf("Compose %s: replicas %d, want %d", name, got, want)
		}
	}
	if _, ok := proj.Services["orders-2"]; ok {
		t.Error("Compose has a service per replica")
	}
	if r := proj.Services["gateway"].Environment["MSX_ROUTES"]; r == nil || strings.Contains(*r, "replicas") {
		t.Error("the gateway spreads over replicas Compose runs")
	}

	files, err := K8s(p, K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replicas := map[string]int32{}
	for _, f := range files {
		for _, doc := range strings.Split(string(f.Data), "\n---\n") {
			if !strings.Contains(doc, "\nkind: Deployment\n") {
				continue
			}
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict([]byte(doc), &d); err != nil {
				t.Fatal(err)
			}
			replicas[d.Name] = *d.Spec.Replicas
		}
	}
	if replicas["orders"] != 3 || replicas["checkout"] != 1 {
		t.Errorf("Deployments' replicas %v, want orders 3 and checkout 1", replicas)
	}
}
