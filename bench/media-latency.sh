#!/usr/bin/env bash
# Media's webhook-to-stored latency (docs/benchmarks.md, "Media ingest"; issue 24): signed
# webhooks of inbound images, voice notes, documents and videos of mixed sizes from the Cloud API
# simulator -> ingress -> router -> media -> MediaStored, p50/p99 from the webhook's 200 (target
# p99 under 30 s), beside the same webhooks' InboundMessageReceived and a bare download-and-write
# of the same files in the same run (e2e/bench/webhook-effects.ts, case media).
# Servers: the ones KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGO_URL name when all three are set;
# otherwise its own Kafka, registry and MongoDB-wire server (profile "bench-media-latency", ports
# 59392/59393/59381/59382/59317), started here and stopped at the end.
# Knobs: BENCH_MEDIA_FILES (200), BENCH_MEDIA_RATE (5 files/s), BENCH_MEDIA_MAX_MB (8: the
# largest video).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
# shellcheck source=own-servers.sh
source "$repo/bench/own-servers.sh"
use_servers bench-media-latency 59392 59393 59381 59382 59317
pnpm exec tsc -b services/ingress services/router services/media e2e/bench
echo "## media webhook to stored ($(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
BENCH_CASE=media node e2e/dist-bench/webhook-effects.js
