#!/usr/bin/env bash
# The cost of telemetry (docs/benchmarks.md, "Cost of telemetry"; issue 25): the inbound
# benchmark (bench/inbound.sh: ingress and router in process) and the sender's outbound one
# (bench/outbound.sh, case a: the sender as its own process) each run three times on the same
# servers, one right after the other:
#   off      no OpenTelemetry SDK (OTEL_SDK_DISABLED=true; no spans, no trace ids in logs);
#   default  the SDK on without an exporter (what a service runs without OTEL_EXPORTER_OTLP_ENDPOINT:
#            spans made and dropped, trace ids in logs and records);
#   export   spans exported over OTLP/HTTP to bench/otlp-sink.mjs.
# Metrics are on in every variant (the registry is always there; a scrape is not part of the load).
# The variants are given to the processes by a `--import` of bench/telemetry/<variant>.mjs, run
# before the service or bench module (NODE_OPTIONS in process, BENCH_SENDER_NODE_FLAGS for the
# sender). Knobs: BENCH_SECONDS (5), BENCH_WEBHOOKS (2000), BENCH_VARIANTS ("off default
# export"), BENCH_PARTS ("inbound outbound").
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# Each benchmark starts and stops servers of its own profile (bench-inbound, bench-outbound) in
# this checkout's .parley/: a profile, state directory or ports inherited from the environment
# (a shell set up for other servers) would make it stop and wipe those servers instead.
unset PARLEY_PROFILE PARLEY_STATE_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT REGISTRY_PORT \
  REGISTRY_MANAGEMENT_PORT MONGO_PORT KAFKA_BROKERS SCHEMA_REGISTRY_URL MONGO_URL
export BENCH_SECONDS="${BENCH_SECONDS:-5}" BENCH_WEBHOOKS="${BENCH_WEBHOOKS:-2000}" BENCH_ROUNDS=1 \
  BENCH_KEEP_INFRA=1
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
pnpm exec tsc -b packages/telemetry
# The port bench/telemetry/export.mjs exports to.
node bench/otlp-sink.mjs 47199 &
sink=$!
cleanup() {
  kill -TERM "$sink" 2>/dev/null || true
  PARLEY_PROFILE=bench-inbound PARLEY_STATE_DIR="$repo/.parley/bench-inbound" KAFKA_PORT=49192 KAFKA_CONTROLLER_PORT=49193 REGISTRY_PORT=48181 \
    REGISTRY_MANAGEMENT_PORT=49181 MONGO_PORT=57117 infra/native/infra.sh stop >/dev/null 2>&1 || true
  PARLEY_PROFILE=bench-outbound PARLEY_STATE_DIR="$repo/.parley/bench-outbound" KAFKA_PORT=49292 KAFKA_CONTROLLER_PORT=49293 REGISTRY_PORT=48281 \
    REGISTRY_MANAGEMENT_PORT=49281 MONGO_PORT=57217 infra/native/infra.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

flag() { echo "--import=$repo/bench/telemetry/$1.mjs"; }

for part in ${BENCH_PARTS:-inbound outbound}; do
  for variant in ${BENCH_VARIANTS:-off default export}; do
    echo
    echo "################ $part, telemetry $variant (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    if [ "$part" = inbound ]; then
      NODE_OPTIONS="$(flag "$variant")" bench/inbound.sh
    else
      # The bench process too: its dispatch records then carry a sampled traceparent, as a send
      # through the HTTP API or an instrumented client does, so the sender records its spans.
      NODE_OPTIONS="$(flag "$variant")" BENCH_ONLY=a BENCH_SENDER_NODE_FLAGS="$(flag "$variant")" bench/outbound.sh
    fi
  done
done
