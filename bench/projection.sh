#!/usr/bin/env bash
# Benchmark of the projection (docs/benchmarks.md, "Projection"): events applied per second
# against a bare consume of the same topics, a rebuild's rate (and its extrapolation to 1 million
# events), point-lookup p50/p99 under 200 concurrent readers idle and while 500 messages/s are
# published, and the projection's peak RSS. Uses the servers the environment names
# (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, MONGO_URL, e.g. `source /work/shared-infra/servers.env`
# or `eval "$(infra/native/infra.sh env)"`), in a namespace of its own that it drops afterwards.
# Knobs: BENCH_MESSAGES (10000), BENCH_RATE (500), BENCH_SECONDS (8), BENCH_READERS (200),
# BENCH_LOOKUP_RATE (400), BENCH_ONLY=a (or ab: with the rebuild; projector: the projector alone, no Kafka, lockstep and in the service's arrival order; BENCH_MARK_ON_NEXT_SAVE=false: a mark per outbox), BENCH_COUNT_COMMANDS=1, BENCH_PROJECTION_NODE_FLAGS (e.g. --cpu-prof),
# BENCH_CONTACTS (2000), BENCH_POLL_MS (1000: how often the backlog phase reads the projection's progress), BENCH_IDLE_SECONDS (5: each of the two idle windows after the backlog, the second without polls: the 'CPU at rest' row). Every loop is bounded in count and time and talks to 127.0.0.1 only.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
: "${KAFKA_BROKERS:?set KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGO_URL (running servers)}"
pnpm exec tsc -b services/projection services/projection/bench
if [ "${BENCH_ONLY:-}" = projector ]; then
  # The projector alone (no Kafka, no service): its CPU per event in memory and on MONGO_URL.
  exec node services/projection/dist-bench/projector-cost.js
fi
node services/projection/dist-bench/projection-bench.js 2> >(grep -v '^{"level' >&2)
