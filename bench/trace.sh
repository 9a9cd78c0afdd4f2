#!/usr/bin/env bash
# Benchmark: the trace collector and msx trace.
#
#   ingest     OTLP/HTTP protobuf requests of 512 spans (the Go SDK's batch
#              size, otelhttp's attributes) into the collector's handler and
#              store, with its segment file on disk, on one core
#              (GOMAXPROCS=1); spans per CPU second is the figure per core
#   list       msx trace on a store of 1,000,000 spans: the 20 most recent
#              traces over loopback HTTP, and the table drawn
#   filtered   the same with --service S: a service no trace has, one every
#              trace has, and one with --errors that no trace has (served by
#              the store's indexes of traces by service and in error)
#   slow       --min-duration 1s, which no trace lasts: no index serves a
#              duration, every trace is looked at
#   waterfall  msx trace ID with an 8-digit prefix (every trace ID compared)
#              and the waterfall drawn
#
# Usage: bash bench/trace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'Ingest' -benchtime 1000x -cpu 1 ./bench/tracebench
go test -run '^$' -bench '1M' -benchtime 20x -cpu 2 ./bench/tracebench
