#!/usr/bin/env bash
# Benchmark: msx up -d against Docker Compose v2, in one run on one machine,
# each until the gateway answers through to a service (GET
# /api/checkout/healthz through the gateway).
#
#   images  start from existing images: no container, network or volume of the
#           project (after down --volumes), the images already in the engine
#   noop    up -d again with nothing changed: msx must not start the Go
#           toolchain, rebuild or recreate anything
#   cold    msx up -d with no msx image in the engine (warm Go build cache)
#
# The peer is Docker Compose v2 (v2.29.7, built from the Go module proxy and
# installed as the docker-compose CLI plugin under ~/.docker/cli-plugins when
# `docker compose version` is not that one) starting the very images msx built,
# in the same topology: gateway + 3 SQLite services with a volume each, on one
# network, checkout depending on orders and catalog, the gateway on all three.
# Compose does not wait for readiness (plain depends_on); msx does.
#
# Usage: bash bench/up.sh [RUNS]   (default 5; prints medians and ratios)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
port="${BENCH_GATEWAY_PORT:-18080}"
export MSX_GATEWAY_PORT="$port"
# Docker Compose v2 as the CLI plugin, once (the version the suite pins).
bash scripts/compose-v2.sh

work="$(mktemp -d)"
proj="bench-up-$$"
cproj="bench-compose-$$"
msx="$work/msx"
go build -o "$msx" .
ws="$work/$proj"
compose() { docker compose -p "$cproj" -f "$work/compose.yaml" "$@"; }
cleanup() {
  compose down --volumes >/dev/null 2>&1 || true
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1 || true
  docker rmi $(docker images -q --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$msx" init "$ws" --module example.com/bench >/dev/null 2>&1
"$msx" -C "$ws" new service orders --db sqlite >/dev/null 2>&1
"$msx" -C "$ws" new service catalog --db sqlite >/dev/null 2>&1
"$msx" -C "$ws" new service checkout --db sqlite --depends-on orders,catalog >/dev/null 2>&1
# Warm the Go build cache once, outside the timings.
(cd "$ws" && go mod download && CGO_ENABLED=0 GOOS=linux go build ./... )

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wait_gateway() {
  for _ in $(seq 1 3000); do
    curl -sf "http://127.0.0.1:$port/api/checkout/healthz" >/dev/null 2>&1 && return 0
    sleep 0.02
  done
  echo "gateway never answered" >&2; return 1
}

# A first up builds the images; the Compose file runs those same images with
# the environment msx gave each container.
"$msx" -C "$ws" up -d >/dev/null 2>&1
{
  echo "name: $cproj"
  echo "services:"
  for svc in orders catalog checkout gateway; do
    c="$proj-$svc"
    echo "  $svc:"
    echo "    image: $(docker inspect -f '{{.Config.Image}}' "$c")"
    echo "    environment:"
    docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$c" | grep -v '^PATH=' | grep . |
      sed "s/'/''/g; s/^/      - '/; s/\$/'/"
    case $svc in
      gateway)
        echo "    ports: ['127.0.0.1:$port:$port']"
        echo "    depends_on: [orders, catalog, checkout]" ;;
      checkout)
        echo "    volumes: ['$svc-data:/data']"
        echo "    depends_on: [orders, catalog]" ;;
      *)
        echo "    volumes: ['$svc-data:/data']" ;;
    esac
  done
  echo "volumes: {orders-data: {}, catalog-data: {}, checkout-data: {}}"
} > "$work/compose.yaml"

msx_images=(); msx_noop=(); cold=(); c_images=(); c_noop=()
for i in $(seq 1 "$runs"); do
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1
  t0=$(now); "$msx" -C "$ws" up -d >/dev/null 2>&1; wait_gateway; t1=$(now)
  msx_images+=("$(ms "$t0" "$t1")")
  t0=$(now); "$msx" -C "$ws" up -d >/dev/null 2>&1; wait_gateway; t1=$(now)
  msx_noop+=("$(ms "$t0" "$t1")")
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1

  t0=$(now); compose up -d >/dev/null 2>&1; wait_gateway; t1=$(now)
  c_images+=("$(ms "$t0" "$t1")")
  t0=$(now); compose up -d >/dev/null 2>&1; wait_gateway; t1=$(now)
  c_noop+=("$(ms "$t0" "$t1")")
  compose down --volumes >/dev/null 2>&1
done
# Cold last: it removes the images the runs above share with Compose.
for i in $(seq 1 "$runs"); do
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1
  docker rmi -f $(docker images -q --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
  t0=$(now); "$msx" -C "$ws" up -d >/dev/null 2>&1; wait_gateway; t1=$(now)
  cold+=("$(ms "$t0" "$t1")")
done

mi=$(printf '%s\n' "${msx_images[@]}" | median)
mn=$(printf '%s\n' "${msx_noop[@]}" | median)
ci=$(printf '%s\n' "${c_images[@]}" | median)
cn=$(printf '%s\n' "${c_noop[@]}" | median)
co=$(printf '%s\n' "${cold[@]}" | median)
echo "runs: $runs (medians, ms; each to the gateway answering through to checkout)"
echo "msx up -d from existing images:      $mi   [${msx_images[*]}]"
echo "compose up -d from existing images:  $ci   [${c_images[*]}]"
echo "msx up -d, nothing changed:          $mn   [${msx_noop[*]}]"
echo "compose up -d, nothing changed:      $cn   [${c_noop[*]}]"
echo "msx up -d cold (no msx image):       $co   [${cold[*]}]"
awk -v mi="$mi" -v ci="$ci" -v mn="$mn" -v cn="$cn" 'BEGIN {
  printf "ratios: from images msx/compose %.2fx (bar 1.2x), no-op msx/compose %.2fx (bar 1.5x)\n", mi/ci, mn/cn }'
