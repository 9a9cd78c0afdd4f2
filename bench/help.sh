#!/usr/bin/env bash
# Benchmark: msx --help start-up, against the docker CLI's --help measured in
# the same run (another Go CLI users run all day).
# Usage: bash bench/help.sh [RUNS]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-200}"
bin="$(mktemp -d)/msx"
go build -o "$bin" .
trap 'rm -rf "$(dirname "$bin")"' EXIT

time_runs() { # prints the mean in microseconds of running "$@" $runs times
  local t0 t1
  "$@" >/dev/null 2>&1 # warm the page cache
  t0=$(date +%s%N)
  for _ in $(seq 1 "$runs"); do "$@" >/dev/null 2>&1; done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / runs / 1000 ))
}

m=$(time_runs "$bin" --help)
d=$(time_runs docker --help)
echo "runs: $runs (mean per run, µs)"
echo "msx --help:    $m"
echo "docker --help: $d"
awk -v m="$m" -v d="$d" 'BEGIN { printf "ratio msx/docker: %.2fx\n", m/d }'
