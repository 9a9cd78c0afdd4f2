#!/usr/bin/env bash
# Installs what the tests need beyond Go and Docker, which this kind of
# machine already has. Idempotent; quick when everything is present.
set -euo pipefail

need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v git >/dev/null 2>&1 || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]}; install them with your package manager" >&2
    exit 1
  fi
fi

command -v go >/dev/null 2>&1 || { echo "Go is not installed: see https://go.dev/doc/install" >&2; exit 1; }
if ! docker info >/dev/null 2>&1 && ! curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; then
  echo "warning: the Docker engine is not answering; the Docker tests will fail under CI=true" >&2
fi

# staticcheck checks the generated workspace in the e2e tests. Built once
# from the Go module proxy into a cache outside the repository; the tests
# find it through MSX_STATICCHECK or this path.
staticcheck_version=v0.8.2
staticcheck_bin="${XDG_CACHE_HOME:-$HOME/.cache}/msx-tools/staticcheck-$staticcheck_version/staticcheck"
if [ ! -x "$staticcheck_bin" ]; then
  echo "building staticcheck $staticcheck_version (once)"
  GOBIN="$(dirname "$staticcheck_bin")" GOFLAGS=-mod=mod GOWORK=off \
    go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
