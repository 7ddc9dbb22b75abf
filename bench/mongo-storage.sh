#!/usr/bin/env bash
# The durable MongoDB-wire server's cost (docs/benchmarks.md, "MongoDB-wire storage: memory vs
# disk"; ADR 0016): starts the native server twice side by side, in memory and on disk
# (MONGO_STORAGE=disk), runs the same state-store workload against both (e2e/bench/mongo-storage.ts),
# then restarts the disk one on its data and times the reopen. Own profiles and ports
# (54117 memory, 54118 disk unless BENCH_MONGO_MEMORY_PORT / BENCH_MONGO_DISK_PORT are set).
# Knobs: BENCH_OPS (20000 per phase), BENCH_CONCURRENCY (16), MONGO_JVM_OPTS (JVM options for
# both servers, e.g. "-XX:+UseSerialGC"), MONGO_HEAP (1g). About a minute.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
memory_port="${BENCH_MONGO_MEMORY_PORT:-54117}" disk_port="${BENCH_MONGO_DISK_PORT:-54118}"
mem() { env -u KAFKA_PORT -u REGISTRY_PORT PARLEY_PROFILE=bench-mongo-memory PARLEY_STATE_DIR="$repo/.parley/bench-mongo-memory" MONGO_PORT="$memory_port" MONGO_STORAGE=memory "$repo/infra/native/infra.sh" "$@" mongo; }
disk() { env -u KAFKA_PORT -u REGISTRY_PORT PARLEY_PROFILE=bench-mongo-disk PARLEY_STATE_DIR="$repo/.parley/bench-mongo-disk" MONGO_PORT="$disk_port" MONGO_STORAGE=disk "$repo/infra/native/infra.sh" "$@" mongo; }
trap 'mem stop; disk stop' EXIT
pnpm exec tsc -b e2e/bench
mem start
disk start
url() { echo "mongodb://127.0.0.1:$1/?directConnection=true&retryWrites=false"; }
echo "## MongoDB-wire storage ($(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg); JVM options: ${MONGO_JVM_OPTS:-infra.sh defaults})"
BENCH_MONGO_MEMORY_URL="$(url "$memory_port")" BENCH_MONGO_DISK_URL="$(url "$disk_port")" \
  BENCH_MONGO_MEMORY_PID="$(cat "$repo/.parley/bench-mongo-memory/run/mongo.pid")" \
  BENCH_MONGO_DISK_PID="$(cat "$repo/.parley/bench-mongo-disk/run/mongo.pid")" \
  node e2e/dist-bench/mongo-storage.js
size="$(du -h "$repo/.parley/bench-mongo-disk/mongo/data.mv.db" | cut -f1)"
t0=$(date +%s%N)
MONGO_KEEP_DATA=1 disk restart
echo "disk: data file $size after the run; restart on its data (stop, start, port answering): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
