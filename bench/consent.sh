#!/usr/bin/env bash
# Benchmark of the consent service (docs/benchmarks.md, "Consent"): STOP to decision p50/p99
# under send load against the transport alone, and bulk import rows/s with the service's peak
# RSS against rows refused at validation. Uses the servers the environment names (KAFKA_BROKERS,
# SCHEMA_REGISTRY_URL, MONGO_URL), in a namespace of its own that it drops afterwards.
# Knobs: BENCH_STOPS (1000), BENCH_STOP_RATE (100/s), BENCH_SEND_RATE (500/s),
# BENCH_IMPORT_ROWS (20000; 1000000 for the issue's figure, about BENCH_IMPORT_ROWS / rate s).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
: "${KAFKA_BROKERS:?set KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGO_URL (running servers)}"
pnpm exec tsc -b services/consent services/consent/bench
node services/consent/bench/dist/consent-bench.js 2> >(grep -v '^{"level' >&2)
