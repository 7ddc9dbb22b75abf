#!/usr/bin/env bash
# Benchmark of campaign planning (docs/benchmarks.md, "Campaigns"): BENCH_ROWS (500000) audience
# rows uploaded to the campaigns service (its own process), planned and enqueued, against two
# same-run baselines: a bare producer writing the same number of SendRequested records, and bare
# MongoDB bulk writes (upserts, then inserts) of the same number of queue documents. Prints time,
# rows/s, the service's CPU per row and its peak RSS, and the servers' CPU per row (MongoDB, Kafka,
# the registry) during the plan and each baseline. Starts its own servers (profile "bench-campaigns", ports
# 53092/53093/53081/53082/53017 unless BENCH_KAFKA_PORT, BENCH_KAFKA_CONTROLLER_PORT,
# BENCH_REGISTRY_PORT, BENCH_REGISTRY_MANAGEMENT_PORT, BENCH_MONGO_PORT say otherwise: the ports of
# a shell's environment are ignored, so it never stops shared servers), builds, runs, stops them.
# Knobs: BENCH_ROWS (50000 for a quick check), BENCH_CHUNK (1000), BENCH_CAP (1: with a frequency
# cap), BENCH_SERVICE_NODE_FLAGS, BENCH_MONGO_HEAP (6g: the stand-in's JVM heap), BENCH_KEEP_INFRA=1 (leave the servers running and reuse them).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PARLEY_PROFILE=bench-campaigns PARLEY_STATE_DIR="$repo/.parley/bench-campaigns" \
  KAFKA_PORT="${BENCH_KAFKA_PORT:-53092}" KAFKA_CONTROLLER_PORT="${BENCH_KAFKA_CONTROLLER_PORT:-53093}" \
  REGISTRY_PORT="${BENCH_REGISTRY_PORT:-53081}" \
  REGISTRY_MANAGEMENT_PORT="${BENCH_REGISTRY_MANAGEMENT_PORT:-53082}" \
  MONGO_PORT="${BENCH_MONGO_PORT:-53017}"
# The in-memory MongoDB stand-in keeps every document in its JVM's heap: at 500,000 queue documents
# (the bare baseline's, then the plan's) the infra default of 1 GiB ran out (OutOfMemoryError in
# its log, then the driver's monitor timed out: docs/benchmarks.md, "Campaigns", 2026-12-06).
export MONGO_HEAP="${BENCH_MONGO_HEAP:-6g}"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
if [[ "${BENCH_KEEP_INFRA:-0}" != 1 ]]; then
  trap '"$repo/infra/native/infra.sh" stop' EXIT
fi
pnpm exec tsc -b services/campaigns services/campaigns/bench
servers="$("$repo/infra/native/infra.sh" status)"
if [[ "${BENCH_KEEP_INFRA:-0}" == 1 && "$servers" != *stopped* && "$servers" != *"NOT READY"* ]]; then
  echo "[bench] reusing the running servers"
else
  "$repo/infra/native/infra.sh" start
fi
eval "$("$repo/infra/native/infra.sh" env)"
node services/campaigns/bench/dist/campaigns-bench.js
