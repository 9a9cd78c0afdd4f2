#!/usr/bin/env bash
# Benchmark: what one read of a page of items costs inside the process,
# REST against GraphQL, with no network and no load generator in the way.
#
# A workspace with two generated services over the in-memory store (--db
# none), rest (REST) and gql (--api graphql), each holding 50 items. A
# go test benchmark in each service's package (written here, not part of
# what msx generates) serves one request at a time through an
# httptest.ResponseRecorder:
#   rest      GET /items through the service's whole handler stack
#             (platform/service: access log, tracing, recovery, inbound)
#   graphql   query ListItems selecting the same fields, through the same
#             stack and platform/gql (limits, spans, error handling)
#   gqlgen    the same query through gqlgen's handler alone: handler.New
#             over the generated schema, the POST transport and the query
#             cache, nothing of msx's around it
# The last line is the floor of the GraphQL path: what gqlgen's executor
# costs before anything msx adds. Each line: case, median ns/op of COUNT
# runs of 3,000 requests on one core (GOMAXPROCS=1), B/op, allocs/op.
#
# Usage: bash bench/graphqlexec.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/msx" .
(cd "$tmp" && ./msx init ws --module example.com/ws >/dev/null 2>&1)
ws=$tmp/ws
(cd "$ws" && ../msx new service rest --db none >/dev/null 2>&1 && ../msx new service gql --api graphql --db none >/dev/null 2>&1)

cat >"$ws/services/rest/zz_bench_test.go" <<'EOF'
package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"example.com/ws/platform/inbound"
	"example.com/ws/platform/service"
)

func BenchmarkREST(b *testing.B) {
	store := NewMemoryStore()
	for range 50 {
		store.Create(context.Background(), "an item")
	}
	mux := http.NewServeMux()
	(&api{store: store}).register(mux)
	h := service.Handler(mux, "rest", slog.New(slog.NewJSONHandler(io.Discard, nil)), inbound.Options{})
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/items", nil))
		if w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
EOF

cat >"$ws/services/gql/zz_bench_test.go" <<'EOF'
package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"example.com/ws/platform/gql"
	"example.com/ws/platform/inbound"
	"example.com/ws/platform/service"
)

const listItems = `{"query":"query ListItems { items { items { id name createdAt } next } }","operationName":"ListItems"}`

func benchAPI() *api {
	store := NewMemoryStore()
	for range 50 {
		store.Create(context.Background(), "an item")
	}
	return &api{store: store}
}

func serve(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(listItems))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"next"`) {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

func BenchmarkGraphQL(b *testing.B) {
	mux := http.NewServeMux()
	s := gql.Settings{MaxDepth: 15, MaxComplexity: 5000, MaxBodyBytes: 1 << 20}
	benchAPI().register(mux, s)
	serve(b, service.Handler(mux, "gql", slog.New(slog.NewJSONHandler(io.Discard, nil)), inbound.Options{}))
}

func BenchmarkGqlgen(b *testing.B) {
	srv := handler.New(benchAPI().schema())
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	serve(b, srv)
}
EOF

(cd "$ws" && go test -c -o "$tmp/rest.test" ./services/rest && go test -c -o "$tmp/gql.test" ./services/gql)
run() { # test binary, benchmark: its result lines
	"$tmp/$1" -test.run '^$' -test.bench "^Benchmark$2\$" -test.benchtime 3000x -test.count "$count" -test.cpu 1 | grep "^Benchmark"
}
echo "# go: $(go env GOVERSION), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $count runs of 3,000 requests each"
printf 'case\tns/op (median)\tB/op\tallocs/op\n'
{
	run rest.test REST | sed 's/^BenchmarkREST/rest/'
	run gql.test GraphQL | sed 's/^BenchmarkGraphQL/graphql/'
	run gql.test Gqlgen | sed 's/^BenchmarkGqlgen/gqlgen/'
} | awk '{ns[$1] = ns[$1] " " $3; b[$1] = $5; a[$1] = $7; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
END {
	for (i = 1; i <= n; i++) {
		c = order[i]; m = split(substr(ns[c], 2), v, " ")
		for (x = 1; x <= m; x++) for (y = x + 1; y <= m; y++) if (v[y] + 0 < v[x] + 0) { t = v[x]; v[x] = v[y]; v[y] = t }
		med[c] = v[int((m + 1) / 2)]
		printf "%s\t%d\t%s\t%s\n", c, med[c], b[c], a[c]
	}
	printf "graphql / rest: %.1fx; gqlgen alone / rest: %.1fx\n", med["graphql"] / med["rest"], med["gqlgen"] / med["rest"]
}'
