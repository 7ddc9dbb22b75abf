#!/usr/bin/env bash
# Benchmark of the outbound path (docs/benchmarks.md, "Outbound path (sender)"): the sender as
# its own process against the real broker, registry and MongoDB, calling the Cloud API simulator;
# (a) sustained rate as a share of the cap at 80 and 1,000 msg/s at once, against a raw client
# with an ideal limiter; (b) aggregate rate over 20 numbers against a raw keep-alive client with
# the same concurrency; (c) the sender's RSS; (d) a light number behind a heavy number's backlog
# on the same dispatch partition, with parking (SENDER_PARK_ABOVE) and without it. Starts its own
# servers (profile "bench-outbound", ports 49292/49293/48281/49281/57217 unless set), builds,
# runs, stops them.
# Knobs: BENCH_SECONDS (8: backlog = cap x seconds, each case bounded to 20 s or 2.5 s per second
# of backlog), BENCH_CONNECTIONS (64), BENCH_ONLY=a, b or d (that case alone), BENCH_CPU_PROF=<dir> (sender CPU profiles),
# BENCH_PER_RECIPIENT (1: sends per recipient; e.g. 10 repeats recipients, in blocks of 100 requests),
# BENCH_HEAP_SNAPSHOT=<dir> (the sender's heap at the end of each case), BENCH_SENDER_NODE_FLAGS
# (node flags for the sender, e.g. "--max-semi-space-size=32"), BENCH_SENDER_MAIN (another build
# of the sender, e.g. another commit's worktree's services/sender/dist/main.js, on this workload), BENCH_SIM_NICE (-10: the
# simulator's scheduling priority; 0 leaves it), BENCH_SIM_PORT (47110), BENCH_SENDER_PORT
# (47111), any SENDER_* variable, HEAP_GROWING_PERCENT and MONGO_COMMAND_METRICS (passed to the
# sender, e.g. SENDER_RATE_MARGIN_MS=50; MONGO_COMMAND_METRICS=true counts its MongoDB commands),
# BENCH_KEEP_INFRA=1 (leave the servers running, and reuse them when they are up; each case drops
# its database and each run its topics, so reused servers do not fill up), BENCH_WARMUP (1 when
# the servers were just started: 4 s at 1,000 msg/s on a number of its own before the cases, not
# measured; 0 skips it, 1 forces it on reused servers).
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
pnpm exec tsc -b services/sender/bench
# With BENCH_KEEP_INFRA=1 servers already up and ready are reused as they are: a restart would put
# their JIT warm-up inside the first case.
servers="$("$repo/infra/native/infra.sh" status)"
if [[ "${BENCH_KEEP_INFRA:-0}" == 1 && "$servers" != *stopped* && "$servers" != *"NOT READY"* ]]; then
  echo "[bench] reusing the running servers"
else
  "$repo/infra/native/infra.sh" start
  # Servers just started: a short unmeasured load first (BENCH_WARMUP=0 skips it).
  export BENCH_WARMUP="${BENCH_WARMUP:-1}"
fi
eval "$("$repo/infra/native/infra.sh" env)"
nproc_load="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "## sender outbound ($(nproc) cores, load average before: $nproc_load)"
node services/sender/dist-bench/outbound.js 2> >(grep -v '^{"level' >&2)
