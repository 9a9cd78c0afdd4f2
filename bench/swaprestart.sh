#!/usr/bin/env bash
# Benchmark: the restart half of a hot swap, two ways, in one run:
#
#   container  docker restart of the container (SIGTERM, graceful stop, start:
#              the engine tears down and sets up its network endpoint again)
#   init       msx-init as PID 1 (templates/msxinit, what msx packs into its
#              images and a swap uses) told by SIGUSR2 to stop the program
#              gracefully and start the new binary, the container and its
#              network untouched
#
# Both timed from the request to restart until the program answers again
# with a new start time, on a published 127.0.0.1 port. Same FROM scratch
# image, same program (bench/swaprestart/app.go).
# Usage: bash bench/swaprestart.sh [RUNS]   (default 10; prints medians)
set -euo pipefail
cd "$(dirname "$0")/swaprestart"
runs="${1:-10}"
port="${BENCH_PORT:-18095}"
work="$(mktemp -d)"
tag="msx-bench-swaprestart:$$"
name="msx-bench-swaprestart-$$"
cleanup() {
  docker rm -f -v "$name" >/dev/null 2>&1 || true
  docker rmi "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags='-s -w' -o "$work/init" ../../templates/msxinit
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags='-s -w' -o "$work/app" app.go
printf 'FROM scratch\nCOPY init /init\nCOPY app /msx/app\nENTRYPOINT ["/init", "/msx/app"]\n' > "$work/Dockerfile"
docker build -q -t "$tag" "$work" >/dev/null
docker run -d --name "$name" -p "127.0.0.1:$port:8080" "$tag" >/dev/null

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
answer() { curl -s --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null || true; }
until_new() { # until the program answers with another start time than $1
  for _ in $(seq 1 1000); do
    a=$(answer); [ -n "$a" ] && [ "$a" != "$1" ] && return 0
    sleep 0.01
  done
  echo "no answer" >&2; return 1
}
until_new ""
container=(); init=()
for i in $(seq 1 "$runs"); do
  before=$(answer); t0=$(now); docker restart -t 10 "$name" >/dev/null; until_new "$before"; t1=$(now)
  container+=("$(ms "$t0" "$t1")")
  before=$(answer); t0=$(now); docker kill -s USR2 "$name" >/dev/null; until_new "$before"; t1=$(now)
  init+=("$(ms "$t0" "$t1")")
done
mc=$(printf '%s\n' "${container[@]}" | median)
mi=$(printf '%s\n' "${init[@]}" | median)
echo "runs: $runs (ms, median)"
echo "container restart  $mc   [${container[*]}]"
echo "init restart       $mi   [${init[*]}]"
awk -v c="$mc" -v i="$mi" 'BEGIN { printf "container / init = %.2f\n", c / i }'
