#!/usr/bin/env bash
# `make chaos` (issue 26, docs/reliability.md): builds, then runs e2e/bench/chaos.ts, which starts
# its own Kafka broker and durable MongoDB-wire server (ports 55092/55093 and 55017 unless
# CHAOS_KAFKA_PORT / CHAOS_MONGO_PORT are set), the simulator and the services, runs the load and
# the fault schedule, stops everything and prints the checker's table; exits 1 if a row fails.
# The schema registry: SCHEMA_REGISTRY_URL when set, otherwise its own (profile chaos-registry,
# port 55081/55082). Knobs: CHAOS_SENDS_PER_S (500), CHAOS_WEBHOOKS_PER_S (200), CHAOS_LOAD_S (240),
# CHAOS_MONGO_OUTAGE_S (30), CHAOS_NUMBERS (4), CHAOS_MPS (200), CHAOS_CONTACTS (6000).
# CHAOS_PRESET=short|ci|cluster (e2e/src/chaos/run.ts CHAOS_PRESETS; CHAOS_FAULTS=a,b picks faults). short: (20 sends/s, 10 webhooks/s, 40 s, MongoDB out 10 s, no broker
# restart). Bounded: about 4 minutes of load, 10 minutes in all on a quiet two-core machine.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
ensure_java
pnpm exec tsc -b services/ingress services/router services/sender services/projection packages/kafka e2e e2e/bench
if [[ -z "${SCHEMA_REGISTRY_URL:-}" ]]; then
  registry_env=(PARLEY_PROFILE=chaos-registry PARLEY_STATE_DIR="$repo/.parley/chaos-registry"
    REGISTRY_PORT="${CHAOS_REGISTRY_PORT:-55081}" REGISTRY_MANAGEMENT_PORT="${CHAOS_REGISTRY_MANAGEMENT_PORT:-55082}")
  trap 'env "${registry_env[@]}" "$repo/infra/native/infra.sh" stop registry' EXIT
  env "${registry_env[@]}" "$repo/infra/native/infra.sh" start registry
  export SCHEMA_REGISTRY_URL="http://127.0.0.1:${CHAOS_REGISTRY_PORT:-55081}/apis/ccompat/v7"
fi
node e2e/dist-bench/chaos.js
