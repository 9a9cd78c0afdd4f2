package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/names"
)

func TestK8sGolden(t *testing.T) {
	files, err := K8s(workspace(t, "/src/shop"), K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "k8s", files)
	again, _ := K8s(workspace(t, "/src/shop"), K8sOptions{})
	for i := range files {
		if !bytes.Equal(files[i].Data, again[i].Data) {
			t.Errorf("two exports of %s differ", files[i].Path)
		}
	}
}

// strictKinds are the API types of the pinned Kubernetes version that an
// export may hold; decoding into them refuses unknown fields.
var strictKinds = map[string]func() any{
	"Deployment":            func() any { return &appsv1.Deployment{} },
	"StatefulSet":           func() any { return &appsv1.StatefulSet{} },
	"Service":               func() any { return &corev1.Service{} },
	"ConfigMap":             func() any { return &corev1.ConfigMap{} },
	"Namespace":             func() any { return &corev1.Namespace{} },
	"PersistentVolumeClaim": func() any { return &corev1.PersistentVolumeClaim{} },
	"Ingress":               func() any { return &networkingv1.Ingress{} },
	"NetworkPolicy":         func() any { return &networkingv1.NetworkPolicy{} },
	"Kustomization":         func() any { return &kusttypes.Kustomization{} },
}

func TestK8sStrictDecode(t *testing.T) {
	for _, mesh := range []string{"", "linkerd", "istio"} {
		files, err := K8s(workspace(t, "/src/shop"), K8sOptions{Mesh: mesh})
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, f := range files {
			if !strings.HasSuffix(f.Path, ".yaml") {
				continue
			}
			for i, doc := range strings.Split(string(f.Data), "\n---\n") {
				var tm metav1.TypeMeta
				if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
					t.Fatalf("%s #%d: %v", f.Path, i, err)
				}
				mk := strictKinds[tm.Kind]
				if mk == nil {
					t.Fatalf("%s #%d: unexpected kind %q", f.Path, i, tm.Kind)
				}
				if err := yaml.UnmarshalStrict([]byte(doc), mk()); err != nil {
					t.Errorf("%s #%d (%s) does not decode strictly: %v", f.Path, i, tm.Kind, err)
				}
				kinds[tm.Kind]++
			}
		}
		// Deployments: three services, the gateway, the collector;
		// StatefulSets: the database and the broker.
		want := map[string]int{"Deployment": 5, "StatefulSet": 2, "Service": 7, "ConfigMap": 5, "Namespace": 1,
			"PersistentVolumeClaim": 2, "Ingress": 1, "NetworkPolicy": 8, "Kustomization": 2}
		if fmt.Sprint(kinds) != fmt.Sprint(want) {
			t.Errorf("kinds %v, want %v", kinds, want)
		}
		for _, f := range files {
			if f.Path == "base/orders.yaml" && (mesh == "linkerd") != bytes.Contains(f.Data, []byte("linkerd.io/inject: enabled")) {
				t.Errorf("mesh %q: linkerd injection is wrong in %s", mesh, f.Path)
			}
			if f.Path == "base/orders.yaml" && (mesh == "istio") != bytes.Contains(f.Data, []byte("sidecar.istio.io/inject: \"true\"")) {
				t.Errorf("mesh %q: istio injection is wrong in %s", mesh, f.Path)
			}
		}
	}
	if _, err := K8s(workspace(t, "/src/shop"), K8sOptions{Mesh: "consul"}); err == nil {
		t.Error("an unknown mesh was accepted")
	}
}

func TestK8sKustomizeBuild(t *testing.T) {
	dir := t.TempDir()
	files, err := K8s(workspace(t, "/src/shop"), K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, files, false); err != nil {
		t.Fatal(err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "overlays", "local"))
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	for _, r := range rm.Resources() {
		if r.GetKind() != "Namespace" && r.GetNamespace() != "shop" {
			t.Errorf("%s/%s is in namespace %q", r.GetKind(), r.GetName(), r.GetNamespace())
		}
	}
	if n := len(rm.Resources()); n != 31 {
		t.Errorf("%d resources built", n)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "README.md")); !bytes.Contains(b, []byte("kubectl -n shop create secret generic payments-db-db-password --from-file=db-password=.msx/secrets/payments-db-db-password")) {
		t.Errorf("the README does not say how to create the secret:\n%s", b)
	}
}

// pod is one of the plan's pods as the policies see it.
type pod struct {
	name   string
	labels labels.Set
}

// admitted evaluates the policies as a network plugin does, for ingress:
// a pod selected by no policy admits everything; one selected by some
// admits a peer that a rule of one of them matches.
func admitted(t *testing.T, pols []*networkingv1.NetworkPolicy, from, to pod) bool {
	t.Helper()
	selected := false
	for _, np := range pols {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Fatal(err)
		}
		if !sel.Matches(to.labels) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			continue
		}
		selected = true
		for _, rule := range np.Spec.Ingress {
			if len(rule.From) == 0 {
				return true
			}
			for _, peer := range rule.From {
				if peer.PodSelector == nil || peer.NamespaceSelector != nil || peer.IPBlock != nil {
					t.Fatalf("%s: a peer other than a pod selector", np.Name)
				}
				ps, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if err != nil {
					t.Fatal(err)
				}
				if ps.Matches(from.labels) {
					return true
				}
			}
		}
	}
	return !selected
}

func TestNetworkPoliciesAdmitExactlyTheDeclaredEdges(t *testing.T) {
	p := workspace(t, "/src/shop")
	var pods []pod
	for _, c := range p.Containers {
		pods = append(pods, pod{c.Service, labels.Set(podLabels(p, c))})
	}
	outsider := pod{"outsider", labels.Set{"app": "other"}}
	want := map[string]bool{
		"outsider->gateway":     true,
		"gateway->gateway":      true,
		"orders->gateway":       true,
		"payments->gateway":     true,
		"payments-db->gateway":  true,
		"search->gateway":       true,
		"gateway->orders":       true,
		"gateway->payments":     true,
		"gateway->search":       true,
		"payments->orders":      true, // the declared dependency
		"payments->payments-db": true, // the owner
		"orders->nats":          true, // a publisher
		"payments->nats":        true, // a subscriber
		"gateway->collector":    true, // every program sends its spans
		"orders->collector":     true,
		"payments->collector":   true,
		"search->collector":     true,
		"collector->gateway":    true,
		"nats->gateway":         true,
	}
	pols := NetworkPolicies(p)
	for _, from := range append(pods, outsider) {
		for _, to := range pods {
			edge := from.name + "->" + to.name
			if got := admitted(t, pols, from, to); got != want[edge] {
				t.Errorf("%s admitted=%v, want %v", edge, got, want[edge])
			}
		}
	}
	if len(pods) != 7 {
		t.Fatalf("pods: %v", pods)
	}
}

// A kind the Kubernetes export does not know yet is left out and named,
// not a failure: the rest of the system is still exported.
func TestK8sSkipsUnknownKinds(t *testing.T) {
	cache := &devenv.Kind{
		Name: "cache", DefaultImage: "cache:1", Port: 6379,
		Uses:   func(s devenv.Service) bool { return s.DB == devenv.DBNone },
		Env:    func(devenv.Instance) map[string]string { return nil },
		Ready:  func(devenv.Instance) devenv.Probe { return devenv.Probe{} },
		Client: func(devenv.Instance) map[string]string { return map[string]string{"CACHE_ADDR": "cache:6379"} },
	}
	old := devenv.Kinds
	devenv.Kinds = append(append([]*devenv.Kind(nil), old...), cache)
	t.Cleanup(func() { devenv.Kinds = old })
	p := workspace(t, "/src/shop")
	if got := strings.Join(K8sSkipped(p), ","); got != "cache (cache)" {
		t.Fatalf("skipped %q", got)
	}
	files, err := K8s(p, K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "README.md" && !bytes.Contains(f.Data, []byte("; cache (cache).")) {
			t.Errorf("the README does not name the skipped instance:\n%s", f.Data)
		}
		if f.Path == "base/cache.yaml" {
			t.Error("an unknown kind was exported")
		}
	}
}

// TestK8sProbesNeverKillASlowStart: every program's pod has a startup
// probe that holds liveness back for over a minute (a database up to 60 s
// late), a liveness probe on /healthz (served before setup waits for
// anything) and a readiness probe on /readyz (unready until setup is done).
func TestK8sProbesNeverKillASlowStart(t *testing.T) {
	files, err := K8s(workspace(t, "/src/shop"), K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		for _, doc := range strings.Split(string(f.Data), "\n---\n") {
			var d appsv1.Deployment
			if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
				continue
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				seen++
				s, l, r := c.StartupProbe, c.LivenessProbe, c.ReadinessProbe
				if s == nil || l == nil || r == nil {
					t.Errorf("%s: startup %v, liveness %v, readiness %v: want all three", c.Name, s != nil, l != nil, r != nil)
					continue
				}
				if s.HTTPGet == nil || l.HTTPGet == nil || s.HTTPGet.Path != "/healthz" || l.HTTPGet.Path != "/healthz" || s.HTTPGet.Port != l.HTTPGet.Port {
					t.Errorf("%s: startup and liveness probes must both ask /healthz on one port: %+v %+v", c.Name, s.HTTPGet, l.HTTPGet)
				}
				if budget := s.PeriodSeconds * s.FailureThreshold; budget < 90 {
					t.Errorf("%s: the startup probe gives up after %d s, want at least 90 (a database 60 s late)", c.Name, budget)
				}
				if c.Name != "collector" && (r.HTTPGet == nil || r.HTTPGet.Path != "/readyz") {
					t.Errorf("%s: readiness %+v, want /readyz", c.Name, r.HTTPGet)
				}
			}
		}
	}
	if seen < 4 {
		t.Fatalf("only %d program containers in the export", seen)
	}
}

// TestK8sNamesFitTheLongestServiceName: with a service (and its Postgres
// database) named as long as names allow, and the longest project name,
// every object name is a DNS label Kubernetes accepts, and a StatefulSet's
// leaves room for its NAME-HASH revision label (10 characters of hash).
func TestK8sNamesFitTheLongestServiceName(t *testing.T) {
	long := strings.Repeat("p", names.ServiceMaxLen)
	if err := names.Validate("service", long); err != nil {
		t.Fatal(err)
	}
	m := &devenv.Manifest{
		Project:  strings.Repeat("s", names.MaxLen),
		Module:   "example.com/shop",
		Gateway:  devenv.Gateway{Port: 8080},
		Services: map[string]devenv.Service{long: {Port: 8081, DB: devenv.DBPostgres, Route: "/api/" + long + "/"}},
		Dir:      "/src/shop",
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := devenv.MakePlan(m, devenv.PlanOptions{MsxVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := K8s(p, K8sOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		for _, doc := range strings.Split(string(f.Data), "\n---\n") {
			var obj struct {
				Kind     string            `json:"kind"`
				Metadata metav1.ObjectMeta `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj.Kind == "" || obj.Kind == "Kustomization" {
				continue
			}
			seen++
			limit := 63
			if obj.Kind == "StatefulSet" {
				limit = 63 - 11
			}
			if n := len(obj.Metadata.Name); n > limit {
				t.Errorf("%s %s: %d characters, more than %d", obj.Kind, obj.Metadata.Name, n, limit)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no objects exported")
	}
}
