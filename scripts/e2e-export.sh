#!/usr/bin/env bash
# The end-to-end test of msx export compose against Docker Compose v2. The
# suite skips it when the docker CLI has no Compose v2 plugin, because
# building Compose from the Go module proxy takes minutes; this script
# installs it once (the same version bench/up.sh uses, as the docker CLI
# plugin under ~/.docker/cli-plugins) and runs the test, where a missing
# Compose is then a failure: the round trip with msx's images, and the
# build: path, which builds every image from the production Dockerfiles.
# Run from anywhere: bash scripts/e2e-export.sh
set -euo pipefail
cd "$(dirname "$0")/.."

compose_version=v2.29.7
if ! docker compose version 2>/dev/null | grep -q "v2\."; then
  echo "installing Docker Compose $compose_version as a docker CLI plugin (go install, once)" >&2
  gobin=$(mktemp -d)
  trap 'rm -rf "$gobin"' EXIT
  GOBIN="$gobin" go install -ldflags "-X github.com/docker/compose/v2/internal.Version=$compose_version" \
    "github.com/docker/compose/v2/cmd@$compose_version"
  mkdir -p "$HOME/.docker/cli-plugins"
  mv "$gobin/cmd" "$HOME/.docker/cli-plugins/docker-compose"
fi
# The exported project has a Postgres database and the broker: the local
# images (built once when missing, like scripts/test.sh does).
eval "$(bash scripts/local-images.sh)"
MSX_E2E_COMPOSE=1 go test -count=1 -run 'TestExportCompose(Builds)?Docker' ./e2e
