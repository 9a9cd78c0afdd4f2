#!/usr/bin/env bash
# Installs the pinned Docker Compose v2 as the docker CLI plugin
# (~/.docker/cli-plugins/docker-compose), built from the Go module proxy
# with its version stamped, so that `docker compose version` names it. Once:
# a machine that has this version already returns at once. The suite runs
# msx's exports under it, and bench/ measures msx against it.
# Run from anywhere: bash scripts/compose-v2.sh
set -euo pipefail

compose_version=v2.29.7
if docker compose version 2>/dev/null | grep -q "$compose_version"; then
  exit 0
fi
echo "installing Docker Compose $compose_version as a docker CLI plugin (go install, once)" >&2
gobin=$(mktemp -d)
trap 'rm -rf "$gobin"' EXIT
GOBIN="$gobin" GOFLAGS=-mod=mod GOWORK=off go install \
  -ldflags "-X github.com/docker/compose/v2/internal.Version=$compose_version" \
  "github.com/docker/compose/v2/cmd@$compose_version"
mkdir -p "$HOME/.docker/cli-plugins"
mv "$gobin/cmd" "$HOME/.docker/cli-plugins/docker-compose"
docker compose version | grep -q "$compose_version" || {
  echo "Docker Compose $compose_version was built but \`docker compose version\` does not name it" >&2
  exit 1
}
