package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/templates"
)

// TestGraphQLServiceLifecycle follows a GraphQL service through msx with
// the real templates: new records api: graphql and renders the GraphQL
// tree instead of the REST handlers; --force without --api keeps it; a
// REST caller added with add dependency gets a GraphQL fake in its tests;
// --api rest regenerates it as REST, removing the GraphQL files; remove
// service deletes everything it generated.
func TestGraphQLServiceLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	if _, err := Init(templates.FS, InitOptions{Dir: dir, Module: "example.com/shop"}); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(dir, devenv.FileName)
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		return err == nil
	}
	if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: "catalog", API: "soap"}); err == nil ||
		!strings.Contains(err.Error(), `"soap"`) {
		t.Errorf("--api soap: %v, want it refused", err)
	}
	if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: "catalog", API: devenv.APIGraphQL}); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"services/catalog/graph/generated.go", "services/catalog/resolvers.go", "services/catalog/gqlgen.yml",
		"services/catalog/catalogapi/schema.graphqls", "services/catalog/catalogapi/client_gen.go"} {
		if !exists(rel) {
			t.Errorf("%s was not generated", rel)
		}
	}
	for _, rel := range []string{"services/catalog/handlers.go", "services/catalog/catalogapi/api.go"} {
		if exists(rel) {
			t.Errorf("%s, a REST file, was generated for a GraphQL service", rel)
		}
	}
	m, err := devenv.Load(mf)
	if err != nil || m.Services["catalog"].API != devenv.APIGraphQL {
		t.Fatalf("msx.yaml: %+v, %v; want api: graphql", m.Services["catalog"], err)
	}

	if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: "catalog", Force: true}); err != nil {
		t.Fatal(err)
	}
	if !exists("services/catalog/resolvers.go") {
		t.Error("--force without --api did not keep the service GraphQL")
	}

	if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if _, err := AddDependency(templates.FS, mf, "shop", []string{"catalog"}, false); err != nil {
		t.Fatal(err)
	}
	test, err := os.ReadFile(filepath.Join(dir, "services", "shop", "handlers_test.go"))
	if err != nil || !strings.Contains(string(test), `r.URL.Query().Get("operationName") != "ListItems"`) {
		t.Errorf("shop's tests do not fake catalog as GraphQL (%v)", err)
	}
	if _, err := RemoveService(templates.FS, RemoveOptions{ManifestPath: mf, Name: "catalog"}); err == nil {
		t.Error("catalog was removed while shop depends on it")
	}

	if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: "search", API: devenv.APIGraphQL}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: "search", API: devenv.APIREST, Force: true}); err != nil {
		t.Fatal(err)
	}
	if !exists("services/search/handlers.go") || exists("services/search/graph/generated.go") || exists("services/search/resolvers.go") {
		t.Error("--api rest over a GraphQL service did not swap the GraphQL files for the REST ones")
	}
	if m, _ := devenv.Load(mf); m.Services["search"].API != "" {
		t.Errorf("msx.yaml says api %q for a REST service, want nothing", m.Services["search"].API)
	}

	if _, err := NewService(templates.FS, ServiceOptions{ManifestPath: mf, Name: "reviews", API: devenv.APIGraphQL}); err != nil {
		t.Fatal(err)
	}
	res, err := RemoveService(templates.FS, RemoveOptions{ManifestPath: mf, Name: "reviews"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Changes {
		if c.Action == Kept {
			t.Errorf("remove service kept %s, which msx generated", c.Path)
		}
	}
	if exists("services/reviews") {
		t.Error("services/reviews is still there")
	}
}
