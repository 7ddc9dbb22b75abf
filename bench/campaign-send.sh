#!/usr/bin/env bash
# Benchmark of campaign sending against the numbers' caps (docs/benchmarks.md, "Campaigns", "Campaign sending
# against the numbers' caps"; issue 27: "sending then bounded only by the numbers' caps"): ingress,
# router, sender and campaigns as processes, the Cloud API simulator as Meta; one campaign of
# BENCH_RECIPIENTS (3000) rows over two numbers capped at BENCH_CAPS (60,30 msg/s); prints the
# send time against N / sum(caps) and each number's rate and busiest second. Starts its own
# servers (profile "bench-campaign-send", ports 53192/53193/53181/53182/53117 unless
# BENCH_KAFKA_PORT, BENCH_KAFKA_CONTROLLER_PORT, BENCH_REGISTRY_PORT, BENCH_REGISTRY_MANAGEMENT_PORT,
# BENCH_MONGO_PORT say otherwise: a shell's own ports are ignored, so it never stops shared
# servers), builds, runs, stops them. Knobs: BENCH_RECIPIENTS, BENCH_CAPS, BENCH_WARMUP (0: rows of a
# campaign sent first, on services that then are warm), BENCH_TICK_MS (1000,
# CAMPAIGNS_TICK_MS), BENCH_KEEP_INFRA=1 (leave the servers running and reuse them).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PARLEY_PROFILE=bench-campaign-send PARLEY_STATE_DIR="$repo/.parley/bench-campaign-send" \
  KAFKA_PORT="${BENCH_KAFKA_PORT:-53192}" KAFKA_CONTROLLER_PORT="${BENCH_KAFKA_CONTROLLER_PORT:-53193}" \
  REGISTRY_PORT="${BENCH_REGISTRY_PORT:-53181}" \
  REGISTRY_MANAGEMENT_PORT="${BENCH_REGISTRY_MANAGEMENT_PORT:-53182}" \
  MONGO_PORT="${BENCH_MONGO_PORT:-53117}"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
if [[ "${BENCH_KEEP_INFRA:-0}" != 1 ]]; then
  trap '"$repo/infra/native/infra.sh" stop' EXIT
fi
pnpm exec tsc -b services/ingress services/router services/sender services/campaigns e2e e2e/bench
servers="$("$repo/infra/native/infra.sh" status)"
if [[ "${BENCH_KEEP_INFRA:-0}" == 1 && "$servers" != *stopped* && "$servers" != *"NOT READY"* ]]; then
  echo "[bench] reusing the running servers"
else
  "$repo/infra/native/infra.sh" start
fi
eval "$("$repo/infra/native/infra.sh" env)"
node e2e/dist-bench/campaign-send.js
