package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGraphQLHotSwapDocker is the inner loop of a GraphQL service on the
// real engine: under an attached msx up, catalog (GraphQL) and shop (REST,
// calling catalog). A resolver edit is swapped in; a field added to the
// schema is generated and queryable once its resolver compiles, with the
// same container and msx still running, and shop, whose client did not
// change, is not rebuilt; a schema that does not parse is one build
// failure line with gqlgen's message while the last version serves and the
// workspace keeps the generated code that builds it; an
// operation added for callers regenerates the client and swaps shop.
func TestGraphQLHotSwapDocker(t *testing.T) {
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
	t.Cleanup(func() { requireNothingLeft(t, cli, project, true) }) // after the down below
	mustMsx(t, parent, nil, "init", project, "--module", e2eModule)
	ws := filepath.Join(parent, project)
	mustMsx(t, ws, nil, "new", "service", "catalog", "--api", "graphql", "--db", "none")
	mustMsx(t, ws, nil, "new", "service", "shop", "--db", "none", "--depends-on", "catalog")
	cleanupDown(t, ws, env)
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/catalog/graphql"
	svc := filepath.Join(ws, "services", "catalog")
	schema := filepath.Join(svc, "catalogapi", "schema.graphqls")

	up := startMsx(t, ws, env, "up", "--no-tui")
	up.waitFor(t, "Ctrl-C to stop", 5*time.Minute)

	// answers polls catalog's endpoint with query until the answer holds want.
	answers := func(query, want string, timeout time.Duration) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"query": query})
		deadline := time.Now().Add(timeout)
		last := ""
		for time.Now().Before(deadline) {
			code, body := httpDo(t, "POST", endpoint, string(b))
			if code == 200 && strings.Contains(body, want) {
				return
			}
			last = strconv.Itoa(code) + " " + body
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s did not answer %s within %s (last: %s):\n%s", query, want, timeout, last, up.stderr.String())
	}
	container := func() (id, started string) {
		t.Helper()
		insp, err := cli.ContainerInspect(context.Background(), project+"-catalog")
		if err != nil {
			t.Fatal(err)
		}
		return insp.ID, insp.State.StartedAt
	}
	swaps := func(service string) int {
		return len(regexp.MustCompile(`(?m)^`+service+` +\| msx: swapped in`).FindAllString(up.stderr.String(), -1))
	}
	edit := func(path, old, new string) {
		t.Helper()
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), old) {
			t.Fatalf("%s has no %q", path, old)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(src), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	answers(`mutation { createItem(name: "lamp") { name } }`, `"name":"lamp"`, 30*time.Second)
	id, started := container()
	sameContainer := func() {
		t.Helper()
		if nid, nstarted := container(); nid != id || nstarted != started {
			t.Errorf("catalog's container %s (started %s) became %s (started %s): want the same container, its program swapped",
				id, started, nid, nstarted)
		}
	}

	t.Run("a resolver edit is swapped in", func(t *testing.T) {
		edit(filepath.Join(svc, "resolvers.go"), "r.store.Create(ctx, name)", `r.store.Create(ctx, name+" (edited)")`)
		answers(`mutation { createItem(name: "desk") { name } }`, `"name":"desk (edited)"`, 3*time.Minute)
		sameContainer()
	})

	t.Run("a field added to the schema is queryable without a restart", func(t *testing.T) {
		before := swaps("catalog")
		shop := swaps("shop")
		// The schema first: generate runs, then the build says the
		// resolver is missing; the resolver then compiles and is swapped.
		src, err := os.ReadFile(schema)
		if err != nil {
			t.Fatal(err)
		}
		write(schema, string(src)+"\nextend type Query {\n  \"A greeting.\"\n  hello: String!\n}\n")
		up.waitFor(t, "generating from the GraphQL schema", 30*time.Second)
		write(filepath.Join(svc, "hello.go"), "package main\n\nimport \"context\"\n\n"+
			"func (r queryResolver) Hello(context.Context) (string, error) { return \"hello from catalog\", nil }\n")
		answers(`query { hello }`, `"hello":"hello from catalog"`, 3*time.Minute)
		sameContainer()
		// The swap is reported once msx saw it ready, after it answered.
		deadline := time.Now().Add(30 * time.Second)
		for swaps("catalog") == before {
			if time.Now().After(deadline) {
				t.Fatalf("no swap of catalog reported:\n%s", up.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := swaps("shop"); n != shop {
			t.Errorf("shop was swapped %d times after a schema change its client does not see:\n%s", n-shop, up.stderr.String())
		}
		if strings.Contains(up.stderr.String(), "go generate failed") {
			t.Errorf("generate failed on a valid schema:\n%s", up.stderr.String())
		}
	})

	t.Run("a schema that does not parse is one line and the last version serves", func(t *testing.T) {
		good, err := os.ReadFile(schema)
		if err != nil {
			t.Fatal(err)
		}
		write(schema, string(good)+"\ntype Broken {\n")
		failed := regexp.MustCompile(`(?m)^catalog +\| msx: go generate failed: .*schema\.graphqls.*; the previous version keeps serving.*$`)
		up.waitForRe(t, failed, time.Minute)
		line := failed.FindString(up.stderr.String())
		t.Logf("the failure: %s", line)
		if strings.Contains(line, "no such file") {
			t.Errorf("the failure line speaks of a missing file, not only of the schema: %s", line)
		}
		// gqlgen removes its output before reading the schema; msx puts it back.
		if _, err := os.Stat(filepath.Join(svc, "graph", "generated.go")); err != nil {
			t.Errorf("the generated code is gone after a failed generate: %v", err)
		}
		answers(`query { hello }`, `"hello":"hello from catalog"`, 5*time.Second)
		write(schema, string(good))
	})

	t.Run("an operation added for callers regenerates the client and swaps them", func(t *testing.T) {
		shop := swaps("shop")
		ops := filepath.Join(svc, "catalogapi", "operations.graphql")
		src, err := os.ReadFile(ops)
		if err != nil {
			t.Fatal(err)
		}
		write(ops, string(src)+"\nquery Hello {\n  hello\n}\n")
		deadline := time.Now().Add(3 * time.Minute)
		for swaps("shop") == shop {
			if time.Now().After(deadline) {
				t.Fatalf("shop was not swapped after its client changed:\n%s", up.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		gen, err := os.ReadFile(filepath.Join(svc, "catalogapi", "client_gen.go"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(gen), "func Hello(") {
			t.Errorf("client_gen.go has no Hello operation after the edit")
		}
		answers(`query { hello }`, `"hello":"hello from catalog"`, 30*time.Second)
		sameContainer()
	})
}
