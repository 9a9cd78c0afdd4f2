#!/usr/bin/env bash
# Benchmark: the dashboard's CPU while 10 services (SERVICES) log 5,000 lines/s in
# total, against a plain printer of the same stream (one "service | line"
# write per line, as docker compose up prints) measured in the same run.
# Each runs in its own 120x40 tmux pane, a real terminal; the generator's
# own cost (no observer) is measured too and subtracted from both.
# Usage: bash bench/dashboard.sh [SECONDS]   (default 20 per case)
#        SERVICES=50 bash bench/dashboard.sh  (the same 5,000 lines/s over 50 services)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
services="${SERVICES:-10}"
command -v tmux >/dev/null || { echo "tmux is not installed; bash scripts/install-deps.sh installs it" >&2; exit 1; }
dir="$(mktemp -d)"
socket="msx-bench-dashboard-$$"
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/load" ./bench/dashboard

measure() { # name mode [keys...] -> prints the JSON result; keys are typed before the warm-up ends
  local name="$1" mode="$2"; shift 2
  tmux -L "$socket" -f /dev/null new-session -d -s "$name" -x 120 -y 40 \
    "$dir/load -mode $mode -services $services -seconds $seconds -out $dir/$name.json 2>$dir/$name.err"
  if [ $# -gt 0 ]; then sleep 0.5; tmux -L "$socket" send-keys -t "$name" "$@"; fi
  local deadline=$((SECONDS + ${seconds%.*} + 30))
  until [ -s "$dir/$name.json" ]; do
    if [ $SECONDS -gt $deadline ]; then echo "$name: no result" >&2; cat "$dir/$name.err" >&2; exit 1; fi
    sleep 0.5
  done
  tmux -L "$socket" kill-session -t "$name" 2>/dev/null || true
  cat "$dir/$name.json"
}

none=$(measure none none)
plain=$(measure plain plain)
tui=$(measure tui tui)
# The worst case of the log pane: a filter that matches no line, so every
# line held is searched (each once per filter; new lines as they come).
filtered=$(measure filtered tui / zzz Enter)
pct() { sed -E 's/.*"cpu_percent_of_one_core":([0-9.]+).*/\1/' <<<"$1"; }
lps() { awk -v l="$(sed -E 's/.*"lines":([0-9]+).*/\1/' <<<"$1")" -v s="$(sed -E 's/.*"seconds":([0-9.]+).*/\1/' <<<"$1")" 'BEGIN { printf "%.0f", l/s }'; }
echo "measured: ${seconds}s per case, $services services, lines/s: none $(lps "$none"), plain $(lps "$plain"), dashboard $(lps "$tui"), filtered $(lps "$filtered")"
awk -v n="$(pct "$none")" -v p="$(pct "$plain")" -v t="$(pct "$tui")" -v f="$(pct "$filtered")" 'BEGIN {
  printf "CPU, percent of one core (whole process | minus the generator)\n"
  printf "generator alone:   %6.2f%%\n", n
  printf "plain printer:     %6.2f%% | %6.2f%%\n", p, p - n
  printf "dashboard:         %6.2f%% | %6.2f%%\n", t, t - n
  printf "dashboard, filter matching nothing: %6.2f%% | %6.2f%%\n", f, f - n
  printf "ratio dashboard/plain: %.2fx (whole process), %.2fx (minus the generator)\n", t / p, (t - n) / (p - n)
  printf "ratio filtered dashboard/plain: %.2fx (whole process), %.2fx (minus the generator)\n", f / p, (f - n) / (p - n)
}'
