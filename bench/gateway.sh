#!/usr/bin/env bash
# Benchmark: the generated gateway (default middleware on: request IDs,
# tracing, access log, method/host checks, body limit, breaker) against
# nginx (Debian's package) and Caddy (github.com/caddyserver/caddy/v2 from
# the Go module proxy) as reverse proxies in front of the same service, and
# a direct call, with one load tool (bombardier, from the Go module proxy).
#
# Set-up (b) of the issue: every proxy and the service run as host
# processes on 127.0.0.1, so the figures are the proxy code alone. Load goes
# to 127.0.0.1 only.
#
# Usage: bash bench/gateway.sh [SECONDS] [RATE]   (defaults 10 and 1000)
# Prints, for each target, requests/s at saturation (64 connections) and
# p50/p99 at a fixed rate, then the gateway's ratios to nginx and Caddy.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
rate="${2:-1000}"
tools="${BENCH_TOOLS:-$HOME/.cache/msx-bench/bin}"
mkdir -p "$tools"
export GOBIN="$tools"
[ -x "$tools/bombardier" ] || go install github.com/codesenberg/bombardier@v1.2.6
[ -x "$tools/caddy" ] || go install github.com/caddyserver/caddy/v2/cmd/caddy@v2.11.9
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
  else
    echo "nginx is missing: apt-get install nginx-light" >&2; exit 1
  fi
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# A generated workspace with one service without a database.
go build -o "$work/msx" .
(cd "$work" && ./msx init shop --module example.com/shop >/dev/null && cd shop && ../msx new service orders --db none >/dev/null)
(cd "$work/shop" && go build -o "$work/orders" ./services/orders && go build -o "$work/gw" ./gateway)

svc=19181 gwp=19180 ngp=19182 cdp=19183
LISTEN_ADDR=127.0.0.1:$svc ADMIN_ADDR=127.0.0.1:0 "$work/orders" >/dev/null 2>&1 & pids+=($!)
MSX_ROUTES='[{"name":"orders","prefix":"/api/orders/","upstream":"http://127.0.0.1:'$svc'"}]' \
  LISTEN_ADDR=127.0.0.1:$gwp ADMIN_ADDR=127.0.0.1:0 "$work/gw" >/dev/null 2>&1 & pids+=($!)

cat >"$work/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log /dev/null;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  upstream orders { server 127.0.0.1:$svc; keepalive 256; }
  server {
    listen 127.0.0.1:$ngp;
    location /api/orders/ {
      proxy_pass http://orders/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
CONF
"$nginx_bin" -c "$work/nginx.conf" -p "$work" & pids+=($!)

cat >"$work/Caddyfile" <<CONF
{
  admin off
  auto_https off
}
http://127.0.0.1:$cdp {
  handle_path /api/orders/* {
    reverse_proxy 127.0.0.1:$svc
  }
}
CONF
XDG_DATA_HOME="$work" XDG_CONFIG_HOME="$work" "$tools/caddy" run --config "$work/Caddyfile" --adapter caddyfile >/dev/null 2>&1 & pids+=($!)

declare -A url=(
  [direct]="http://127.0.0.1:$svc/items"
  [msx-gateway]="http://127.0.0.1:$gwp/api/orders/items"
  [nginx]="http://127.0.0.1:$ngp/api/orders/items"
  [caddy]="http://127.0.0.1:$cdp/api/orders/items"
)
for t in direct msx-gateway nginx caddy; do
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "${url[$t]}" 2>/dev/null && break; sleep 0.1; done
  curl -fsS -o /dev/null "${url[$t]}" || { echo "$t does not answer at ${url[$t]}" >&2; exit 1; }
done

# bombardier's JSON: result.rps.mean and result.latency.percentiles (µs).
field() { python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; print(eval(sys.argv[1]))' "$1"; }
declare -A rps p50 p99
for t in direct msx-gateway nginx caddy; do
  "$tools/bombardier" -c 64 -d 2s -o json -p r "${url[$t]}" >/dev/null # warm up
  rps[$t]=$("$tools/bombardier" -c 64 -d "${secs}s" -o json -p r "${url[$t]}" | field 'round(r["rps"]["mean"])')
  out=$("$tools/bombardier" -c 16 -r "$rate" -d "${secs}s" -l -o json -p r "${url[$t]}")
  p50[$t]=$(echo "$out" | field 'r["latency"]["percentiles"]["50"]')
  p99[$t]=$(echo "$out" | field 'r["latency"]["percentiles"]["99"]')
done

echo "host processes on 127.0.0.1, ${secs}s per run, fixed rate ${rate} req/s"
printf '%-12s %12s %10s %10s\n' target "req/s@64c" "p50 µs" "p99 µs"
for t in direct msx-gateway nginx caddy; do
  printf '%-12s %12s %10s %10s\n' "$t" "${rps[$t]}" "${p50[$t]}" "${p99[$t]}"
done
awk -v g="${rps[msx-gateway]}" -v n="${rps[nginx]}" -v c="${rps[caddy]}" -v d="${rps[direct]}" \
    -v gp="${p99[msx-gateway]}" -v np="${p99[nginx]}" 'BEGIN {
  printf "gateway/nginx throughput: %.2fx (bar >= 0.75)\n", g/n
  printf "gateway/caddy throughput: %.2fx (bar >= 1.5)\n", g/c
  printf "gateway/direct throughput: %.2fx\n", g/d
  printf "gateway/nginx p99 at %d req/s: %.2fx (bar <= 1.5)\n", '"$rate"', gp/np
}'
