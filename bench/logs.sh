#!/usr/bin/env bash
# Benchmark: msx logs -f against docker logs -f, in one run on one machine.
#
# Ten containers print numbered lines ("gN SEQ") at RATE lines a second in
# all (default 50,000) for SECONDS seconds (default 10). msx logs -f follows
# all ten; the peer is ten docker logs -f, one per container, started at the
# same moment. Each output is checked per container: lines lost, duplicated
# and out of order (bar: zero for msx), and the CPU seconds the followers
# used.
#
# Usage: bash bench/logs.sh [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rate="${1:-50000}"
secs="${2:-10}"
n=10
per=$(( rate * secs / n ))

work="$(mktemp -d)"
proj="bench-logs-$$"
img="msx-bench-loggen:$$"
msx="$work/msx"
go build -o "$msx" .
CGO_ENABLED=0 go build -o "$work/loggen" ./bench/loggen
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  docker rm -f -v $(docker ps -aq --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
  docker rmi "$img" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# An image of the generator alone, made with docker import: no registry.
tar -C "$work" -c loggen | docker import -c 'ENTRYPOINT ["/loggen"]' - "$img" >/dev/null

# A workspace whose project owns the containers, so msx logs finds them by
# label as it finds a real project's.
mkdir -p "$work/ws"
cat > "$work/ws/msx.yaml" <<YAML
project: $proj
module: example.com/benchlogs
gateway:
  port: 18099
services: {}
YAML
ws="$(cd "$work/ws" && pwd -P)"

ids=()
for i in $(seq 1 $n); do
  ids+=("$(docker create --label dev.msx.project="$proj" --label dev.msx.workspace="$ws" \
    --label dev.msx.service="g$i" --name "$proj-g$i" "$img" -name "g$i" -n "$per" -rate $(( rate / n )) -delay 3s)")
done
docker start "${ids[@]}" >/dev/null

"$msx" -C "$ws" logs -f --no-prefix > "$work/msx.out" 2>"$work/msx.err" &
mpid=$!; pids+=("$mpid")
dpids=()
for i in $(seq 1 $n); do
  docker logs -f "$proj-g$i" > "$work/docker-g$i.out" 2>&1 &
  dpids+=("$!"); pids+=("$!")
done

# Wait until every container printed its END line in both outputs.
deadline=$(( $(date +%s) + secs + 60 ))
while :; do
  m=$(grep -c ' END$' "$work/msx.out" || true)
  d=$(cat "$work"/docker-g*.out | grep -c ' END$' || true)
  [ "$m" -ge $n ] && [ "$d" -ge $n ] && break
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "timed out: msx saw $m END lines, docker $d" >&2; break; fi
  sleep 0.5
done

cpu() { # user+system seconds of a pid
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}
mcpu=$(cpu "$mpid")
dcpu=0
for p in "${dpids[@]}"; do dcpu=$(awk -v a="$dcpu" -v b="$(cpu "$p")" 'BEGIN { printf "%.2f", a + b }'); done

check() { # file(s) -> "lost dup reordered lines"
  cat "$@" | awk -v n=$n -v per="$per" '
    $2 == "END" { next }
    NF == 2 && $1 ~ /^g[0-9]+$/ {
      s = $2 + 0; total++
      if (seen[$1, s]++) { dup++; next }
      uniq++
      if (s < last[$1]) reord++
      last[$1] = s
    }
    END { printf "%d %d %d %d", n * per - uniq, dup + 0, reord + 0, total + 0 }'
}
read -r ml md mr mt <<<"$(check "$work/msx.out")"
read -r dl dd dr dt <<<"$(check "$work"/docker-g*.out)"

echo "rate $rate lines/s over $n containers for ${secs}s: $(( n * per )) lines"
printf "%-22s %8s %6s %10s %8s\n" follower lost dup reordered cpu_s
printf "%-22s %8d %6d %10d %8s\n" "msx logs -f" "$ml" "$md" "$mr" "$mcpu"
printf "%-22s %8d %6d %10d %8s\n" "docker logs -f (x$n)" "$dl" "$dd" "$dr" "$dcpu"
awk -v m="$mcpu" -v d="$dcpu" 'BEGIN { if (d > 0) printf "CPU ratio msx / docker logs: %.2fx\n", m / d }'
