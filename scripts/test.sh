#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, vet, every test with the
# race detector (including the end-to-end tests that drive the real msx
# binary against the Docker engine, and every msx example of README.md and
# docs/), the generated references' freshness, the shape of .goreleaser.yaml
# and a go install from a clean clone. The release snapshot is checked apart,
# by scripts/release-check.sh, because it cross-compiles msx six times.
# Run from anywhere: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== prerequisites"
bash scripts/install-deps.sh

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

echo "== go test -race"
# Docker tests fail instead of skipping when CI=true and the engine is missing.
go test -race -count=1 -timeout 75m ./... 2>&1 | tee /tmp/msx-test.log
