#!/usr/bin/env bash
# Benchmark: the generated gateway (default middleware on: request IDs,
# tracing, metrics, access log, method/host checks, body limit, breaker)
# against nginx (Debian's nginx-light) and Caddy
# (github.com/caddyserver/caddy/v2 from the Go module proxy, built once and
# cached) as reverse proxies in front of the same generated service, a
# direct call, and go-floor (bench/proxyfloor: the least a proxy on the
# standard net/http server does, which the generated gateway is built on),
# with one load tool: wrk (Debian's package).
#
# Two set-ups, each in one run:
#   published  the path a user sees: msx up -d runs the service (expose:
#              true) and the gateway in containers; nginx and Caddy run as
#              containers too, on the workspace's Docker network in front
#              of the service by its name, as a user would run them (images
#              made here with docker import from the host's nginx and its
#              libraries, and from the Caddy binary). Load goes to each
#              proxy's port published on 127.0.0.1, and to the service's
#              published port for the direct call: every proxy path is
#              published port -> proxy container -> service container.
#   host       the proxy code alone: the service, the gateway, nginx and
#              Caddy all host processes on 127.0.0.1.
# Load goes to 127.0.0.1 only; container addresses are never a target.
#
# For each target: requests/s at saturation (wrk, 2 threads, 64
# connections) and p50/p99 at a fixed rate (10 connections, each pausing
# between requests so that together they send about RATE requests/s; the
# rate reached is printed). ROUNDS rounds, targets in a rotating order,
# medians reported, and the gateway's ratios to nginx and Caddy. Logs: the
# gateway and the service log every request (stdout to a file on the host,
# the engine's log driver in containers); nginx writes its access log as
# its default configuration does (to a file on the host; to stdout, as the
# official nginx image does, in a container); Caddy logs no requests by
# default.
#
# Usage: bash bench/gateway.sh [SECONDS] [RATE] [ROUNDS] [SETUPS]
#        defaults 10 1000 3 "published host"; BENCH_GATEWAY_PORT (18090)
# Run it under flock /work/wt/bench.lock on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
rate="${2:-1000}"
rounds="${3:-3}"
setups="${4:-published host}"
caddy_version=v2.11.9
cache="${BENCH_TOOLS:-$HOME/.cache/msx/bench}"
caddy="$cache/caddy-$caddy_version"
mkdir -p "$cache"

# Tools: wrk and nginx from Debian's packages, Caddy from the module proxy.
missing=0
command -v wrk >/dev/null || missing=1
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing=1
if [ "$missing" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
  else
    echo "wrk or nginx is missing: apt-get install wrk nginx-light" >&2; exit 1
  fi
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
if [ ! -x "$caddy" ]; then
  echo "building Caddy $caddy_version once into $caddy (go install, a few minutes)" >&2
  gobin="$(mktemp -d)"
  GOBIN="$gobin" go install "github.com/caddyserver/caddy/v2/cmd/caddy@$caddy_version"
  mv "$gobin/caddy" "$caddy"
  rmdir "$gobin"
fi

work="$(mktemp -d)"
proj="bench-gw-$$"
ws="$work/$proj"
msx="$work/msx"
pids=()
stop_procs() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
# Containers and images of the peers in the published set-up.
remove_peer_containers() {
  local ids
  ids=$(docker ps -aq --filter "label=msx-bench=$proj")
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null 2>&1 || true
}
cleanup() {
  stop_procs
  remove_peer_containers
  docker rmi "msx-bench-nginx:$proj" "msx-bench-caddy:$proj" "msx-bench-floor:$proj" >/dev/null 2>&1 || true
  [ -d "$ws" ] && "$msx" -C "$ws" down --volumes >/dev/null 2>&1 || true
  docker rmi $(docker images -q --filter "label=dev.msx.project=$proj") >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# One generated workspace: a service without a database, exposed so that
# the peers can reach it through its published port.
go build -o "$msx" .
"$msx" init "$ws" --module example.com/bench >/dev/null 2>&1
"$msx" -C "$ws" new service orders --db none >/dev/null 2>&1
sed -i 's/^    route: \/api\/orders\/$/&\n    expose: true/' "$ws/msx.yaml"
grep -q 'expose: true' "$ws/msx.yaml"
(cd "$ws" && go build -o "$work/orders" ./services/orders && go build -o "$work/gw" ./gateway)
# The floor of a proxy on net/http (bench/proxyfloor), static for its image.
CGO_ENABLED=0 go build -o "$work/proxyfloor" ./bench/proxyfloor

# wrk scripts: fixed.lua paces each connection; report.lua prints one line.
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.0f %d %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
LUA
conns_fixed=10
delay_ms=$(( conns_fixed * 1000 / rate ))
{ echo "delay = function() return $delay_ms end"; cat "$work/report.lua"; } >"$work/fixed.lua"

# nginx_conf TMP ACCESS_LOG UPSTREAM LISTEN [USER]: the nginx configuration
# of both set-ups: a reverse proxy of /api/orders/ with keep-alive
# connections to UPSTREAM, its files under TMP.
nginx_conf() {
  cat <<CONF
daemon off;
${5:-}
worker_processes auto;
pid $1/nginx.pid;
events { worker_connections 4096; }
http {
  access_log $2;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  upstream orders { server $3; keepalive 256; }
  server {
    listen $4;
    location /api/orders/ {
      proxy_pass http://orders/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
CONF
}

# caddyfile SITE UPSTREAM: Caddy's, the same proxy.
caddyfile() {
  cat <<CONF
{
  admin off
  auto_https off
  persist_config off
}
$1 {
  handle_path /api/orders/* {
    reverse_proxy $2
  }
}
CONF
}

# start_peers UPSTREAM_HOSTPORT NGINX_PORT CADDY_PORT: nginx and Caddy in
# front of the upstream, as host processes.
start_peers() {
  local up="$1" ngp="$2" cdp="$3" dir="$work/peers-$2"
  mkdir -p "$dir"
  nginx_conf "$dir" "$dir/access.log" "$up" "127.0.0.1:$ngp" >"$dir/nginx.conf"
  "$nginx_bin" -e "$dir/nginx-error.log" -c "$dir/nginx.conf" -p "$dir" & pids+=($!)
  caddyfile "http://127.0.0.1:$cdp" "$up" >"$dir/Caddyfile"
  XDG_DATA_HOME="$dir" XDG_CONFIG_HOME="$dir" "$caddy" run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/caddy.log" 2>&1 & pids+=($!)
}

# copy_with_libs BINARY ROOT PATH: the binary at ROOT/PATH, with the shared
# libraries it links (Caddy too, when go install linked it with cgo).
copy_with_libs() {
  local lib
  mkdir -p "$2$(dirname "$3")"
  cp "$1" "$2$3"
  for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$2$(dirname "$lib")"; cp -L "$lib" "$2$lib"
  done
}

# peer_images: nginx, Caddy and the floor as FROM-scratch images, made with
# docker import (no registry, no builder): the host's nginx with the
# libraries ldd lists, and the Caddy and floor binaries, each with its
# configuration. The upstream is the service by its name on the
# workspace's network (orders:8081); nginx logs to stdout, as the official
# nginx image does.
peer_images() {
  local root="$work/img-nginx"
  mkdir -p "$root/etc/nginx" "$root/tmp"
  copy_with_libs "$nginx_bin" "$root" /usr/sbin/nginx
  echo 'root:x:0:0:root:/:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin' >"$root/etc/passwd"
  echo 'root:x:0:
nogroup:x:65534:' >"$root/etc/group"
  nginx_conf /tmp /dev/stdout orders:8081 0.0.0.0:8080 "user nobody nogroup;" >"$root/etc/nginx/nginx.conf"
  tar -C "$root" -c . | docker import \
    -c 'ENTRYPOINT ["/usr/sbin/nginx", "-e", "stderr", "-p", "/tmp", "-c", "/etc/nginx/nginx.conf"]' \
    - "msx-bench-nginx:$proj" >/dev/null
  root="$work/img-caddy"
  mkdir -p "$root/tmp"
  copy_with_libs "$caddy" "$root" /caddy
  caddyfile "http://:8080" orders:8081 >"$root/Caddyfile"
  tar -C "$root" -c . | docker import \
    -c 'ENV XDG_DATA_HOME=/tmp XDG_CONFIG_HOME=/tmp' \
    -c 'ENTRYPOINT ["/caddy", "run", "--config", "/Caddyfile", "--adapter", "caddyfile"]' \
    - "msx-bench-caddy:$proj" >/dev/null
  root="$work/img-floor"
  mkdir -p "$root"
  cp "$work/proxyfloor" "$root/proxyfloor"
  tar -C "$root" -c . | docker import \
    -c 'ENTRYPOINT ["/proxyfloor", "0.0.0.0:8080", "orders:8081", "/api/orders"]' \
    - "msx-bench-floor:$proj" >/dev/null
}

# start_peer_containers NETWORK NGINX_PORT CADDY_PORT FLOOR_PORT: nginx,
# Caddy and the floor on the workspace's network, published on 127.0.0.1.
start_peer_containers() {
  local net="$1" name port
  declare -A ports=([nginx]="$2" [caddy]="$3" [floor]="$4")
  for name in nginx caddy floor; do
    port=${ports[$name]}
    docker run -d --name "$proj-bench-$name" --label "msx-bench=$proj" --network "$net" \
      --read-only --tmpfs /tmp -p "127.0.0.1:$port:8080" "msx-bench-$name:$proj" >/dev/null
  done
}

wait_url() {
  for _ in $(seq 1 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "$1 does not answer" >&2; return 1
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure SETUP: runs the rounds over the targets in url[], prints a table.
declare -A url
measure() {
  local setup="$1" targets=(direct msx-gateway nginx caddy go-floor) t i r line
  for t in "${targets[@]}"; do wait_url "${url[$t]}"; done
  declare -A sat p50 p99 got errs
  for t in "${targets[@]}"; do sat[$t]=""; p50[$t]=""; p99[$t]=""; got[$t]=""; errs[$t]=0; done
  echo "load before ($setup): $(cut -d' ' -f1-3 /proc/loadavg)"
  for r in $(seq 1 "$rounds"); do
    for i in "${!targets[@]}"; do
      t="${targets[$(( (i + r - 1) % ${#targets[@]} ))]}"
      wrk -t2 -c64 -d2s "${url[$t]}" >/dev/null # warm up
      line=$(wrk -t2 -c64 -d"${secs}s" -s "$work/report.lua" "${url[$t]}" | grep '^RESULT')
      read -r _ v _ _ e <<<"$line"; sat[$t]+="$v "; errs[$t]=$(( ${errs[$t]} + e ))
      line=$(wrk -t1 -c"$conns_fixed" -d"${secs}s" -s "$work/fixed.lua" "${url[$t]}" | grep '^RESULT')
      read -r _ v a b e <<<"$line"; got[$t]+="$v "; p50[$t]+="$a "; p99[$t]+="$b "; errs[$t]=$(( ${errs[$t]} + e ))
    done
  done
  echo "load after ($setup): $(cut -d' ' -f1-3 /proc/loadavg)"
  declare -A m
  echo "set-up: $setup; ${secs}s per run, $rounds rounds, medians; fixed rate ~$rate req/s"
  printf '%-12s %10s %12s %9s %9s %7s\n' target "req/s@64c" "fixed req/s" "p50 µs" "p99 µs" errors
  for t in "${targets[@]}"; do
    m[$t.sat]=$(tr ' ' '\n' <<<"${sat[$t]}" | grep . | median)
    m[$t.got]=$(tr ' ' '\n' <<<"${got[$t]}" | grep . | median)
    m[$t.p50]=$(tr ' ' '\n' <<<"${p50[$t]}" | grep . | median)
    m[$t.p99]=$(tr ' ' '\n' <<<"${p99[$t]}" | grep . | median)
    printf '%-12s %10s %12s %9s %9s %7s\n' "$t" "${m[$t.sat]}" "${m[$t.got]}" "${m[$t.p50]}" "${m[$t.p99]}" "${errs[$t]}"
  done
  echo "  each round's req/s@64c: gateway [${sat[msx-gateway]% }] nginx [${sat[nginx]% }] caddy [${sat[caddy]% }] direct [${sat[direct]% }] go-floor [${sat[go-floor]% }]"
  awk -v g="${m[msx-gateway.sat]}" -v n="${m[nginx.sat]}" -v c="${m[caddy.sat]}" -v d="${m[direct.sat]}" -v f="${m[go-floor.sat]}" \
      -v gp="${m[msx-gateway.p99]}" -v np="${m[nginx.p99]}" -v s="$setup" 'BEGIN {
    printf "%s: gateway/nginx throughput %.2fx (bar >= 0.75), gateway/caddy %.2fx (bar >= 1.5), gateway/direct %.2fx, nginx/direct %.2fx\n", s, g/n, g/c, g/d, n/d
    printf "%s: go-floor/nginx throughput %.2fx, gateway/go-floor %.2fx\n", s, f/n, g/f
    printf "%s: gateway/nginx p99 at the fixed rate %.2fx (bar <= 1.5)\n", s, gp/np
  }'
  for t in "${targets[@]}"; do
    if [ "${errs[$t]}" != 0 ]; then echo "warning: $t answered ${errs[$t]} requests with an error or non-2xx" >&2; fi
  done
}

for setup in $setups; do
  case "$setup" in
  published)
    port="${BENCH_GATEWAY_PORT:-18090}"
    "$msx" -C "$ws" --gateway-port "$port" up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
    svc_url=$("$msx" -C "$ws" ps --json | python3 -c 'import json,sys; print([s["url"] for s in json.load(sys.stdin) if s["service"]=="orders"][0])')
    net=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$proj-gateway")
    peer_images
    start_peer_containers "$net" 19282 19283 19284
    url=([direct]="$svc_url/items" [msx-gateway]="http://127.0.0.1:$port/api/orders/items"
         [nginx]="http://127.0.0.1:19282/api/orders/items" [caddy]="http://127.0.0.1:19283/api/orders/items"
         [go-floor]="http://127.0.0.1:19284/api/orders/items")
    measure published
    remove_peer_containers
    "$msx" -C "$ws" down --volumes >/dev/null 2>&1
    ;;
  host)
    svc=19181 gwp=19180
    LISTEN_ADDR=127.0.0.1:$svc ADMIN_ADDR=127.0.0.1:0 "$work/orders" >"$work/orders.log" 2>&1 & pids+=($!)
    MSX_ROUTES='[{"name":"orders","prefix":"/api/orders/","upstream":"http://127.0.0.1:'$svc'"}]' \
      LISTEN_ADDR=127.0.0.1:$gwp ADMIN_ADDR=127.0.0.1:0 "$work/gw" >"$work/gw.log" 2>&1 & pids+=($!)
    start_peers "127.0.0.1:$svc" 19182 19183
    "$work/proxyfloor" 127.0.0.1:19184 "127.0.0.1:$svc" /api/orders & pids+=($!)
    url=([direct]="http://127.0.0.1:$svc/items" [msx-gateway]="http://127.0.0.1:$gwp/api/orders/items"
         [nginx]="http://127.0.0.1:19182/api/orders/items" [caddy]="http://127.0.0.1:19183/api/orders/items"
         [go-floor]="http://127.0.0.1:19184/api/orders/items")
    measure host
    stop_procs
    ;;
  *) echo "unknown set-up $setup: want published or host" >&2; exit 2 ;;
  esac
done
