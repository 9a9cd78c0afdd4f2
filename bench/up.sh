#!/usr/bin/env bash
# Benchmark: msx up -d against its floor, in one run on one machine.
#
#   cold   msx up -d of gateway + 3 SQLite services, with no msx image in the
#          engine (the Go build cache is warm: "cold" here is cold images and
#          containers, which is what a developer sees after docker system prune)
#   warm   msx up -d again with nothing changed: must rebuild and recreate nothing
#   floor  the same four programs started as plain `docker run -d` of the images
#          msx built, on one network, waiting for the gateway to answer
#
# Usage: bash bench/up.sh [RUNS]   (default 5; prints medians and ratios)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
port="${BENCH_GATEWAY_PORT:-18080}"
export MSX_GATEWAY_PORT="$port"

work="$(mktemp -d)"
proj="bench-up-$$"
msx="$work/msx"
go build -o "$msx" .
cleanup() {
  "$msx" -C "$work/$proj" down --volumes >/dev/null 2>&1 || true
  docker rm -f $(docker ps -aq --filter "label=bench.floor=$proj") >/dev/null 2>&1 || true
  docker network rm "$proj-floor" >/dev/null 2>&1 || true
  docker rmi $(docker images -q --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$msx" init "$work/$proj" --module example.com/bench >/dev/null 2>&1
ws="$work/$proj"
"$msx" -C "$ws" new service orders --db sqlite >/dev/null 2>&1
"$msx" -C "$ws" new service catalog --db sqlite >/dev/null 2>&1
"$msx" -C "$ws" new service checkout --db sqlite --depends-on orders,catalog >/dev/null 2>&1
# Warm the Go build cache once, outside the timings.
(cd "$ws" && go mod download && CGO_ENABLED=0 GOOS=linux go build ./... )

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wait_gateway() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/api/checkout/healthz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "gateway never answered" >&2; return 1
}

cold=(); warm=(); floor=()
for i in $(seq 1 "$runs"); do
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1
  docker rmi -f $(docker images -q --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
  t0=$(now); "$msx" -C "$ws" up -d >/dev/null 2>&1; wait_gateway; t1=$(now)
  cold+=("$(ms "$t0" "$t1")")
  t0=$(now); "$msx" -C "$ws" up -d >/dev/null 2>&1; wait_gateway; t1=$(now)
  warm+=("$(ms "$t0" "$t1")")

  # The floor: the images msx just built, started by hand with docker run.
  imgs=$(docker ps --filter "label=dev.msx.project=$proj" --format '{{.Label "dev.msx.service"}}={{.Image}}')
  "$msx" -C "$ws" down >/dev/null 2>&1
  img() { echo "$imgs" | sed -n "s/^$1=//p"; }
  t0=$(now)
  docker network create --label "bench.floor=$proj" "$proj-floor" >/dev/null
  for svc in orders:8081 catalog:8082; do
    n=${svc%%:*}; p=${svc##*:}
    docker run -d --label "bench.floor=$proj" --network "$proj-floor" --network-alias "$n" \
      -e PORT="$p" -e LISTEN_ADDR="0.0.0.0:$p" -e SQLITE_PATH=/tmp/$n.db "$(img "$n")" >/dev/null
  done
  docker run -d --label "bench.floor=$proj" --network "$proj-floor" --network-alias checkout \
    -e PORT=8083 -e LISTEN_ADDR=0.0.0.0:8083 -e SQLITE_PATH=/tmp/checkout.db \
    -e ORDERS_URL=http://orders:8081 -e CATALOG_URL=http://catalog:8082 "$(img checkout)" >/dev/null
  docker run -d --label "bench.floor=$proj" --network "$proj-floor" -p "127.0.0.1:$port:8080" \
    -e PORT=8080 -e LISTEN_ADDR=0.0.0.0:8080 \
    -e MSX_ROUTES='[{"name":"checkout","prefix":"/api/checkout/","upstream":"http://checkout:8083"}]' \
    "$(img gateway)" >/dev/null
  wait_gateway; t1=$(now)
  floor+=("$(ms "$t0" "$t1")")
  docker rm -f $(docker ps -aq --filter "label=bench.floor=$proj") >/dev/null
  docker network rm "$proj-floor" >/dev/null
done

c=$(printf '%s\n' "${cold[@]}" | median)
w=$(printf '%s\n' "${warm[@]}" | median)
f=$(printf '%s\n' "${floor[@]}" | median)
echo "runs: $runs (medians, ms; each to the gateway answering through to checkout)"
echo "cold msx up -d (no msx images, warm Go cache): $c   [${cold[*]}]"
echo "warm msx up -d (nothing changed):              $w   [${warm[*]}]"
echo "floor: docker run -d of prebuilt images:       $f   [${floor[*]}]"
awk -v c="$c" -v w="$w" -v f="$f" 'BEGIN { printf "ratios: cold/floor %.2fx, warm/floor %.2fx\n", c/f, w/f }'
