// Package dbtrace makes a span of each database statement a request makes:
// named after the statement ("SELECT items"), with its SQL text, and never its parameters,
// which hold users' data. Postgres statements are traced by a pgx tracer
// (PGX); code over database/sql (SQLite) calls Start around a statement.
package dbtrace

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

var tracer = otel.Tracer("example.com/shop/platform/dbtrace")

// Start starts the span of one statement of system ("postgresql",
// "sqlite"); call end with the statement's error. A statement outside any
// request (the start-up migrations, a background poll) gets no span: it
// would be a trace of its own, one per statement, burying the requests in
// msx trace.
func Start(ctx context.Context, system, query string) (context.Context, func(error)) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, func(error) {}
	}
	ctx, span := tracer.Start(ctx, Name(query),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system", system),
			attribute.String("db.operation", operation(query)),
			attribute.String("db.statement", oneLine(query)),
		))
	return ctx, func(err error) {
		// No row is an answer, not a failed statement.
		if err != nil && !errors.Is(err, pgx.ErrNoRows) && !errors.Is(err, sql.ErrNoRows) {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// PGX is a pgx tracer: set it as pgx.ConnConfig.Tracer.
type PGX struct{}

var _ pgx.QueryTracer = PGX{}

type endKey struct{}

// TraceQueryStart starts the statement's span.
func (PGX) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx, end := Start(ctx, "postgresql", data.SQL)
	return context.WithValue(ctx, endKey{}, end)
}

// TraceQueryEnd ends it with the statement's outcome.
func (PGX) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if end, ok := ctx.Value(endKey{}).(func(error)); ok {
		end(data.Err)
	}
}

// Name names a statement's span by its operation and table: "SELECT
// items", "INSERT items"; the operation alone when there is no table.
func Name(sql string) string {
	op := operation(sql)
	words := strings.Fields(sql)
	var after string
	switch op {
	case "SELECT", "DELETE":
		after = "FROM"
	case "INSERT":
		after = "INTO"
	case "UPDATE":
		if len(words) > 1 {
			return op + " " + table(words[1])
		}
	}
	for i, w := range words {
		if after != "" && strings.EqualFold(w, after) && i+1 < len(words) {
			return op + " " + table(words[i+1])
		}
	}
	return op
}

func operation(sql string) string {
	words := strings.Fields(sql)
	if len(words) == 0 {
		return "SQL"
	}
	return strings.ToUpper(words[0])
}

// table trims what follows a table name in SQL: "items(name)" is items.
func table(w string) string {
	if i := strings.IndexAny(w, "(;,"); i >= 0 {
		w = w[:i]
	}
	return strings.Trim(w, `"`)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
