#!/usr/bin/env bash
# The release check, outside the test suite because a snapshot cross-compiles
# msx six times: builds the pinned GoReleaser once (cached by version under
# ~/.cache/msx/goreleaser/VERSION, or $MSX_CACHE_DIR), checks .goreleaser.yaml,
# builds a snapshot into dist/ (archives, checksums, Homebrew cask; nothing is
# published) and runs the test that inspects it (release/snapshot_test.go).
# Run from anywhere: bash scripts/release-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

version=v2.15.1 # GoReleaser, from the Go module proxy
cache="${MSX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/msx}/goreleaser/$version"
goreleaser="$cache/goreleaser"
if [ ! -x "$goreleaser" ]; then
  echo "== building GoReleaser $version once into $cache (a few minutes)"
  mkdir -p "$cache"
  GOBIN="$cache" GOFLAGS= CGO_ENABLED=0 go install "github.com/goreleaser/goreleaser/v2@$version"
fi

echo "== goreleaser check"
"$goreleaser" check

echo "== goreleaser release --snapshot --clean"
# The cask's token is used only to publish, which a snapshot never does.
HOMEBREW_TAP_GITHUB_TOKEN="${HOMEBREW_TAP_GITHUB_TOKEN:-unused-by-snapshots}" \
  "$goreleaser" release --snapshot --clean

echo "== inspecting dist/"
MSX_RELEASE_DIST="$PWD/dist" go test -count=1 -run 'TestSnapshot' -v ./release
