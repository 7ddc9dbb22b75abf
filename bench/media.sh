#!/usr/bin/env bash
# Benchmark of media's inbound ingest (services/media/bench/ingest-bench.ts): files/s and MB/s
# against a bare download-and-write of the same files in the same run, and RSS while one large
# video (BENCH_LARGE_MB, 100) streams through each. Needs no server but the simulator it starts
# in process on 127.0.0.1. Knobs: BENCH_FILES (60), BENCH_FILE_MB (2), BENCH_CONCURRENCY (4).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
pnpm exec tsc -b services/media services/media/bench
node --expose-gc --initial-old-space-size=64 --max-semi-space-size=8 services/media/dist-bench/ingest-bench.js
