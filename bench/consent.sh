#!/usr/bin/env bash
# Benchmark of consent (docs/benchmarks.md, "Consent"; issue 23), in two parts (BENCH_PARTS,
# default "enforcement service"):
#   enforcement  e2e/bench/webhook-effects.ts, case stop: BENCH_STOPS (1000) users opted in to
#                marketing reply STOP at BENCH_STOP_RATE (20/s) while BENCH_SEND_RATE (500/s)
#                sends go out in all (a marketing probe to each STOPped user every BENCH_PROBE_MS,
#                250, until refused, within that budget; utility templates fill the rest) through
#                router, sender and the simulator (consent, ingress, router, sender as processes);
#                the STOP webhook's 200 to the moment both enforcing consumers (the router's
#                send decider, group router-gates, and the sender's gate, group sender-gates)
#                had applied its ConsentRevoked (their committed offsets on the consent topic
#                past it, polled every 50 ms: an upper bound by up to the gates' 50 ms commit
#                interval and the poll), checked by the probes (none let through by the router after its
#                group had applied it, none accepted by Graph after both had); then the router's
#                first refusal of a probe (bracketed by its last acceptance), which at a load the
#                machine cannot carry measures the send queue the probe waited in as much as the
#                opt-out; p50/p99, beside the same STOP as a typed event and as the consent
#                decision, and the leaks (must be 0); knob BENCH_WARMUP_SECONDS (20);
#                BENCH_STOP_KIND=preferences: the opt-outs come as Meta's user_preferences
#                webhook (marketing_messages: stop), posted signed by the bench, not as STOP
#                replies; BENCH_ROUTER_NODE_OPTIONS (e.g. --heapsnapshot-signal=SIGUSR2);
#   service      services/consent/bench/consent-bench.ts: the consent hop alone (STOP appended to
#                ConsentRevoked, BENCH_STOP_RATE_SERVICE 100/s, under BENCH_SEND_RATE outcomes/s)
#                and bulk import through POST /v1/imports, rows/s and the service's peak RSS,
#                beside the same rows refused at validation; BENCH_IMPORT_ROWS (20000;
#                1000000 for the issue's figure, about BENCH_IMPORT_ROWS / rate s) over
#                BENCH_IMPORT_CONTACTS (50000) contacts, BENCH_IMPORT_RUN (1) rows of a contact
#                in a row (20: a file sorted by contact); every BENCH_REPORT_EVERY (100000) rows
#                the service's RSS, malloc [heap], V8 heap and external memory; heap snapshots at
#                the rows BENCH_HEAP_SNAPSHOTS_AT names (e.g. 0,100000; they inflate the RSS);
#                the memory lines split RSS by mapping (node binary, [heap], malloc arenas, V8
#                and the rest) and the table gives the service's CPU ms per row; the service's
#                own node flags and glibc arenas: BENCH_CONSENT_NODE_FLAGS (e.g.
#                "--max-old-space-size=96"), BENCH_CONSENT_MALLOC_ARENA_MAX (e.g. 2); its
#                CONSENT_IMPORT_BATCHES_IN_FLIGHT (1) passes through from the environment.
#                After each import phase: the decider runtime's batches and mean ms per stage
#                (from the service's consent_stage_seconds) and the service's bytes read and
#                written per row (/proc/<pid>/io: sockets and files).
#                The enforcement part also prints each STOP's stages from the record timestamps
#                (ingress + router, consent, router / sender learning the ConsentRevoked).
# Servers: the ones KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGO_URL name when all three are set;
# otherwise its own (profile "bench-consent", ports 59292/59293/59281/59282/59217, or the five that
# BENCH_SERVER_PORTS names: kafka, controller, registry, registry management, mongo), started here
# and stopped at the end.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=../infra/scripts/bootstrap.sh
source "$repo/infra/scripts/bootstrap.sh"
ensure_node
ensure_pnpm
# shellcheck source=own-servers.sh
source "$repo/bench/own-servers.sh"
# The MongoDB-wire stand-in keeps everything in its heap: a 1-million-row import's ledger does not
# fit in the default 1 GB (it slowed to a halt in garbage collection on 2026-12-06), nor in 6 GB
# (it stopped answering after 900,000 rows, 2026-12-07 morning); with 12 GB its RSS reached
# 12.5 GB at 1 M rows (2026-12-07, 08:16–08:36). So 12g from 500,000 rows on, else 3g.
if [[ "${BENCH_IMPORT_ROWS:-20000}" -ge 500000 ]]; then
  export MONGO_HEAP="${MONGO_HEAP:-12g}"
else
  export MONGO_HEAP="${MONGO_HEAP:-3g}"
fi
# shellcheck disable=SC2086
use_servers bench-consent ${BENCH_SERVER_PORTS:-59292 59293 59281 59282 59217}
parts="${BENCH_PARTS:-enforcement service}"
if [[ "$parts" == *enforcement* ]]; then
  pnpm exec tsc -b services/consent services/ingress services/router services/sender e2e/bench
  echo "## consent: STOP webhook to enforced opt-out ($(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  BENCH_CASE=stop node e2e/dist-bench/webhook-effects.js
fi
if [[ "$parts" == *service* ]]; then
  pnpm exec tsc -b services/consent services/consent/bench
  echo "## consent service: STOP hop and bulk import ($(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  BENCH_STOP_RATE="${BENCH_STOP_RATE_SERVICE:-100}" \
    node services/consent/bench/dist/consent-bench.js 2> >(grep --line-buffered -v '^{"level' >&2)
fi
