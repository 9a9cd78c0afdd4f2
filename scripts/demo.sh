#!/usr/bin/env bash
# Brings up the demo system: builds msx, generates a workspace with three
# services on SQLite (one calling the other two) and starts it in Docker.
# Run from anywhere: bash scripts/demo.sh   (remove it with the printed msx down)
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/msx .
msx="$PWD/bin/msx"
demo="${MSX_DEMO_DIR:-$PWD/.demo/shop}"

if [ ! -f "$demo/msx.yaml" ]; then
  mkdir -p "$(dirname "$demo")"
  "$msx" init "$demo" --module example.com/shop
  "$msx" -C "$demo" new service orders --db sqlite
  "$msx" -C "$demo" new service catalog --db sqlite
  "$msx" -C "$demo" new service checkout --db sqlite --depends-on orders,catalog
fi

"$msx" -C "$demo" up -d
port="${MSX_GATEWAY_PORT:-8080}"
cat <<MSG

The demo is up. Try:
  curl -s localhost:$port/api/orders/healthz
  curl -s -H 'Content-Type: application/json' -d '{"name":"apple"}' localhost:$port/api/orders/items
  curl -s localhost:$port/api/orders/items
  curl -s localhost:$port/api/checkout/upstream
  $msx -C $demo ps
Remove it with:
  $msx -C $demo down --volumes
MSG
