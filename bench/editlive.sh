#!/usr/bin/env bash
# Benchmark: edit-to-live, from writing a service's version.go to the new
# version answering, in one run on one machine, for:
#
#   swap     msx up (attached, watching): the new binary is compiled on the
#            host and copied into the running container, whose init
#            (msx-init) restarts the program; the image is packed after;
#            timed until the service's published port answers with the new
#            version (swapd), then until the gateway does (swap)
#   image    msx up -d after the edit: a rebuilt image and a recreated
#            container; timed until the gateway answers with it (what msx
#            did before hot swap)
#   air      Air (github.com/air-verse/air, from the Go module proxy)
#            rebuilding and restarting the same service as a host process,
#            its build delay set to msx's quiet period; timed until the
#            service itself answers with the new version
#   floor    the incremental `go build` of the service alone, with msx's flags
#
# Each case has a workspace of its own (the same generated code: one SQLite
# service behind the gateway), all three running at once, and each round
# edits them one after the other, in an order that rotates: load that
# comes and goes on a shared machine then weighs on every case alike
# instead of on whichever ran during it.
#
# Usage: bash bench/editlive.sh [RUNS] (default 5; prints medians and ratios).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
port="${BENCH_GATEWAY_PORT:-18090}"   # the swap's gateway; the image's is port+2
airport="${BENCH_AIR_PORT:-18091}"
air_version="v1.62.0"

work="$(mktemp -d)"
msx="$work/msx"
sws="$work/bench-swap-$$"   # msx up, attached
iws="$work/bench-image-$$"  # msx up -d
aws="$work/bench-air-$$"    # Air
uppid=""; airpid=""
go build -o "$msx" .
cleanup() {
  [ -n "$uppid" ] && kill -INT "$uppid" 2>/dev/null && wait "$uppid" 2>/dev/null || true
  [ -n "$airpid" ] && kill "$airpid" 2>/dev/null && wait "$airpid" 2>/dev/null || true
  for ws in "$sws" "$iws"; do
    [ -d "$ws" ] || continue
    "$msx" -C "$ws" down --volumes >/dev/null 2>&1 || true
    docker rmi $(docker images -q --filter "label=dev.msx.project=$(basename "$ws")") >/dev/null 2>&1 || true
  done
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

GOBIN="$work/bin" go install "github.com/air-verse/air@$air_version"
air="$work/bin/air"

for ws in "$sws" "$iws" "$aws"; do
  "$msx" init "$ws" --module example.com/bench >/dev/null 2>&1
  "$msx" -C "$ws" new service orders --db sqlite >/dev/null 2>&1
done
# Warm the Go build cache once, for linux (msx) and the host (Air).
(cd "$sws" && go mod download && CGO_ENABLED=0 GOOS=linux go build ./... && go build ./...)

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
v=100
# edit WS: a new version of WS's orders.
edit() { v=$((v + 1)); printf 'package main\n\n// Version is this service'"'"'s version, reported by /healthz.\nconst Version = "0.%d.0"\n' "$v" > "$1/services/orders/version.go"; }
# wait_version URL: until URL answers with the version just written.
wait_version() {
  for _ in $(seq 1 3000); do
    curl -s "$1" 2>/dev/null | grep -q "\"version\":\"0.$v.0\"" && return 0
    sleep 0.02
  done
  echo "no version 0.$v.0 from $1" >&2; return 1
}

# The swap's environment: msx up attached, watching.
MSX_GATEWAY_PORT="$port" "$msx" -C "$sws" up --no-tui >"$work/up.log" 2>&1 &
uppid=$!
for _ in $(seq 1 3000); do grep -q "Ctrl-C to stop" "$work/up.log" && break; sleep 0.1; done
grep -q "Ctrl-C to stop" "$work/up.log" || { cat "$work/up.log" >&2; exit 1; }
# The service's own published port, as Air's is polled: polling through the
# gateway during the swap's gap (the old program stopped, the new one not
# yet listening) counts failures in the gateway's circuit breaker, which
# can then keep the route open-circuited for a while after the new version
# is up; the direct figure is the swap's own.
sport=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{if $b}}{{(index $b 0).HostPort}}{{end}}{{end}}' "$(basename "$sws")-orders")
sgw="http://127.0.0.1:$port/api/orders/healthz"
sdirect="http://127.0.0.1:$sport/healthz"

# The image path's environment: msx up -d.
igw="http://127.0.0.1:$((port + 2))/api/orders/healthz"
MSX_GATEWAY_PORT=$((port + 2)) "$msx" -C "$iws" up -d >/dev/null 2>&1

# Air's: the same service as a host process.
mkdir -p "$work/air-data"
cat > "$aws/.air.toml" <<AIR
root = "."
tmp_dir = "$work/air-tmp"
[build]
  cmd = "go build -o $work/air-tmp/orders ./services/orders"
  bin = "$work/air-tmp/orders"
  include_dir = ["services", "platform"]
  include_ext = ["go"]
  delay = 75
  kill_delay = "0s"
  send_interrupt = true
[log]
  silent = true
AIR
# exec: $! is Air itself, so that the cleanup ends Air (and Air its
# program), not only a subshell; an Air left behind would keep the
# benchmark lock's file open (flock) and every other benchmark waiting.
(cd "$aws" && PORT="$airport" LISTEN_ADDR="127.0.0.1:$airport" SQLITE_PATH="$work/air-data/orders.db" \
  MSX_SERVICE=orders exec "$air" -c .air.toml >"$work/air.log" 2>&1) &
airpid=$!
edit "$aws"; wait_version "http://127.0.0.1:$airport/healthz" || { cat "$work/air.log" >&2; exit 1; }

floor=(); swap=(); swapd=(); image=(); air=()
case_floor() {
  edit "$iws"
  local t0 t1; t0=$(now)
  (cd "$iws" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags=-s\ -w -o "$work/floor" ./services/orders)
  t1=$(now); floor+=("$(ms "$t0" "$t1")")
  # The image workspace's source is now ahead of its containers: its own
  # case edits it again before timing, so this costs it nothing.
}
case_swap() {
  edit "$sws"
  local t0 t1 t2; t0=$(now); wait_version "$sdirect"; t1=$(now); wait_version "$sgw"; t2=$(now)
  swapd+=("$(ms "$t0" "$t1")"); swap+=("$(ms "$t0" "$t2")")
  sleep 1 # the swap's readiness check, pack and logs settle
}
case_image() {
  edit "$iws"
  local t0 t1; t0=$(now); MSX_GATEWAY_PORT=$((port + 2)) "$msx" -C "$iws" up -d >/dev/null 2>&1; wait_version "$igw"; t1=$(now)
  image+=("$(ms "$t0" "$t1")")
}
case_air() {
  edit "$aws"
  local t0 t1; t0=$(now); wait_version "http://127.0.0.1:$airport/healthz"; t1=$(now)
  air+=("$(ms "$t0" "$t1")")
  sleep 1
}
cases=(floor swap image air)
for i in $(seq 1 "$runs"); do
  order=()
  for j in 0 1 2 3; do order+=("${cases[$(( (i + j) % 4 ))]}"); done
  for c in "${order[@]}"; do "case_$c"; done
  echo "round $i (${order[*]}): floor ${floor[-1]}, swap ${swapd[-1]} at the service / ${swap[-1]} through the gateway, image ${image[-1]}, air ${air[-1]} ms" >&2
done
kill -INT "$uppid"; wait "$uppid" 2>/dev/null || true; uppid=""
kill "$airpid"; wait "$airpid" 2>/dev/null || true; airpid=""

m_floor=$(printf '%s\n' "${floor[@]}" | median)
m_swap=$(printf '%s\n' "${swap[@]}" | median)
m_swapd=$(printf '%s\n' "${swapd[@]}" | median)
m_image=$(printf '%s\n' "${image[@]}" | median)
m_air=$(printf '%s\n' "${air[@]}" | median)
echo "runs: $runs (ms, median)"
echo "floor  go build alone           ${m_floor}   [${floor[*]}]"
echo "swapd  msx hot swap, service    ${m_swapd}   [${swapd[*]}]"
echo "swap   msx hot swap, gateway    ${m_swap}   [${swap[*]}]"
echo "air    Air, host process        ${m_air}   [${air[*]}]"
echo "image  msx up -d, new image     ${m_image}   [${image[*]}]"
awk -v s="$m_swap" -v d="$m_swapd" -v a="$m_air" -v i="$m_image" -v f="$m_floor" 'BEGIN {
  printf "swapd / air  = %.2f  (bar: <= 1.00; both at the service)\n", d / a
  printf "swap / air   = %.2f\n", s / a
  printf "image / swap = %.2f  (bar: >= 3.00)\n", i / s
  printf "image / swapd = %.2f\n", i / d
  printf "swap / floor = %.2f\n", s / f
}'
# Where a swap's time goes, as the session reported it (built in: the
# compile; swapped in: edit to ready, from the batch's start).
grep -E 'msx: (built|swapped) in' "$work/up.log" | tail -n $((2 * runs)) >&2 || true
