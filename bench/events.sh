#!/usr/bin/env bash
# Events per second and p99 latency end to end through the generated
# platform/messaging (SQLite outbox, relay, JetStream, durable consumer,
# SQLite inbox), against raw JetStream publish-and-consume with the same
# client (nats.go) in the same run, on one NATS server (the image msx runs,
# MSX_IMAGES_NATS, or the one scripts/local-images.sh nats builds).
#
#   bash bench/events.sh [RUNS] [EVENTS]     # default 3 runs of 20000 events
#
# Zero lost and zero applied twice are checked in every run (exit 1
# otherwise). The broker is a container of its own, labelled
# dev.msx.project=msx-bench-events, on 127.0.0.1 only, removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
EVENTS=${2:-20000}
PROJECT=msx-bench-events
work=$(mktemp -d /tmp/msx-bench-events.XXXXXX)
cid=""
cleanup() {
  [ -n "$cid" ] && docker rm -f -v "$cid" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

img=${MSX_IMAGES_NATS:-}
if [ -z "$img" ]; then
  eval "$(bash scripts/local-images.sh nats)"
  img=$MSX_IMAGES_NATS
fi

echo "building msx and a workspace" >&2
go build -o "$work/msx" .
(cd "$work" && ./msx init ws --module example.com/benchws >/dev/null 2>&1)
mkdir -p "$work/ws/cmd/eventbench"
sed 's#"MODULE/#"example.com/benchws/#' bench/events/main.go.txt > "$work/ws/cmd/eventbench/main.go"
(cd "$work/ws" && go build -o "$work/eventbench" ./cmd/eventbench)

cid=$(docker run -d --label dev.msx.project=$PROJECT -p 127.0.0.1::4222 "$img" \
  --jetstream --store_dir /data --server_name bench)
port=$(docker port "$cid" 4222/tcp | head -1 | sed 's/.*://')
# The published port accepts connections before the server does (the
# engine's proxy): wait for the server's own word.
for _ in $(seq 100); do
  docker logs "$cid" 2>&1 | grep -q "Server is ready" && break
  sleep 0.1
done
echo "nats $(docker exec "$cid" /nats-server --version 2>/dev/null || echo "$img") on 127.0.0.1:$port; $(nproc) cores" >&2
mkdir -p "$work/db"
"$work/eventbench" -url "nats://127.0.0.1:$port" -n "$EVENTS" -runs "$RUNS" -dir "$work/db"
