#!/usr/bin/env bash
# The release check, outside the test suite because a snapshot cross-compiles
# msx six times: builds the pinned GoReleaser once (cached by version under
# ~/.cache/msx/goreleaser/VERSION, or $MSX_CACHE_DIR), checks .goreleaser.yaml,
# builds a snapshot of HEAD into dist/ (archives, checksums, Homebrew cask;
# nothing is published) and runs the test that inspects it (release/snapshot_test.go).
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

# GoReleaser reads the commit, its date and the remote from git (without a
# remote it falls back to a fake commit and a zero date), so the snapshot is
# built in a clone of HEAD: exactly what is committed, as a release would be.
if [ -n "$(git status --porcelain)" ]; then
  echo "note: uncommitted changes are not in the snapshot; it is built from HEAD"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone --quiet --no-checkout "$PWD" "$tmp/msx"
git -C "$tmp/msx" checkout --quiet "$(git rev-parse HEAD)"

echo "== goreleaser release --snapshot --clean"
# The cask's token is used only to publish, which a snapshot never does.
(cd "$tmp/msx" && HOMEBREW_TAP_GITHUB_TOKEN="${HOMEBREW_TAP_GITHUB_TOKEN:-unused-by-snapshots}" \
  "$goreleaser" release --snapshot --clean)
rm -rf dist
mv "$tmp/msx/dist" dist

echo "== inspecting dist/"
MSX_RELEASE_DIST="$PWD/dist" go test -count=1 -run 'TestSnapshot' -v ./release
