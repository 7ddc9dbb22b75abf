import { finalOutcome } from "@parley/client";
import type { Catalog } from "@parley/contracts";
import { errorMessage } from "@parley/errors";
import type { KafkaClient, KafkaLogger, Serde } from "@parley/kafka";
import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import { countryOfContact } from "@parley/pricing";
import { createProjectionConsumer, groupOf } from "./adapters/kafka/projection-consumer.js";
import {
  createMongoAnalyticsStore,
  createMongoBucketMarks,
} from "./adapters/store/analytics-store.js";
import {
  COLLECTION_KINDS,
  collectionsOf,
  createMongoErasureIndex,
  createReadModelStores,
  ensureIndexes,
} from "./adapters/store/read-model-stores.js";
import type { LogOffsets } from "./generations/ports.js";
import { createProjector, type ProjectorObserver } from "./projector/projector.js";
import { createRollup, noteMarks, type Rollup } from "./projector/rollup.js";
import { createMongoAuditLog } from "./adapters/store/audit-store.js";
import { withAuditLog } from "./projector/audit.js";

/** What both composition roots (the service's main.ts and the CLI) share to fill a generation. */
export interface GenerationRuntimeOptions {
  readonly kafka: KafkaClient;
  readonly serde: Serde;
  readonly catalog: Catalog;
  readonly db: Db;
  readonly collectionPrefix: string;
  readonly maxInFlight: number;
  readonly cacheSize: number;
  readonly maxBatchKeys: number;
  /** Records at most in one apply of the projector (a turn's records are applied together). */
  readonly applyBatch?: number;
  /** Published marks written behind, this many ms together (see createProjector). */
  readonly markDelayMs?: number;
  /** Outboxes marked published by the key's next save (see createProjector). */
  readonly markOnNextSave?: boolean;
  /** The live rollup's pacing (see createRollup); 0 recomputes a marked bucket every round. */
  readonly rollupMsPerFact?: number;
  readonly logger: KafkaLogger & { warn(obj: object, msg: string): void };
  readonly observer?: ProjectorObserver;
  readonly onRecord?: (outcome: "applied" | "skipped") => void;
  readonly clock?: () => Date;
}

export interface FillingGeneration {
  readonly generation: number;
  readonly rollup: Rollup;
  stop(): Promise<void>;
}

/**
 * Starts filling one generation from the log: its indexes, its read-model stores, the projector
 * over them, its consumer group, and the rollup of its analytics. `stopAt` (an as-of rebuild)
 * skips each partition's records from that offset on.
 */
export async function startGeneration(
  options: GenerationRuntimeOptions,
  generation: number,
  stopAt?: ReadonlyMap<string, number>,
): Promise<FillingGeneration> {
  const { db, collectionPrefix, logger, clock = () => new Date() } = options;
  const collections = collectionsOf(collectionPrefix, generation);
  await ensureIndexes(db, collections).catch((error: unknown) => {
    logger.warn(
      { err: errorMessage(error), generation },
      "projection: indexes not created yet; created at the next start",
    );
  });
  // The audit read model beside the others (AuditRecorded events go to it, not to the projector).
  const auditLog = createMongoAuditLog(db, collectionPrefix);
  await auditLog.ensureIndexes(generation).catch((error: unknown) => {
    logger.warn({ err: errorMessage(error), generation }, "projection: audit indexes not yet");
  });
  // Counted, so that the live rollup reads the marks only after some were written (at rest: none).
  const marks = noteMarks(createMongoBucketMarks(db, collections, clock));
  const projector = createProjector({
    stores: createReadModelStores(db, collections, clock),
    marks,
    finalOf: finalOutcome,
    countryOf: countryOfContact,
    erasure: createMongoErasureIndex(db, collections),
    clock,
    cacheSize: options.cacheSize,
    maxBatchKeys: options.maxBatchKeys,
    ...(options.markDelayMs === undefined ? {} : { markDelayMs: options.markDelayMs }),
    ...(options.markOnNextSave === undefined ? {} : { markOnNextSave: options.markOnNextSave }),
    ...(options.observer === undefined ? {} : { observer: options.observer }),
  });
  const consumer = createProjectionConsumer({
    kafka: options.kafka,
    serde: options.serde,
    catalog: options.catalog,
    generation,
    projector: withAuditLog(projector, auditLog, generation),
    maxInFlight: options.maxInFlight,
    ...(options.applyBatch === undefined ? {} : { applyBatch: options.applyBatch }),
    logger,
    ...(stopAt === undefined ? {} : { stopAt }),
    ...(options.onRecord === undefined ? {} : { onRecord: options.onRecord }),
  });
  await consumer.start();
  return {
    generation,
    rollup: createRollup({
      marks,
      analytics: createMongoAnalyticsStore(db, collections),
      msPerFact: options.rollupMsPerFact ?? 0,
      written: marks.written,
    }),
    // The consumer first (no apply after it), then the marks the projector holds behind.
    stop: async () => {
      await consumer.stop();
      await projector.flush();
    },
  };
}

/** Removes a generation: its collections and its consumer group (the record is the caller's). */
export async function dropGeneration(
  {
    db,
    catalog,
    collectionPrefix,
    offsets,
  }: { db: Db; catalog: Catalog; collectionPrefix: string; offsets: LogOffsets },
  generation: number,
): Promise<void> {
  const collections = collectionsOf(collectionPrefix, generation);
  const existing = new Set(
    (
      await guardStore("projection", "listCollections", () =>
        db.listCollections({}, { nameOnly: true }).toArray(),
      )
    ).map((c) => c.name),
  );
  for (const kind of COLLECTION_KINDS) {
    const name = collections[kind];
    if (existing.has(name)) await guardStore(name, "drop", () => db.collection(name).drop());
  }
  await offsets.deleteGroup(groupOf(catalog, generation));
}
