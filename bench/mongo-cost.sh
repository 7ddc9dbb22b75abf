#!/usr/bin/env bash
# The MongoDB stand-in's CPU per send under the outbound benchmark (docs/benchmarks.md, "MongoDB
# stand-in: secondary indexes and C1", issue 31): starts the outbound benchmark's servers
# (profile bench-outbound, its ports unless set), runs `BENCH_ONLY=a bench/outbound.sh` on them
# (warm-up included), and divides the stand-in's CPU time over the run (/proc/<pid>/stat) by the
# sends the simulator accepted. Knobs: those of bench/outbound.sh (BENCH_SECONDS, ...),
# MONGO_JVM_OPTS (e.g. -XX:TieredStopAtLevel=4 for C2, the JVM's default), BENCH_KEEP_INFRA=1
# (leave the servers running). About three minutes.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PARLEY_PROFILE="${PARLEY_PROFILE:-bench-outbound}" KAFKA_PORT="${KAFKA_PORT:-49292}" \
  KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-49293}" REGISTRY_PORT="${REGISTRY_PORT:-48281}" \
  REGISTRY_MANAGEMENT_PORT="${REGISTRY_MANAGEMENT_PORT:-49281}" MONGO_PORT="${MONGO_PORT:-57217}"
export PARLEY_STATE_DIR="${PARLEY_STATE_DIR:-$repo/.parley/$PARLEY_PROFILE}"
cd "$repo"
if [[ "${BENCH_KEEP_INFRA:-0}" != 1 ]]; then
  trap '"$repo/infra/native/infra.sh" stop' EXIT
fi
"$repo/infra/native/infra.sh" start
pid="$(cat "$PARLEY_STATE_DIR/run/mongo.pid")"
cpu_ms() { awk '{ print ($14 + $15) * 10 }' "/proc/$pid/stat"; }
out="$(mktemp)"
before="$(cpu_ms)"
BENCH_KEEP_INFRA=1 BENCH_WARMUP=1 BENCH_ONLY=a bash "$repo/bench/outbound.sh" | tee "$out"
after="$(cpu_ms)"
sends="$(grep -oE 'sender CPU per send [0-9.]+ ms \([0-9]+ sends' "$out" | grep -oE '[0-9]+ sends' | awk '{ s += $1 } END { print s + 0 }')"
rm -f "$out"
echo "MongoDB stand-in (JVM options: ${MONGO_JVM_OPTS:-infra.sh defaults}): $((after - before)) ms of CPU over $sends sends (warm-up included): $(awk -v c="$((after - before))" -v s="$sends" 'BEGIN { printf "%.2f", (s > 0 ? c / s : 0) }') ms per send"
