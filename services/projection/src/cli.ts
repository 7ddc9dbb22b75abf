#!/usr/bin/env node
// `parley-projection`: rebuild the read models from the log (now or as of an instant), list the
// generations and their lag, drop one. Reads the projection service's own variables (README,
// "Configuration"): every shared connection setting (KAFKA_BROKERS with Kafka's TLS and SASL,
// SCHEMA_REGISTRY_URL with its credentials, MONGO_URL and MONGO_DB with MongoDB's credentials and
// TLS), PARLEY_TOPIC_PREFIX, PROJECTION_COLLECTION_PREFIX and the PROJECTION_* tuning.
import { parseArgs } from "node:util";
import { loadConfigOrExit } from "@parley/config";
import { createCatalog } from "@parley/contracts";
import { errorMessage } from "@parley/errors";
import { createKafka, createRegistry, createSerde } from "@parley/kafka";
import { createMongo } from "@parley/mongo";
import { applyCpuNice, limitHeapGrowth } from "@parley/runtime";
import { createLogger } from "@parley/telemetry";
import { createLogOffsets } from "./adapters/kafka/log-offsets.js";
import { groupOf, PROJECTION_TOPICS } from "./adapters/kafka/projection-consumer.js";
import { createMongoGenerationStore } from "./adapters/store/generation-store.js";
import { cliSchema, connectionsOf } from "./cli-config.js";
import { dropGeneration, startGeneration } from "./generation-runtime.js";
import { partitionKey } from "./generations/ports.js";
import { rebuild, type RebuildProgress } from "./generations/rebuild.js";

const USAGE = `usage: parley-projection rebuild [--as-of <ISO-8601 instant>] [--fresh]
       parley-projection status
       parley-projection drop <generation>

rebuild   replays the log into a new generation of the read models while the active one keeps
          serving, then switches to it in one write; prints progress (records/s, lag, ETA) and
          resumes an unfinished rebuild after a crash (--fresh starts it over instead).
          --as-of builds the read models as they stood at that instant (Kafka timestamps) into
          a generation kept for audits (query it with ?generation=<n>); it is never switched to.
status    lists the generations, which is active, and how far each one's consumer group is behind.
drop      removes a generation's collections and consumer group (never the active one).`;

function fail(message: string): never {
  process.stderr.write(`parley-projection: ${message}\n`);
  process.exit(2);
}

const seconds = (ms: number) =>
  ms >= 3_600_000
    ? `${(ms / 3_600_000).toFixed(1)} h`
    : ms >= 60_000
      ? `${(ms / 60_000).toFixed(1)} min`
      : `${(ms / 1_000).toFixed(1)} s`;

function describe(p: RebuildProgress): string {
  const share = p.total === 0 ? 100 : (p.done / p.total) * 100;
  const eta = p.etaMs === undefined ? "" : `, ETA ${seconds(p.etaMs)}`;
  return `g${String(p.generation)} ${p.phase}: ${p.done.toLocaleString("en")} / ${p.total.toLocaleString("en")} records (${share.toFixed(1)} %), ${p.rate.toLocaleString("en")} records/s, lag ${p.lag.toLocaleString("en")}${eta}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { "as-of": { type: "string" }, fresh: { type: "boolean", default: false } },
  });
  const config = loadConfigOrExit(cliSchema, { service: "parley-projection" });
  // As the service does (the chassis): a rebuild's heap stays near its live data, not 3x it.
  limitHeapGrowth(config.HEAP_GROWING_PERCENT);
  // Logs go to stderr with the progress lines; stdout carries the result only.
  const logger = createLogger({
    service: "parley-projection",
    level: config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL,
    destination: process.stderr,
  });
  // A rebuild is background work beside the live services: at the projection's priority.
  applyCpuNice(config.CPU_NICE, logger);
  const catalog = createCatalog({ prefix: config.PARLEY_TOPIC_PREFIX });
  const topics = PROJECTION_TOPICS.map((id) => catalog.topic(id).name);
  const connections = connectionsOf(config);
  const kafka = createKafka({ ...connections.kafka, logger });
  const mongo = createMongo(connections.mongo);
  const offsets = createLogOffsets(kafka);
  const generations = createMongoGenerationStore(mongo.db, config.PROJECTION_COLLECTION_PREFIX);
  const dropping = {
    db: mongo.db,
    catalog,
    collectionPrefix: config.PROJECTION_COLLECTION_PREFIX,
    offsets,
  };
  try {
    switch (command) {
      case "rebuild": {
        let asOf: Date | undefined;
        if (values["as-of"] !== undefined) {
          asOf = new Date(values["as-of"]);
          if (Number.isNaN(asOf.getTime())) fail(`--as-of: not an instant: ${values["as-of"]}`);
        }
        const serde = createSerde({ registry: createRegistry(connections.registry) });
        const runtime = {
          kafka,
          serde,
          catalog,
          db: mongo.db,
          collectionPrefix: config.PROJECTION_COLLECTION_PREFIX,
          maxInFlight: config.PROJECTION_MAX_IN_FLIGHT,
          cacheSize: config.PROJECTION_CACHE_SIZE,
          maxBatchKeys: config.PROJECTION_BATCH_KEYS,
          applyBatch: config.PROJECTION_APPLY_BATCH,
          markOnNextSave: config.PROJECTION_MARK_ON_NEXT_SAVE,
          ...(config.PROJECTION_MARK_DELAY_MS < 0
            ? {}
            : { markDelayMs: config.PROJECTION_MARK_DELAY_MS }),
          logger,
        };
        let interrupted = false;
        const stopHere = () => {
          if (interrupted) process.exit(130);
          interrupted = true;
          process.stderr.write(
            "parley-projection: interrupted; the rebuild resumes where it stopped on the next run\n",
          );
          process.exit(130);
        };
        process.once("SIGINT", stopHere);
        process.once("SIGTERM", stopHere);
        const result = await rebuild(
          {
            generations,
            offsets,
            topics,
            groupOf: (n) => groupOf(catalog, n),
            build: (n, stopAt) => startGeneration(runtime, n, stopAt),
            drop: (n) => dropGeneration(dropping, n),
            catchUpRecords: config.PROJECTION_REBUILD_CATCH_UP_RECORDS,
            onProgress: (p) => process.stderr.write(`${describe(p)}\n`),
          },
          { ...(asOf === undefined ? {} : { asOf }), fresh: values.fresh },
        );
        process.stdout.write(
          `${JSON.stringify({ ...result, asOf: asOf?.toISOString() ?? null, recordsPerSecond: result.ms === 0 ? 0 : Math.round((result.records * 1_000) / result.ms) })}\n`,
        );
        return 0;
      }
      case "status": {
        const active = await generations.active();
        const list = await generations.list();
        const ends = await offsets.ends(topics);
        for (const g of list) {
          const committed = await offsets.committed(groupOf(catalog, g.generation), topics);
          const lag = ends.reduce(
            (n, e) =>
              n +
              Math.max(0, e.high - (committed.get(partitionKey(e.topic, e.partition)) ?? e.low)),
            0,
          );
          process.stdout.write(
            `${JSON.stringify({
              generation: g.generation,
              active: g.generation === active,
              state: g.state,
              asOf: g.asOf ?? null,
              startedAt: g.startedAt,
              switchedAt: g.switchedAt ?? null,
              lag: g.asOf === undefined ? lag : null,
            })}\n`,
          );
        }
        if (list.length === 0)
          process.stdout.write(
            "no generations yet (the service creates generation 1 when it starts)\n",
          );
        return 0;
      }
      case "drop": {
        const n = Number(positionals[0]);
        if (!Number.isInteger(n) || n < 1) fail(`drop needs a generation number\n${USAGE}`);
        if ((await generations.active()) === n)
          fail(`generation ${String(n)} is active; rebuild and switch first`);
        await dropGeneration(dropping, n);
        await generations.remove(n);
        process.stdout.write(`dropped generation ${String(n)}\n`);
        return 0;
      }
      default:
        fail(`unknown command ${command}\n${USAGE}`);
    }
  } finally {
    await offsets.close().catch(() => undefined);
    await mongo.close().catch(() => undefined);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`parley-projection: ${errorMessage(error)}\n`);
    process.exit(1);
  },
);
