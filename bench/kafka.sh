#!/usr/bin/env bash
# Benchmark of Parley's Kafka layer against bare kafkajs (docs/benchmarks.md).
# Knobs: BENCH_RECORDS (20000), BENCH_SINGLE_RECORDS (4000), BENCH_CALLERS (64). Starts its own
# servers (profile "bench", ports 49092/49093/48081/49081/57017), builds, runs, stops them.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PARLEY_PROFILE=bench KAFKA_PORT=49092 KAFKA_CONTROLLER_PORT=49093 REGISTRY_PORT=48081 \
  REGISTRY_MANAGEMENT_PORT=49081 MONGO_PORT=57017
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
trap '"$repo/infra/native/infra.sh" stop kafka registry' EXIT
pnpm exec tsc -b packages/kafka packages/kafka/bench
"$repo/infra/native/infra.sh" start kafka registry
eval "$("$repo/infra/native/infra.sh" env)"
node packages/kafka/dist-bench/produce-consume.js
