#!/usr/bin/env bash
# Service recovery after kill -9 (docs/benchmarks.md, "Service recovery after kill -9"; issue 30,
# "Back in seconds"): ingress, router and sender as processes under a bounded load (100 send
# requests/s and 50 user webhooks/s through ingress, plus the sends' status webhooks); per case
# the router or the sender is killed with SIGKILL and started again 0 or 5 s later, with the old
# group settings (30 s sessions, no instance id), 10 s sessions, and 10 s sessions with static
# membership. Prints kill -> ready and kill -> lag back under a threshold for each case.
# Servers: the ones KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGO_URL name when all three are set;
# otherwise its own (profile "bench-recovery", ports 49392/49393/48381/49381/57317 unless set),
# started and stopped here. Knobs: BENCH_CASES (comma-separated case names; default all 12),
# BENCH_SENDS_PER_S (100), BENCH_WEBHOOKS_PER_S (50), BENCH_SETTLE_S (15),
# BENCH_CASE_TIMEOUT_S (90). About 10 minutes for all cases.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
pnpm exec tsc -b services/ingress services/router services/sender e2e e2e/bench
if [[ -z "${KAFKA_BROKERS:-}" || -z "${SCHEMA_REGISTRY_URL:-}" || -z "${MONGO_URL:-}" ]]; then
  export PARLEY_PROFILE="${PARLEY_PROFILE:-bench-recovery}" KAFKA_PORT="${KAFKA_PORT:-49392}" \
    KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-49393}" REGISTRY_PORT="${REGISTRY_PORT:-48381}" \
    REGISTRY_MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-49381}" MONGO_PORT="${MONGO_PORT:-57317}"
  trap '"$repo/infra/native/infra.sh" stop' EXIT
  "$repo/infra/native/infra.sh" start
  eval "$("$repo/infra/native/infra.sh" env)"
fi
node e2e/dist-bench/service-recovery.js
