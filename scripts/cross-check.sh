#!/usr/bin/env bash
# msx builds and vets for the platforms its release ships besides Linux:
# darwin/arm64, darwin/amd64 and windows/amd64. go vet type-checks every
# package with its _test.go files for the target, so code or a test that
# does not compile there fails here, with the platform named. Nothing is
# run: this Linux machine cannot execute darwin or windows binaries (no
# emulator or Wine), so the tests run only as linux/amd64, in scripts/test.sh.
# Run from anywhere: bash scripts/cross-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for target in darwin/arm64 darwin/amd64 windows/amd64; do
  goos=${target%/*} goarch=${target#*/}
  echo "== $target: build and vet"
  pkgs=$(GOOS=$goos GOARCH=$goarch go list ./...)
  if [ "$goos" = windows ]; then
    # The benchmarks under bench/ measure this Linux machine (getrusage,
    # the local engine) and are not part of msx: not for Windows.
    pkgs=$(echo "$pkgs" | grep -v '/bench/')
  fi
  # shellcheck disable=SC2086 # one package per word
  if ! GOOS=$goos GOARCH=$goarch CGO_ENABLED=0 go build -o /dev/null . ||
     ! GOOS=$goos GOARCH=$goarch CGO_ENABLED=0 go vet $pkgs; then
    echo "msx does not build or vet for $target: fix the code above (a file for one platform needs a //go:build line and a twin for the others)" >&2
    exit 1
  fi
done
echo "ok: msx builds and vets for darwin/arm64, darwin/amd64, windows/amd64"
