#!/usr/bin/env bash
# Benchmark: one `go build` for every target (what msx runs) against one
# `go build` per target in parallel processes (what msx ran before), after an
# edit of a platform package that every service imports, with msx's flags.
#
# EDIT=comment (the default) appends a comment, as an edit of a function body
# does: the package recompiles and every binary relinks. EDIT=init appends an
# init function, which changes the package's export data: what imports it
# recompiles too.
#
# Usage: [EDIT=comment|init] bash bench/build.sh [RUNS]   (default 5; prints medians and the ratio)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
go build -o "$work/msx" .
ws="$work/shop"
"$work/msx" init "$ws" --module example.com/bench >/dev/null 2>&1
"$work/msx" -C "$ws" new service orders --db sqlite >/dev/null 2>&1
"$work/msx" -C "$ws" new service catalog --db sqlite >/dev/null 2>&1
"$work/msx" -C "$ws" new service checkout --db sqlite --depends-on orders,catalog >/dev/null 2>&1
cd "$ws"
export CGO_ENABLED=0 GOOS=linux GOARCH="$(go env GOHOSTARCH)"
pkgs=(./services/orders ./services/catalog ./services/checkout ./gateway)
flags=(-trimpath "-ldflags=-s -w")
case "${EDIT:-comment}" in
  comment) edit() { echo "// $1 $RANDOM" >> platform/server/server.go; } ;;
  init) edit() { echo "func init() { _ = \"$1 $RANDOM\" }" >> platform/server/server.go; } ;;
  *) echo "EDIT is comment or init" >&2; exit 2 ;;
esac
go mod download
go build "${flags[@]}" -o "$work/one/" "${pkgs[@]}" # warm the cache, outside the timings

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one=(); par=()
for i in $(seq 1 "$runs"); do
  edit one; t0=$(now)
  go build "${flags[@]}" -o "$work/one/" "${pkgs[@]}"
  one+=($(( ($(now) - t0) / 1000000 )))
  edit par; t0=$(now)
  for p in "${pkgs[@]}"; do go build "${flags[@]}" -o "$work/par/$(basename "$p")" "$p" & done
  wait
  par+=($(( ($(now) - t0) / 1000000 )))
done
o=$(printf '%s\n' "${one[@]}" | median)
p=$(printf '%s\n' "${par[@]}" | median)
echo "runs: $runs (medians, ms; after an edit (${EDIT:-comment}) of platform/server, which every target imports)"
echo "one go build of 4 targets:        $o   [${one[*]}]"
echo "4 go builds in parallel:          $p   [${par[*]}]"
awk -v o="$o" -v p="$p" 'BEGIN { printf "ratio: one/parallel %.2fx\n", o/p }'
