#!/usr/bin/env bash
# Benchmark: msx at 10, 25 and 50 services against Docker Compose v2, one run
# per size on one machine. Each workspace is a chain: service sNN depends on
# s(NN-1), every third with SQLite and the rest without a database, plus the
# gateway and the trace collector.
#
#   first     the first msx up -d (compiles and packs every image; warm Go
#             build cache)
#   images    up -d from existing images (after down --volumes), until every
#             service answers through the gateway (GET /api/sNN/healthz)
#   noop      up -d again with nothing changed
#   idle      attached msx up --no-tui, idle for 10 s: msx's CPU (% of one
#             core) and resident memory
#   swap      attached: from an edit of platform/server (an init function
#             that sets a variable, so that every binary changes) to the last
#             program (every service and the gateway) saying "swapped";
#             "built" is when the last said "built" (the go build), and the
#             rest is the copies, restarts and readiness checks
#   floor     the go build of those same binaries after the same edit, with
#             msx's flags: what the swap cannot go below. Twice: in a copy
#             of the workspace just before the swap, msx attached and every
#             container running (the same background as the swap's build),
#             and in the workspace after the attached up ended; the ratio
#             is against their mean (the machine may be shared, its load
#             moving between the two)
#   edit-up   up -d after another such edit, the containers stopped by the
#             attached up's Ctrl-C
#
# The peer is Docker Compose v2 (v2.29.7, installed by scripts/compose-v2.sh)
# running the very images msx built, from `msx export compose --images msx`,
# with depends_on as a user writes it (service_started: the export's
# service_healthy would wait for each link's first health check); timed until
# every service answers through the gateway, as msx is.
#
# Usage: bash bench/scale.sh [SIZE...]   (default: 10 25 50)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(10 25 50); fi
port="${BENCH_GATEWAY_PORT:-18090}"
export MSX_GATEWAY_PORT="$port" NO_COLOR=1
bash scripts/compose-v2.sh

work="$(mktemp -d)"
msx="$work/msx"
go build -o "$msx" .
projects=()
attached=""
cleanup() {
  [ -z "$attached" ] || kill -9 "$attached" 2>/dev/null || true
  for p in "${projects[@]}"; do
    docker compose -p "$p-compose" -f "$work/$p-compose/compose.yaml" down --volumes >/dev/null 2>&1 || true
    "$msx" -C "$work/$p" down --volumes >/dev/null 2>&1 || true
    docker rmi $(docker images -q --filter "label=dev.msx.project=$p") >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s%N; }
# up: msx up -d, its progress kept out of the way unless it fails.
up() { "$msx" -C "$ws" up -d >/dev/null 2>"$work/up.err" || { cat "$work/up.err" >&2; return 1; }; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
# wait_all N: every service of the chain answers through the gateway.
wait_all() {
  local i
  for i in $(seq -f %02g 1 "$1"); do
    for _ in $(seq 1 6000); do
      curl -sf "http://127.0.0.1:$port/api/s$i/healthz" >/dev/null 2>&1 && continue 2
      sleep 0.02
    done
    echo "s$i never answered through the gateway" >&2; return 1
  done
}
# cpu_ticks PID: user+system clock ticks the process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# said LOG FROM WORD: how many programs said "WORD" after byte FROM.
said() { tail -c +"$(( $2 + 1 ))" "$1" | grep -c "msx: $3" || true; }
swapped() { said "$1" "$2" swapped; }
# load: the 1-minute load average (the machine may be shared).
load() { cut -d' ' -f1 /proc/loadavg; }

# note: a figure as soon as it is measured (on stderr), so that a later
# failure of the same size does not lose it.
note() { echo "$n services: $*" >&2; }

results=()
for n in "${sizes[@]}"; do
  proj="bench-scale$n-$$"
  projects+=("$proj")
  ws="$work/$proj"
  "$msx" init "$ws" --module example.com/bench >/dev/null 2>&1
  for i in $(seq 1 "$n"); do
    name=$(printf 's%02d' "$i")
    db=none; [ $(( i % 3 )) -eq 0 ] && db=sqlite
    deps=(); [ "$i" -gt 1 ] && deps=(--depends-on "$(printf 's%02d' $(( i - 1 )))")
    "$msx" -C "$ws" new service "$name" --db "$db" "${deps[@]}" >/dev/null 2>&1
  done
  echo 'var benchEdit string' >> "$ws/platform/server/server.go"
  # edit [DIR]: a platform/ edit that changes every binary, in DIR (the workspace).
  edit() { echo "func init() { benchEdit = \"$RANDOM$RANDOM\" }" >> "${1:-$ws}/platform/server/server.go"; }
  (cd "$ws" && go mod download && CGO_ENABLED=0 GOOS=linux go build ./... )

  load0=$(load)
  t0=$(now); up; wait_all "$n"; first=$(ms "$t0" "$(now)")
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1
  t0=$(now); up; wait_all "$n"; images=$(ms "$t0" "$(now)")
  t0=$(now); up; wait_all "$n"; noop=$(ms "$t0" "$(now)")
  note "first $first, images $images, noop $noop (load $(load))"

  # Attached, idle, then a platform edit swapped into every program.
  log="$work/$proj-attached.log"
  "$msx" -C "$ws" up --no-tui >"$log" 2>&1 &
  attached=$!
  for _ in $(seq 1 600); do grep -q 'following' "$log" && break; sleep 0.1; done
  sleep 5 # the first samples and log lines settle
  c0=$(cpu_ticks "$attached"); t0=$(now); sleep 10
  idle_cpu=$(awk -v c="$(( $(cpu_ticks "$attached") - c0 ))" -v hz="$(getconf CLK_TCK)" -v t="$(ms "$t0" "$(now)")" \
    'BEGIN { printf "%.2f", c / hz / (t / 1000) * 100 }')
  idle_rss=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$attached/status")
  # The floor in a copy (msx does not watch it; -trimpath keeps the build
  # cache the workspace's), with the same background as the swap.
  flags=(-trimpath "-ldflags=-s -w")
  pkgs=(./gateway); for i in $(seq -f %02g 1 "$n"); do pkgs+=("./services/s$i"); done
  copy="$work/$proj-floor"
  cp -r "$ws" "$copy"; rm -rf "$copy/.msx"
  (cd "$copy" && CGO_ENABLED=0 GOOS=linux go build "${flags[@]}" -o "$work/floor/" "${pkgs[@]}")
  edit "$copy"; t0=$(now); load_floor_a=$(load)
  (cd "$copy" && CGO_ENABLED=0 GOOS=linux go build "${flags[@]}" -o "$work/floor/" "${pkgs[@]}")
  floor_a=$(ms "$t0" "$(now)")
  from=$(stat -c %s "$log")
  edit; t0=$(now); built=""; load_swap=$(load)
  for _ in $(seq 1 6000); do
    [ -n "$built" ] || [ "$(said "$log" "$from" built)" -lt $(( n + 1 )) ] || built=$(ms "$t0" "$(now)")
    [ "$(swapped "$log" "$from")" -ge $(( n + 1 )) ] && break
    sleep 0.05
  done
  swap=$(ms "$t0" "$(now)"); built=${built:-$swap}
  [ "$(swapped "$log" "$from")" -ge $(( n + 1 )) ] || swap="$swap(only-$(swapped "$log" "$from")-of-$(( n + 1 ))-swapped)"
  note "idle ${idle_cpu}% ${idle_rss}MiB, floor $floor_a attached (load $load_floor_a), swap $swap (built $built; load $load_swap)"
  kill -INT "$attached"; wait "$attached" || true; attached=""

  # The floor again, in the workspace, nothing else of msx running.
  (cd "$ws" && CGO_ENABLED=0 GOOS=linux go build "${flags[@]}" -o "$work/floor/" "${pkgs[@]}")
  edit; t0=$(now); load_floor_b=$(load)
  (cd "$ws" && CGO_ENABLED=0 GOOS=linux go build "${flags[@]}" -o "$work/floor/" "${pkgs[@]}")
  floor_b=$(ms "$t0" "$(now)")
  floor=$(( (floor_a + floor_b) / 2 ))
  note "floor $floor_b after (load $load_floor_b)"

  edit; t0=$(now); up; wait_all "$n"; editup=$(ms "$t0" "$(now)")
  mem=$(docker stats --no-stream --format '{{.MemUsage}}' $(docker ps -q --filter "label=dev.msx.project=$proj") |
    awk '{v=$1; u=v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+/, "", v); m = (u=="GiB") ? v*1024 : (u=="KiB") ? v/1024 : v; s+=m} END {printf "%.0f", s}')

  # Compose, on the same images.
  cdir="$work/$proj-compose"
  "$msx" -C "$ws" export compose --images msx --out "$cdir" >/dev/null 2>&1
  # depends_on as a user writes it (service_started): the export's
  # service_healthy waits for each health check's first interval.
  sed -i 's/condition: service_healthy/condition: service_started/' "$cdir/compose.yaml"
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1
  compose() { docker compose -p "$proj-compose" -f "$cdir/compose.yaml" "$@"; }
  t0=$(now); compose up -d >/dev/null 2>&1; wait_all "$n"; c_images=$(ms "$t0" "$(now)")
  t0=$(now); compose up -d >/dev/null 2>&1; wait_all "$n"; c_noop=$(ms "$t0" "$(now)")
  compose down --volumes >/dev/null 2>&1

  line="$n services: first $first, images $images (compose $c_images), noop $noop (compose $c_noop), swap $swap (built $built, floor $floor: $floor_a attached, $floor_b after), edit-up $editup, containers ${mem}MiB, msx attached idle ${idle_cpu}% ${idle_rss}MiB, load $load0 to $(load) (at the edits: floor $load_floor_a, swap $load_swap, floor $load_floor_b)"
  echo "$line"
  results+=("$n $first $images $c_images $noop $c_noop $swap $built $floor $editup $mem $idle_cpu $idle_rss $load0-$(load)")
  "$msx" -C "$ws" down --volumes >/dev/null 2>&1
  docker rmi $(docker images -q --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
done

echo
echo "| services | first up -d | from images: msx / compose (ratio) | no-op: msx / compose (ratio) | swap after platform/ edit (of which the build) / go build floor (ratio) | up -d after the edit | containers' memory | msx attached idle: CPU, RSS | load average (1 min) |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${results[@]}"; do
  read -r n first images ci noop cn swap built floor editup mem cpu rss ld <<<"$r"
  awk -v n="$n" -v f="$first" -v i="$images" -v ci="$ci" -v o="$noop" -v cn="$cn" -v s="$swap" -v b="$built" -v fl="$floor" \
    -v e="$editup" -v m="$mem" -v c="$cpu" -v r="$rss" -v ld="$ld" 'BEGIN {
    printf "| %d | %d ms | %d / %d ms (%.2fx) | %d / %d ms (%.2fx) | %s (%d) / %d ms (%.2fx) | %d ms | %d MiB | %s%%, %d MiB | %s |\n",
      n, f, i, ci, i/ci, o, cn, o/cn, s, b, fl, s/fl, e, m, c, r, ld }'
done
