#!/usr/bin/env bash
# Benchmark: the same read of items through REST and through GraphQL.
#
# A workspace with two generated services over the in-memory store (--db
# none), rest (REST) and gql (--api graphql), each built and run on
# loopback outside Docker, each holding the same 50 items. The load
# generator (bench/graphql) sends ROUNDS rounds of N requests from 16
# workers, alternating REST and GraphQL so that both meet the same machine
# load: REST's GET /items against GraphQL's query ListItems selecting the
# same fields (id, name, createdAt, next: the page REST answers). Each line:
# case, requests per second, p50 ms, p99 ms.
#
# WORKER_LIMITS="1 4" adds one GraphQL case per number: the same service
# generated with exec.worker_limit set to it in gqlgen.yml (gqlgen's cap on
# the goroutines that marshal a list's elements; 0, the default, is none),
# so that the setting is measured against the default in the same run.
#
# Usage: [WORKER_LIMITS="N ..."] bash bench/graphql.sh [ROUNDS] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
n=${2:-20000}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/msx" .
go build -o "$tmp/load" ./bench/graphql
(cd "$tmp" && ./msx init ws --module example.com/ws >/dev/null 2>&1)
ws=$tmp/ws
(cd "$ws" && ../msx new service rest --db none >/dev/null 2>&1 && ../msx new service gql --api graphql --db none >/dev/null 2>&1)
(cd "$ws" && go build -o "$tmp/rest" ./services/rest && go build -o "$tmp/gql" ./services/gql)
limits=${WORKER_LIMITS:-}
for l in $limits; do
	# gqlgen.yml as a user would edit it, then go generate, then restored.
	cp "$ws/services/gql/gqlgen.yml" "$tmp/gqlgen.yml"
	sed -i "s/^exec:\$/exec:\n  worker_limit: $l/" "$ws/services/gql/gqlgen.yml"
	(cd "$ws/services/gql" && go generate -run gqlgen . >/dev/null)
	grep -q "MarshalSliceConcurrently(ctx, len(v), $l," "$ws/services/gql/graph/generated.go" ||
		{ echo "worker_limit $l did not reach the generated code" >&2; exit 1; }
	(cd "$ws" && go build -o "$tmp/gql-limit$l" ./services/gql)
	cp "$tmp/gqlgen.yml" "$ws/services/gql/gqlgen.yml"
done

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rp=$(port); gp=$(port)
LOG_LEVEL=warn PORT=$rp "$tmp/rest" >"$tmp/rest.log" 2>&1 & pids+=($!)
LOG_LEVEL=warn PORT=$gp "$tmp/gql" >"$tmp/gql.log" 2>&1 & pids+=($!)
declare -A lp
for l in $limits; do
	lp[$l]=$(port)
	LOG_LEVEL=warn PORT=${lp[$l]} "$tmp/gql-limit$l" >"$tmp/gql-limit$l.log" 2>&1 & pids+=($!)
done
for p in $rp $gp "${lp[@]}"; do
	for _ in $(seq 100); do curl -fs "127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
done
for i in $(seq 50); do
	curl -fs -H 'Content-Type: application/json' -d "{\"name\":\"item $i\"}" "127.0.0.1:$rp/items" >/dev/null
	for p in $gp "${lp[@]}"; do
		curl -fs -H 'Content-Type: application/json' -d "{\"query\":\"mutation { createItem(name: \\\"item $i\\\") { id } }\"}" "127.0.0.1:$p/graphql" >/dev/null
	done
done
query='{"query":"query ListItems { items { items { id name createdAt } next } }","operationName":"ListItems"}'
echo "# go: $(go env GOVERSION), $(nproc) cores, $rounds rounds of $n requests, 16 workers"
printf 'case\treq/s\tp50 ms\tp99 ms\n'
for r in $(seq "$rounds"); do
	"$tmp/load" -name "rest GET /items" -url "http://127.0.0.1:$rp/items" -n "$n"
	"$tmp/load" -name "graphql query ListItems" -url "http://127.0.0.1:$gp/graphql" -body "$query" -n "$n"
	for l in $limits; do
		"$tmp/load" -name "graphql, worker_limit $l" -url "http://127.0.0.1:${lp[$l]}/graphql" -body "$query" -n "$n"
	done
done
