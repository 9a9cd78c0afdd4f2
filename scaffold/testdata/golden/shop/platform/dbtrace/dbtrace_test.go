package dbtrace

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestName(t *testing.T) {
	for sql, want := range map[string]string{
		`SELECT id, name FROM items WHERE id > $1 ORDER BY id LIMIT $2`: "SELECT items",
		`insert into items (name) values ($1) returning id`:             "INSERT items",
		`INSERT INTO items(name) VALUES (?)`:                            "INSERT items",
		`DELETE FROM "items" WHERE id = $1`:                             "DELETE items",
		`UPDATE items SET name = $1`:                                    "UPDATE items",
		`SELECT pg_advisory_lock($1)`:                                   "SELECT",
		`   `:                                                           "SQL",
	} {
		if got := Name(sql); got != want {
			t.Errorf("Name(%q) = %q, want %q", sql, got, want)
		}
	}
}

func TestSpanHasTheStatementNotItsParameters(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	old := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	defer otel.SetTracerProvider(old)
	tracer = otel.Tracer("test") // the package's tracer was made before this provider

	// Outside a request: no span (start-up migrations are not traces).
	_, end := Start(context.Background(), "sqlite", "CREATE TABLE items (id INTEGER)")
	end(nil)
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("a statement outside any request made %d spans", n)
	}
	ctx, request := tp.Tracer("test").Start(context.Background(), "GET /items")
	defer request.End()
	_, end = Start(ctx, "sqlite", "INSERT INTO items (name)\n VALUES (?)")
	end(errors.New("boom"))
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name() != "INSERT items" || s.Status().Description != "boom" {
		t.Errorf("span %q status %v", s.Name(), s.Status())
	}
	attrs := map[string]string{}
	for _, a := range s.Attributes() {
		attrs[string(a.Key)] = a.Value.AsString()
	}
	if attrs["db.system"] != "sqlite" || attrs["db.statement"] != "INSERT INTO items (name) VALUES (?)" || attrs["db.operation"] != "INSERT" {
		t.Errorf("attributes %v", attrs)
	}
}
