#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, vet, every test with the
# race detector (including the end-to-end tests that drive the real msx
# binary against the Docker engine, msx's exports under Docker Compose v2,
# and every msx example of README.md and docs/), the generated references'
# freshness, the shape of .goreleaser.yaml and a go install from a clean
# clone. The release snapshot is checked apart, by scripts/release-check.sh,
# because it cross-compiles msx six times.
#
# It ends with a table of tests run, failed and skipped per package and the
# line "N passed, N failed, N skipped". With CI=true (as CI sets it), a test
# that skips fails the run unless scripts/test-skips.txt names it with a
# reason, and a missing Docker engine or Compose v2 fails the tests that need
# them instead of skipping them. The full go test -json stream is kept in a
# log of its own per run, named at the start.
# Run from anywhere: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== prerequisites"
bash scripts/install-deps.sh

# Docker Compose v2 builds from the Go module proxy (minutes, once): in the
# background, while the images build.
compose_log=$(mktemp -t msx-compose.XXXXXX.log)
bash scripts/compose-v2.sh >"$compose_log" 2>&1 &
compose_pid=$!

echo "== infrastructure images"
# Built when missing (Postgres from Debian's packages, minutes, once; NATS
# from the Go module proxy); the e2e tests run them. Fast when present.
images=$(bash scripts/local-images.sh)
eval "$images"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '/testdata/'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== cross-compile and vet for macOS and Windows"
# msx ships for them (.goreleaser.yaml); nothing here can run their binaries.
bash scripts/cross-check.sh

echo "== Docker Compose v2"
if ! wait "$compose_pid"; then
  cat "$compose_log" >&2
  echo "building Docker Compose v2 failed (above); the export tests need it" >&2
  exit 1
fi
rm -f "$compose_log"
docker compose version

echo "== Kubernetes: the export on a real single-node cluster"
# Runs when scripts/k8s-build.sh has built the cluster's binaries on this
# machine (20-40 minutes once, kept in ~/.cache/msx-k8s); without them it
# says how to build them, and the suite's server-side dry run skips too.
bash scripts/e2e-k8s.sh --if-cached

echo "== Podman: the getting-started path on its Docker API (skipped when podman is not installed)"
bash scripts/e2e-podman.sh --if-installed

log=$(mktemp -t msx-test.XXXXXX.log)
echo "== go test -race (the go test -json stream: $log)"
report=$(mktemp -d)
trap 'rm -rf "$report"' EXIT
go build -o "$report/testreport" ./internal/testreport/cmd/testreport
strict=
if [ "${CI:-}" = true ]; then strict=-strict; fi
# Docker tests fail instead of skipping when CI=true and the engine is missing;
# any other skip under CI=true must be named in scripts/test-skips.txt.
# -parallel 4: the end-to-end tests run in parallel (t.Parallel), and most
# of each is waiting on the engine, a container's start or a health check;
# four at a time keep both cores busy (docs/performance.md, Test suite).
go test -race -count=1 -json -parallel 4 -timeout 75m ./... 2>&1 | tee "$log" |
  "$report/testreport" -allow scripts/test-skips.txt $strict
