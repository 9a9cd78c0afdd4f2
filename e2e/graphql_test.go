package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// snapshotDir maps each file under dir to its content.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGraphQLDocker runs a GraphQL service on the real engine: catalog
// (GraphQL, SQLite) and shop (REST) depending on it. A mutation and a
// query go through the gateway at /api/catalog/graphql; shop's /upstream
// lists catalog's items through the typed client; a too-deep query is
// refused with 422; the trace of shop's request names catalog's operation
// (query ListItems) under the gateway and shop, catalog's access log line
// says it, and msx ps gives catalog's endpoint. Nothing labelled with the
// project remains after.
func TestGraphQLDocker(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs containers; skipped with -short")
	}
	if useStubWorkspace() {
		t.Skip("needs the generated services")
	}
	cli := requireDocker(t)
	parent := t.TempDir()
	project := uniqueProject(t)
	port := freePort(t)
	env := []string{"MSX_GATEWAY_PORT=" + strconv.Itoa(port), "NO_COLOR=1"}
	removeImages(t, cli, project)
	// Cleanups run last first: down --volumes, then this check.
	t.Cleanup(func() { requireNothingLeft(t, cli, project, true) })
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "catalog", "--api", "graphql", "--db", "sqlite")
	mustMsx(t, ws, nil, "new", "service", "shop", "--db", "sqlite", "--depends-on", "catalog")
	cleanupDown(t, ws, env)
	mustMsx(t, ws, env, "up", "-d")
	gateway := "http://127.0.0.1:" + strconv.Itoa(port)
	endpoint := gateway + "/api/catalog/graphql"

	gql := func(q string) (int, string) {
		b, _ := json.Marshal(map[string]string{"query": q})
		return httpDo(t, "POST", endpoint, string(b))
	}
	if code, body := gql(`mutation CreateItem { createItem(name: "lamp") { id name } }`); code != 200 || !strings.Contains(body, `"name":"lamp"`) {
		t.Fatalf("createItem through the gateway: %d %s", code, body)
	}
	if code, body := gql(`query ListItems { items { items { id name createdAt } next } }`); code != 200 || !strings.Contains(body, `"name":"lamp"`) {
		t.Fatalf("items through the gateway: %d %s", code, body)
	}
	// Introspection is on under msx up, and so is the depth limit.
	deep := "{ __schema { types { fields { type " + strings.Repeat("{ ofType ", 11) + "{ name }" + strings.Repeat(" }", 11) + " } } } }"
	if code, body := gql(deep); code != 422 || !strings.Contains(body, "DEPTH_LIMIT_EXCEEDED") {
		t.Errorf("a too-deep query: %d %s, want 422 DEPTH_LIMIT_EXCEEDED", code, body)
	}
	if code, body := httpDo(t, "GET", gateway+"/api/shop/upstream", ""); code != 200 || !strings.Contains(body, `"name":"lamp"`) {
		t.Fatalf("shop's /upstream through catalog's typed client: %d %s", code, body)
	}

	// The trace of shop's /upstream: gateway, then shop, then catalog's
	// span named by the operation the typed client sent.
	id := waitTrace(t, ws, env, "catalog", "trace of shop's /upstream reaching catalog", func(tr traceSummary) bool {
		services := strings.Join(tr.Services, ",")
		return strings.HasPrefix(tr.Root, "GET /api/shop/") && (services == "catalog,gateway,shop" || services == "gateway,shop,catalog")
	})
	var tr struct {
		Spans []traceSpan `json:"spans"`
	}
	r := mustMsx(t, ws, env, "trace", id, "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &tr); err != nil {
		t.Fatalf("msx trace ID --json: %v\n%s", err, r.Stdout)
	}
	byID := map[string]traceSpan{}
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	var op traceSpan
	for _, s := range tr.Spans {
		if s.Service == "catalog" && s.Kind == "server" {
			op = s
		}
	}
	if op.Name != "query ListItems" {
		t.Errorf("catalog's server span is named %q, want the operation, query ListItems:\n%s", op.Name, r.Stdout)
	}
	var chain []string
	for p := op; p.SpanID != ""; p = byID[p.ParentID] {
		if p.Kind == "server" {
			chain = append(chain, p.Service)
		}
	}
	if got := strings.Join(chain, " <- "); got != "catalog <- shop <- gateway" {
		t.Errorf("server spans from catalog up: %s, want catalog <- shop <- gateway", got)
	}
	if r := mustMsx(t, ws, env, "logs", "catalog", "--json"); !strings.Contains(r.Stdout, `"operation":"query ListItems"`) {
		t.Errorf("catalog's access log does not name the operation:\n%s", r.Stdout)
	}
	var ps []struct {
		Service string `json:"service"`
		GraphQL string `json:"graphql"`
	}
	r = mustMsx(t, ws, env, "ps", "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &ps); err != nil {
		t.Fatalf("msx ps --json: %v\n%s", err, r.Stdout)
	}
	for _, s := range ps {
		want := ""
		if s.Service == "catalog" {
			want = endpoint
		}
		if s.GraphQL != want {
			t.Errorf("msx ps --json gives %s the GraphQL endpoint %q, want %q", s.Service, s.GraphQL, want)
		}
	}
}
