package devenv

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/msx-dev/msx/msxerr"
)

const base = `# my comment stays
project: shop
module: example.com/shop
gateway:
  port: 8080
services: {}
`

// A bad value among several services is named with its service and its
// line, and a near miss with the value meant.
func TestParseErrorsNameTheLine(t *testing.T) {
	doc := `project: shop
module: example.com/shop
services:
  catalog:
    port: 8082
    db: sqlite
  orders:
    port: 8081
    db: sqllite
  payments:
    port: 8083
    db: none
    depends_on: [order]
`
	_, err := Parse([]byte(doc))
	if want := `service orders has db "sqllite" (line 9); did you mean sqlite? (one of postgres, sqlite, none)`; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	doc = strings.Replace(doc, "sqllite", "sqlite", 1)
	_, err = Parse([]byte(doc))
	if want := "service payments depends on order, which is not a service of this workspace (line 13); did you mean orders?"; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	_, err = Parse([]byte(strings.Replace(strings.Replace(doc, "port: 8083", "port: 8081", 1), "[order]", "[orders]", 1)))
	if want := "service payments uses port 8081, already used by service orders (line 11)"; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"empty", "", "empty"},
		{"unknown field", base + "colour: red\n", "colour"},
		{"bad project", strings.Replace(base, "project: shop", "project: Shop", 1), "uppercase"},
		{"no module", strings.Replace(base, "module: example.com/shop\n", "", 1), "module is empty"},
		{"bad port", strings.Replace(base, "port: 8080", "port: 70000", 1), "between 1 and 65535"},
		{"bad db", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: mysql}", 1), `db "mysql"`},
		{"missing dep", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: none, depends_on: [x]}", 1), "not a service"},
		{"self dep", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: none, depends_on: [orders]}", 1), "itself"},
		{"port clash", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8080, db: none}", 1), "already used by the gateway"},
		{"not yaml", "project: [", "did not find"},
		{"bad module", strings.Replace(base, "module: example.com/shop", `module: 'example.com/y"; import "os'`, 1), "not a valid Go module path"},
		{"module with space", strings.Replace(base, "module: example.com/shop", `module: "foo bar"`, 1), "not a valid Go module path"},
		{"unclean route", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: none, route: /evil/../api/pay/}", 1), "clean path"},
		{"root route", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: none, route: /}", 1), "clean path"},
		{"route without slash", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: none, route: /api/orders}", 1), "clean path"},
		{"replicas and sqlite", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: sqlite, replicas: 2}", 1), "use db: postgres to run several replicas"},
		{"too many replicas", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: none, replicas: 9}", 1), "between 1 and 8"},
		{"negative replicas", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: none, replicas: -1}", 1), "between 1 and 8"},
		{"a service named as a replica", strings.Replace(base, "services: {}", "services:\n  orders: {port: 8081, db: none, replicas: 2}\n  orders-2: {port: 8082, db: none}", 1), "service orders-2 is also the name of replica 2 of orders"},
		{"same route", strings.Replace(base, "services: {}", "services:\n  a: {port: 8081, db: none, route: /api/x/}\n  b: {port: 8082, db: none, route: /api/x/}", 1), "both have route /api/x/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestStartOrderAndCycle(t *testing.T) {
	m := &Manifest{Project: "shop", Module: "m", Services: map[string]Service{
		"a": {Port: 1, DB: DBNone, DependsOn: []string{"c", "b"}},
		"b": {Port: 2, DB: DBNone, DependsOn: []string{"c"}},
		"c": {Port: 3, DB: DBNone},
		"d": {Port: 4, DB: DBNone},
	}}
	order, err := m.StartOrder()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ","); got != "c,b,a,d" {
		t.Fatalf("order = %s, want c,b,a,d", got)
	}

	m.Services["c"] = Service{Port: 3, DB: DBNone, DependsOn: []string{"a"}}
	_, err = m.StartOrder()
	var cyc *CycleError
	if !errors.As(err, &cyc) {
		t.Fatalf("err = %v, want a CycleError", err)
	}
	if got := cyc.Error(); got != "dependency cycle: a -> b -> c -> a" {
		t.Fatalf("cycle = %q", got)
	}
}

func TestSetServiceKeepsCommentsAndReplaces(t *testing.T) {
	out, err := SetService([]byte(base), "orders", Service{Port: 8081, DB: DBSQLite, Route: Route("orders")})
	if err != nil {
		t.Fatal(err)
	}
	out, err = SetService(out, "payments", Service{Port: 8082, DB: DBPostgres, DependsOn: []string{"orders"}, Route: Route("payments")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "# my comment stays") {
		t.Fatalf("comment lost:\n%s", out)
	}
	out2, err := SetService(out, "orders", Service{Port: 8085, DB: DBNone, Route: Route("orders")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(out2)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Services["orders"]; got.Port != 8085 || got.DB != DBNone {
		t.Fatalf("orders = %+v, want replaced", got)
	}
	if strings.Index(string(out2), "orders:") > strings.Index(string(out2), "payments:") {
		t.Fatalf("replacing moved orders after payments:\n%s", out2)
	}
	// A dependency on a missing service is refused, so a bad edit is never written.
	if _, err := SetService(out, "x", Service{Port: 9000, DB: DBNone, DependsOn: []string{"nope"}}); err == nil {
		t.Fatal("SetService accepted a missing dependency")
	}
}

func TestFindWalksUp(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, FileName), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "services", "orders")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Find(deep)
	if err != nil {
		t.Fatal(err)
	}
	if got != filepath.Join(root, FileName) {
		t.Fatalf("Find = %s", got)
	}
	if _, err := Find(t.TempDir()); err == nil || !strings.Contains(err.Error(), "msx init") {
		t.Fatalf("Find outside a workspace = %v, want a hint at msx init", err)
	}
}

func TestNextPort(t *testing.T) {
	m, err := Parse([]byte(strings.Replace(base, "services: {}", "services:\n  a: {port: 8081, db: none}\n  b: {port: 8083, db: none}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.NextPort(); got != 8082 {
		t.Fatalf("NextPort = %d, want 8082", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("project: a\nmodule: m\nservices:\n  x: {port: 1, db: none, depends_on: [x]}\n"))
	f.Add([]byte("project: a\nmodule: m\ngateway: {port: 80, cors: ['*'], rate_limit: 5, trusted_proxies: [10.0.0.0/8]}\nservices:\n  x: {port: 2, db: none, expose: true, limits: {memory_mb: 64}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err == nil {
			if _, err := m.StartOrder(); err != nil {
				t.Fatalf("a valid manifest has no start order: %v", err)
			}
			// A valid manifest always makes a plan.
			m.Dir = "/w"
			if _, err := MakePlan(m, PlanOptions{}); err != nil {
				t.Fatalf("a valid manifest makes no plan: %v", err)
			}
		}
	})
}

func TestLoadResolvesSymlinks(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "real")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(real, FileName), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	viaLink, err := Load(filepath.Join(link, FileName))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := Load(filepath.Join(real, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if viaLink.Dir != direct.Dir {
		t.Fatalf("the same workspace has two identities: %s and %s", viaLink.Dir, direct.Dir)
	}
}

func TestClosure(t *testing.T) {
	m := &Manifest{Project: "shop", Module: "m", Services: map[string]Service{
		"a": {Port: 1, DB: DBNone, DependsOn: []string{"b"}},
		"b": {Port: 2, DB: DBNone, DependsOn: []string{"c"}},
		"c": {Port: 3, DB: DBNone},
		"d": {Port: 4, DB: DBNone},
	}}
	got, err := m.Closure([]string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got["a"] || !got["b"] || !got["c"] {
		t.Fatalf("Closure(a) = %v, want a, b, c", got)
	}
	if all, _ := m.Closure(nil); len(all) != 4 {
		t.Fatalf("Closure() = %v, want every service", all)
	}
	_, err = m.Closure([]string{"x"})
	var uerr *msxerr.UsageError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), "services: a, b, c, d") {
		t.Fatalf("err = %v, want a usage error listing the services", err)
	}
}

func TestUnknownKeyIsNamedWithLineAndSuggestion(t *testing.T) {
	data := "project: shop\nmodule: example.com/shop\nservices:\n  orders:\n    port: 8081\n    dbb: sqlite\n    route: /api/orders/\n"
	_, err := Parse([]byte(data))
	want := "unknown key `dbb` in services.orders (line 6); did you mean `db`?"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	_, err = Parse([]byte("project: shop\nmodule: m\ngatway:\n  port: 1\n"))
	if err == nil || err.Error() != "unknown key `gatway` (line 3); did you mean `gateway`?" {
		t.Fatalf("err = %v", err)
	}
}

func TestReplicaOf(t *testing.T) {
	m := &Manifest{Services: map[string]Service{
		"orders":  {Replicas: 3},
		"a-b":     {},
		"catalog": {Replicas: 1},
	}}
	for in, want := range map[string]string{
		"orders": "orders", "orders-2": "orders", "orders-3": "orders", "orders-4": "", "orders-1": "",
		"orders-02": "", "a-b": "a-b", "a-b-2": "", "catalog-2": "", "gateway": "", "orders-db": "",
	} {
		if got := m.ReplicaOf(in); got != want {
			t.Errorf("ReplicaOf(%q) = %q, want %q", in, got, want)
		}
	}
	if got := m.ReplicaNames("orders"); !slices.Equal(got, []string{"orders", "orders-2", "orders-3"}) {
		t.Errorf("ReplicaNames = %v", got)
	}
}

func TestManifestRefusesAProtectedServiceThatIsExposed(t *testing.T) {
	_, err := Parse([]byte("project: shop\nmodule: example.com/shop\ngateway: {port: 8080}\nservices: {orders: {port: 8081, db: none, protected: true, expose: true}}\n"))
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "orders") || !strings.Contains(err.Error(), "expose") {
		t.Errorf("error %v, want one line naming orders and expose", err)
	}
	if _, err := Parse([]byte("project: shop\nmodule: example.com/shop\ngateway: {port: 8080}\nservices: {orders: {port: 8081, db: none, expose: true}}\n")); err != nil {
		t.Errorf("exposed public service refused: %v", err)
	}
}
