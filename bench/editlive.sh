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
#            container; timed the same way (what msx did before hot swap)
#   air      Air (github.com/air-verse/air, from the Go module proxy)
#            rebuilding and restarting the same service as a host process,
#            its build delay set to msx's quiet period; timed until the
#            service itself answers with the new version
#   floor    the incremental `go build` of the service alone, with msx's flags
#
# One SQLite service behind the gateway. Usage: bash bench/editlive.sh [RUNS]
# (default 5; prints medians and ratios).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
port="${BENCH_GATEWAY_PORT:-18090}"
airport="${BENCH_AIR_PORT:-18091}"
air_version="v1.62.0"
export MSX_GATEWAY_PORT="$port"

work="$(mktemp -d)"
proj="bench-live-$$"
msx="$work/msx"
ws="$work/$proj"
uppid=""; airpid=""
go build -o "$msx" .
cleanup() {
  [ -n "$uppid" ] && kill -INT "$uppid" 2>/dev/null && wait "$uppid" 2>/dev/null || true
  [ -n "$airpid" ] && kill "$airpid" 2>/dev/null && wait "$airpid" 2>/dev/null || true
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1 || true
  docker rmi $(docker images -q --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

GOBIN="$work/bin" go install "github.com/air-verse/air@$air_version"
air="$work/bin/air"

"$msx" init "$ws" --module example.com/bench >/dev/null 2>&1
"$msx" -C "$ws" new service orders --db sqlite >/dev/null 2>&1
# Warm the Go build cache once, for linux (msx) and the host (Air).
(cd "$ws" && go mod download && CGO_ENABLED=0 GOOS=linux go build ./... && go build ./...)

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
v=100
edit() { v=$((v + 1)); printf 'package main\n\n// Version is this service'"'"'s version, reported by /healthz.\nconst Version = "0.%d.0"\n' "$v" > "$ws/services/orders/version.go"; }
# wait_version URL: until URL answers with the version just written.
wait_version() {
  for _ in $(seq 1 1200); do
    curl -s "$1" 2>/dev/null | grep -q "\"version\":\"0.$v.0\"" && return 0
    sleep 0.02
  done
  echo "no version 0.$v.0 from $1" >&2; return 1
}
gw="http://127.0.0.1:$port/api/orders/healthz"

# floor: the incremental build alone.
floor=()
for i in $(seq 1 "$runs"); do
  edit
  t0=$(now)
  (cd "$ws" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags=-s\ -w -o "$work/floor" ./services/orders)
  t1=$(now); floor+=("$(ms "$t0" "$t1")"); echo "floor $i: ${floor[-1]} ms" >&2
done

# swap: msx up attached, watching.
"$msx" -C "$ws" up --no-tui >"$work/up.log" 2>&1 &
uppid=$!
for _ in $(seq 1 1800); do grep -q "Ctrl-C to stop" "$work/up.log" && break; sleep 0.1; done
grep -q "Ctrl-C to stop" "$work/up.log" || { cat "$work/up.log" >&2; exit 1; }
# The service's own published port, as Air's is polled: polling through the
# gateway during the swap's gap (the old program stopped, the new one not
# yet listening) counts failures in the gateway's circuit breaker, which
# can then keep the route open-circuited for a while after the new version
# is up; the direct figure is the swap's own.
sport=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{if $b}}{{(index $b 0).HostPort}}{{end}}{{end}}' "$proj-orders")
direct="http://127.0.0.1:$sport/healthz"
swap=(); swapd=()
for i in $(seq 1 "$runs"); do
  edit
  t0=$(now); wait_version "$direct"; t1=$(now); wait_version "$gw"; t2=$(now)
  swapd+=("$(ms "$t0" "$t1")"); swap+=("$(ms "$t0" "$t2")")
  echo "swap $i: ${swapd[-1]} ms at the service, ${swap[-1]} ms through the gateway" >&2
  sleep 1 # let the swap's readiness check, pack and logs settle
done
kill -INT "$uppid"; wait "$uppid" 2>/dev/null || true; uppid=""

# image: msx up -d after each edit (rebuilt image, recreated container).
"$msx" -C "$ws" up -d >/dev/null 2>&1
image=()
for i in $(seq 1 "$runs"); do
  edit
  t0=$(now); "$msx" -C "$ws" up -d >/dev/null 2>&1; wait_version "$gw"; t1=$(now)
  image+=("$(ms "$t0" "$t1")"); echo "image $i: ${image[-1]} ms" >&2
done
"$msx" -C "$ws" down >/dev/null 2>&1

# air: the same service as a host process.
mkdir -p "$work/air-data"
cat > "$ws/.air.toml" <<EOF
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
EOF
(cd "$ws" && PORT="$airport" LISTEN_ADDR="127.0.0.1:$airport" SQLITE_PATH="$work/air-data/orders.db" \
  MSX_SERVICE=orders "$air" -c .air.toml >"$work/air.log" 2>&1) &
airpid=$!
edit; wait_version "http://127.0.0.1:$airport/healthz" || { cat "$work/air.log" >&2; exit 1; }
air=()
for i in $(seq 1 "$runs"); do
  edit
  t0=$(now); wait_version "http://127.0.0.1:$airport/healthz"; t1=$(now)
  air+=("$(ms "$t0" "$t1")"); echo "air $i: ${air[-1]} ms" >&2
  sleep 1
done
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
