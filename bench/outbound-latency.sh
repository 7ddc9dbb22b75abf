#!/usr/bin/env bash
# End-to-end outbound latency and service memory (docs/benchmarks.md, "Outbound path end to
# end"): send requests at a fixed rate -> router -> sender -> the Cloud API simulator, p50/p99
# from the SendRequested append to the Graph call, against a bare consumer of the same topic;
# max RSS of the six services. Starts its own servers (profile "bench-outbound", ports
# 49292/49293/48281/49281/57217 unless set), builds, runs, stops them.
# Knobs: BENCH_RATE (500), BENCH_SECONDS (10), BENCH_CONTACTS (12 s of the rate, at least 2000: none faster than Meta's pair rate), BENCH_WARMUP_SECONDS (90) at BENCH_WARMUP_RATE (BENCH_RATE, at most 150),
# BENCH_<SERVICE>_MAIN (another build of a service, e.g. BENCH_ROUTER_MAIN=<a worktree of main>/services/router/dist/main.js), BENCH_<SERVICE>_NODE_OPTIONS, BENCH_<SERVICE>_CPU_NICE (a service's CPU_NICE, e.g. BENCH_PROJECTION_CPU_NICE=0).
# MONGO_COMMAND_METRICS=true counts each service's MongoDB commands for the round-trip table (the driver's command monitoring then decodes every reply twice, a cost the timed figures include).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PARLEY_PROFILE="${PARLEY_PROFILE:-bench-outbound}" KAFKA_PORT="${KAFKA_PORT:-49292}" \
  KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-49293}" REGISTRY_PORT="${REGISTRY_PORT:-48281}" \
  REGISTRY_MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-49281}" MONGO_PORT="${MONGO_PORT:-57217}"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
if [[ "${BENCH_KEEP_INFRA:-0}" != 1 ]]; then
  trap '"$repo/infra/native/infra.sh" stop' EXIT
fi
pnpm exec tsc -b services/ingress services/router services/sender services/media services/consent services/projection e2e e2e/bench
"$repo/infra/native/infra.sh" start
eval "$("$repo/infra/native/infra.sh" env)"
node e2e/dist-bench/outbound-latency.js
