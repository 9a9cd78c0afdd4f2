#!/usr/bin/env bash
# The end-to-end tests of msx export compose against Docker Compose v2 alone,
# for when you work on the exports: the round trip with msx's images, and the
# build: path, which builds every image from the production Dockerfiles. The
# suite (scripts/test.sh) runs the same tests. It installs the pinned Compose
# once (scripts/compose-v2.sh), then runs them, where a missing Compose is a
# failure.
# Run from anywhere: bash scripts/e2e-export.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/compose-v2.sh
# The exported project has a Postgres database and the broker: the local
# images (built once when missing, like scripts/test.sh does).
eval "$(bash scripts/local-images.sh)"
MSX_E2E_COMPOSE=1 go test -count=1 -run 'TestExportCompose(Builds)?Docker' ./e2e
