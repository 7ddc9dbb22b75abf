#!/usr/bin/env bash
# Benchmarks of the inbound path (docs/benchmarks.md, "Inbound path (ingress and router)"):
# ingress's signed POSTs/s with the durable append against a bare signature-checking Express
# handler and its p50/p99 at a fixed rate, then the router's inbound webhooks/s and events/s
# against a bare consume of the raw topic. Starts its own servers (profile "bench-inbound",
# ports 49192/49193/48181/49181/57117 unless set), builds, runs, stops them.
# Knobs: BENCH_SECONDS (10), BENCH_ROUNDS (2), BENCH_CONNECTIONS (32), BENCH_RATE (1000),
# BENCH_PRODUCERS (4), BENCH_WARMUP_SECONDS (2), BENCH_LINGER_MS (1, as the appender),
# BENCH_WEBHOOKS (5000), BENCH_CONTACTS (500), BENCH_MARK_DELAYS (-1: one router case per
# ROUTER_MARK_DELAY_MS), BENCH_SAVES (whole,delta: one router case per save mode, for each
# mark delay: whole-document saves, or saves of what changed), BENCH_HISTORY (0: status
# identities each contact's document holds before a router case, up to 500), BENCH_ROUTER_WARMUP (1: discarded router cases first, so each measured
# case runs warm), BENCH_CPU_PROF=<file> (profile of the last router case, top frames printed),
# MONGO_COMMAND_METRICS=true (the router cases' MongoDB commands counted: the driver's command monitoring then decodes every reply twice).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PARLEY_PROFILE="${PARLEY_PROFILE:-bench-inbound}" KAFKA_PORT="${KAFKA_PORT:-49192}" \
  KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-49193}" REGISTRY_PORT="${REGISTRY_PORT:-48181}" \
  REGISTRY_MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-49181}" MONGO_PORT="${MONGO_PORT:-57117}"
export BENCH_ROUNDS="${BENCH_ROUNDS:-2}"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
if [[ "${BENCH_KEEP_INFRA:-0}" != 1 ]]; then
  trap '"$repo/infra/native/infra.sh" stop' EXIT
fi
pnpm exec tsc -b services/ingress services/router services/ingress/bench services/router/bench
"$repo/infra/native/infra.sh" start
eval "$("$repo/infra/native/infra.sh" env)"
echo "## ingress"
node services/ingress/dist-bench/webhook.js
echo
echo "## router inbound"
node services/router/dist-bench/inbound.js 2> >(grep -v '^{"level' >&2)
