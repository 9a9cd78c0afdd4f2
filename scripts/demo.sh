#!/usr/bin/env bash
# Brings up the demo system: builds msx, generates a workspace with three
# services on SQLite (one calling the other two) and starts it in Docker.
# Run from anywhere: bash scripts/demo.sh   (stop it with the printed msx down)
#
# The demo is its own project, msx-demo, on its own gateway port (8090,
# or MSX_DEMO_PORT), so that it runs beside the README's quick start (the
# project shop, on 8080) in the same clone. MSX_DEMO_DIR moves its folder.
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/msx .
msx="$PWD/bin/msx"
demo="${MSX_DEMO_DIR:-$PWD/.demo/msx-demo}"
port="${MSX_DEMO_PORT:-8090}"

if [ ! -f "$demo/msx.yaml" ]; then
  mkdir -p "$(dirname "$demo")"
  "$msx" init "$demo" --name msx-demo --module example.com/demo
  # msx.yaml keeps the port, so that the printed commands find the demo
  # again without any variable set.
  sed "s/^  port: 8080\$/  port: $port/" "$demo/msx.yaml" > "$demo/msx.yaml.tmp"
  mv "$demo/msx.yaml.tmp" "$demo/msx.yaml"
  "$msx" -C "$demo" new service orders --db sqlite
  "$msx" -C "$demo" new service catalog --db sqlite
  "$msx" -C "$demo" new service checkout --db sqlite --depends-on orders,catalog
fi
port=$(sed -n 's/^  port: \([0-9]*\)$/\1/p' "$demo/msx.yaml" | head -n 1)

# MSX_GATEWAY_PORT would move the gateway away from the port msx.yaml keeps.
env -u MSX_GATEWAY_PORT "$msx" -C "$demo" up -d
cat <<MSG

The demo (project msx-demo) is up on port $port, beside anything on 8080. Try:
  curl -s localhost:$port/api/orders/healthz
  curl -s -H 'Content-Type: application/json' -d '{"name":"apple"}' localhost:$port/api/orders/items
  curl -s localhost:$port/api/orders/items
  curl -s localhost:$port/api/checkout/upstream
  $msx -C $demo ps
Stop it (its containers and data) with:
  $msx -C $demo down --volumes
MSG
