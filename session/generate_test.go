package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msx-dev/msx/activity"
	"github.com/msx-dev/msx/devenv"
)

func TestGenerateTargets(t *testing.T) {
	root := filepath.FromSlash("/ws")
	programs := []string{"catalog", "shop", "gateway"}
	at := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	for _, c := range []struct {
		name  string
		paths []string
		want  []string
	}{
		{"the schema", []string{at("services/catalog/catalogapi/schema.graphqls")}, []string{"catalog"}},
		{"the client's operations", []string{at("services/catalog/catalogapi/operations.graphql")}, []string{"catalog"}},
		{"gqlgen's configuration", []string{at("services/catalog/gqlgen.yml")}, []string{"catalog"}},
		{"genqlient's configuration", []string{at("services/catalog/catalogapi/genqlient.yaml")}, []string{"catalog"}},
		{"two services, sorted, once each", []string{
			at("services/shop/shopapi/schema.graphqls"), at("services/catalog/catalogapi/schema.graphqls"),
			at("services/catalog/catalogapi/operations.graphql"),
		}, []string{"catalog", "shop"}},
		{"a resolver is only rebuilt", []string{at("services/catalog/resolvers.go")}, nil},
		{"generated code is only rebuilt", []string{at("services/catalog/graph/generated.go")}, nil},
		{"another YAML file", []string{at("services/catalog/config.yaml")}, nil},
		{"a service that is not running", []string{at("services/gone/goneapi/schema.graphqls")}, nil},
		{"a schema outside services", []string{at("platform/gql/x.graphqls"), at("schema.graphqls")}, nil},
		{"outside the workspace", []string{filepath.FromSlash("/elsewhere/services/catalog/a.graphqls")}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := generateTargets(root, programs, c.paths); !slices.Equal(got, c.want) {
				t.Errorf("generateTargets(%v) = %v, want %v", c.paths, got, c.want)
			}
		})
	}
}

// genSession is a session on a workspace in a temporary folder with the
// services catalog and shop, and the events it published.
func genSession(t *testing.T) (*Session, string, *[]activity.Event) {
	t.Helper()
	dir := t.TempDir()
	m := &devenv.Manifest{Project: "p", Dir: dir}
	bus := activity.NewBus(nil)
	var got []activity.Event
	bus.Subscribe(activity.ObserverFunc(func(e activity.Event) { got = append(got, e) }))
	s := New(Options{Manifest: m, Bus: bus})
	s.setPlan(&devenv.Plan{Project: "p", Dir: dir, Containers: []devenv.Container{
		{Name: "p-catalog", Service: "catalog"}, {Name: "p-shop", Service: "shop"},
	}})
	return s, dir, &got
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateAddsWhatItChangedAndDropsItsEcho(t *testing.T) {
	s, dir, got := genSession(t)
	svc := filepath.Join(dir, "services", "catalog")
	schema := filepath.Join(svc, "catalogapi", "schema.graphqls")
	generated := filepath.Join(svc, "graph", "generated.go")
	client := filepath.Join(svc, "catalogapi", "client_gen.go")
	resolvers := filepath.Join(svc, "resolvers.go")
	write(t, schema, "type Query { a: Int }")
	write(t, filepath.Join(svc, "graphql.go"), "package main\n\n//go:generate go tool gqlgen generate --config gqlgen.yml\n")
	write(t, filepath.Join(svc, "catalogapi", "client.go"), "package catalogapi\n\n//go:generate go tool genqlient genqlient.yaml\n")
	write(t, filepath.Join(svc, "stringer.go"), "package main\n\n//go:generate stringer -type=T\n")
	write(t, generated, "package graph // a")
	write(t, client, "package catalogapi // same")
	write(t, resolvers, "package main")
	g := s.generator()
	// Saved before the schema, reported after the generate: the user's.
	write(t, resolvers, "package main // edited")
	var ran []string
	s.runGenerate = func(_ context.Context, d string, pkgs []string) ([]byte, error) {
		if d != dir {
			t.Errorf("generate ran in %s, want the workspace %s", d, dir)
		}
		ran = append(ran, pkgs...)
		time.Sleep(10 * time.Millisecond) // a modification time apart
		write(t, generated, "package graph // b")
		write(t, client, "package catalogapi // same") // rewritten, unchanged
		return nil, nil
	}
	out := g.generate(context.Background(), []string{schema})
	if want := []string{"./services/catalog", "./services/catalog/catalogapi"}; !slices.Equal(ran, want) {
		t.Errorf("generate ran for %v, want %v", ran, want)
	}
	if want := []string{schema, generated}; !slices.Equal(out, want) {
		t.Errorf("the batch after generate is %v, want the schema and the file it changed %v", out, want)
	}
	// The watcher then reports what generate wrote, with a resolver edit.
	ran = nil
	out = g.generate(context.Background(), []string{generated, client, resolvers})
	if len(ran) != 0 {
		t.Errorf("generate ran again for %v on its own files", ran)
	}
	if want := []string{resolvers}; !slices.Equal(out, want) {
		t.Errorf("the echo of the generate's writes: batch %v, want only %v", out, want)
	}
	// A later edit of a generated file is a change again.
	write(t, generated, "package graph // edited by hand")
	if out := g.generate(context.Background(), []string{generated}); !slices.Equal(out, []string{generated}) {
		t.Errorf("an edit of a generated file after generate: batch %v, want it", out)
	}
	for _, e := range *got {
		if e.Kind == activity.BuildFailed || e.Kind == activity.Built {
			t.Errorf("a generate that changed code published %+v: its build says how it ended", e)
		}
	}
}

func TestGenerateThatChangesNothingEndsItsBuilding(t *testing.T) {
	s, dir, got := genSession(t)
	conf := filepath.Join(dir, "services", "catalog", "gqlgen.yml")
	write(t, conf, "schema: []")
	write(t, filepath.Join(dir, "services", "catalog", "graphql.go"), "package main\n\n//go:generate go tool gqlgen generate --config gqlgen.yml\n")
	g := s.generator()
	s.runGenerate = func(context.Context, string, []string) ([]byte, error) { return nil, nil }
	if out := g.generate(context.Background(), []string{conf}); !slices.Equal(out, []string{conf}) {
		t.Errorf("a generate that wrote nothing changed the batch to %v", out)
	}
	var kinds []activity.Kind
	for _, e := range *got {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, []activity.Kind{activity.Building, activity.Built}) {
		t.Errorf("events %v, want Building then Built", kinds)
	}
}

func TestGenerateFailureIsTheServicesBuildFailure(t *testing.T) {
	s, dir, got := genSession(t)
	svc := filepath.Join(dir, "services", "shop")
	schema := filepath.Join(svc, "shopapi", "schema.graphqls")
	generated := filepath.Join(svc, "graph", "generated.go")
	write(t, schema, "type Query {")
	write(t, filepath.Join(svc, "graphql.go"), "package main\n\n//go:generate go tool gqlgen generate --config gqlgen.yml\n")
	write(t, generated, "package graph // the version that serves")
	g := s.generator()
	s.runGenerate = func(context.Context, string, []string) ([]byte, error) {
		// As gqlgen: its output removed before the schema is read.
		if err := os.Remove(generated); err != nil {
			t.Fatal(err)
		}
		return []byte("failed to load schema: services/shop/shopapi/schema.graphqls:1: Expected Name, found <EOF>\n" +
			"services/shop/graphql.go:3: running \"go\": exit status 1\n"), errors.New("exit status 1")
	}
	out := g.generate(context.Background(), []string{schema})
	if !slices.Equal(out, []string{schema}) {
		t.Errorf("a failed generate changed the batch to %v", out)
	}
	if b, err := os.ReadFile(generated); err != nil || string(b) != "package graph // the version that serves" {
		t.Errorf("the code gqlgen removed is not put back: %q, %v", b, err)
	}
	if out := g.generate(context.Background(), []string{generated}); len(out) != 0 {
		t.Errorf("putting the code back is reported as a change: %v", out)
	}
	var failed []activity.Event
	for _, e := range *got {
		if e.Kind == activity.BuildFailed {
			failed = append(failed, e)
		}
	}
	if len(failed) != 1 || failed[0].Service != "shop" {
		t.Fatalf("want one BuildFailed of shop, got %+v", *got)
	}
	d := failed[0].Detail
	if !strings.Contains(d, "schema.graphqls:1: Expected Name, found <EOF>") || strings.Contains(d, "\n") || strings.Contains(d, "running") {
		t.Errorf("the failure is not gqlgen's message on one line: %q", d)
	}
}

func TestGenerateSkipsAServiceWithoutGraphQLGenerateLines(t *testing.T) {
	s, dir, got := genSession(t)
	svc := filepath.Join(dir, "services", "catalog")
	doc := filepath.Join(svc, "docs", "example.graphql")
	write(t, doc, "query { a }")
	write(t, filepath.Join(svc, "main.go"), "package main\n\n//go:generate stringer -type=T\n")
	g := s.generator()
	s.runGenerate = func(context.Context, string, []string) ([]byte, error) {
		t.Error("generate ran for a service with no gqlgen or genqlient line")
		return nil, nil
	}
	g.generate(context.Background(), []string{doc})
	if len(*got) != 0 {
		t.Errorf("published %+v", *got)
	}
}
