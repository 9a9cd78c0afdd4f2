#!/usr/bin/env bash
# Benchmark: msx up -d of a workspace with databases, from warm images,
# against the floor of starting the same containers by hand, in one run.
#
#   msx    msx up -d of gateway + two Postgres services + one SQLite service
#          after msx down (images built, volumes initialised, no containers),
#          until it returns and the gateway answers through to each service
#   floor  bench/dbfloor: the same containers (captured from msx's run: same
#          images, env, volumes, networks), created and started through the
#          Engine API with the same readiness: databases healthy, services
#          answering /readyz, the gateway answering through to each service
#
# Usage: bash bench/db.sh [RUNS]   (default 5; prints medians and the ratio)
# Needs the Postgres image: eval "$(bash scripts/local-images.sh)" (or a pull).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
port="${BENCH_GATEWAY_PORT:-18081}"
export MSX_GATEWAY_PORT="$port"

work="$(mktemp -d)"
proj="bench-db-$$"
msx="$work/msx"
floor="$work/dbfloor"
go build -o "$msx" .
go build -o "$floor" ./bench/dbfloor
cleanup() {
  docker rm -f -v $(docker ps -aq --filter "label=bench.floor=$proj") >/dev/null 2>&1 || true
  docker network rm $(docker network ls -q --filter "label=bench.floor=1" --filter "name=$proj") >/dev/null 2>&1 || true
  "$msx" -C "$work/$proj" down --volumes >/dev/null 2>&1 || true
  docker rmi $(docker images -q --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$msx" init "$work/$proj" --module example.com/bench >/dev/null 2>&1
ws="$work/$proj"
"$msx" -C "$ws" new service orders --db postgres >/dev/null 2>&1
"$msx" -C "$ws" new service payments --db postgres >/dev/null 2>&1
"$msx" -C "$ws" new service catalog --db sqlite >/dev/null 2>&1
# Build the images and initialise the volumes once, outside the timings.
"$msx" -C "$ws" up -d >/dev/null
"$floor" capture "$proj" "$work/spec.json"

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
through() {
  for s in orders payments catalog; do
    curl -sf "http://127.0.0.1:$port/api/$s/readyz" >/dev/null || { echo "$s is not answering" >&2; return 1; }
  done
}

up=(); fl=()
for i in $(seq 1 "$runs"); do
  "$msx" -C "$ws" down >/dev/null 2>&1
  t0=$(now); "$msx" -C "$ws" up -d >/dev/null 2>&1; through; t1=$(now)
  up+=("$(ms "$t0" "$t1")")
  "$msx" -C "$ws" down >/dev/null 2>&1
  fl+=("$("$floor" run "$work/spec.json")")
done
"$msx" -C "$ws" down >/dev/null 2>&1

u=$(printf '%s\n' "${up[@]}" | median)
f=$(printf '%s\n' "${fl[@]}" | median)
echo "runs: $runs (medians, ms; each until the gateway answers through to every service)"
echo "msx up -d (warm images, 2 Postgres + 1 SQLite + gateway): $u   [${up[*]}]"
echo "floor: the same containers through the Engine API:       $f   [${fl[*]}]"
awk -v u="$u" -v f="$f" 'BEGIN { printf "ratio: msx/floor %.2fx (bar: 1.2x)\n", u/f }'
