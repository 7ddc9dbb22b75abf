import { randomUUID } from "node:crypto";
import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import { parseBucketId, type Contribution, type Totals } from "../../domain/analytics.js";
import type { AnalyticsStore, BucketMarks, DirtyBucket } from "../../projector/ports.js";
import type { GenerationCollections } from "./read-model-stores.js";

interface MarkDocument {
  _id: string;
  token: string;
  firstMarkedAt: Date;
}

/**
 * The marks of buckets to recompute: one document per bucket; each mark writes a new token (and
 * keeps the time of the first mark, so the oldest are recomputed first), and a recomputation
 * removes the mark only while its token is the one it read.
 */
export function createMongoBucketMarks(
  db: Db,
  collections: GenerationCollections,
  clock: () => Date = () => new Date(),
): BucketMarks {
  const name = collections.marks;
  const marks = db.collection<MarkDocument>(name);
  return {
    async mark(buckets) {
      if (buckets.length === 0) return;
      const now = clock();
      await guardStore(name, "mark", () =>
        marks.bulkWrite(
          buckets.map((bucket) => ({
            updateOne: {
              filter: { _id: bucket },
              update: { $set: { token: randomUUID() }, $setOnInsert: { firstMarkedAt: now } },
              upsert: true,
            },
          })),
          { ordered: false },
        ),
      );
    },
    async take(limit) {
      const docs = await guardStore(name, "take", () =>
        marks.find({}).sort({ firstMarkedAt: 1 }).limit(limit).toArray(),
      );
      return docs.map((d): DirtyBucket => ({ bucket: d._id, token: d.token }));
    },
    async clear(list) {
      if (list.length === 0) return;
      await guardStore(name, "clear", () =>
        marks.bulkWrite(
          list.map(({ bucket, token }) => ({ deleteOne: { filter: { _id: bucket, token } } })),
          { ordered: false },
        ),
      );
    },
    count: () => guardStore(name, "count", () => marks.countDocuments({})),
  };
}

/** A bucket's totals as stored, with its dimensions beside them for queries. */
export interface BucketDocument {
  _id: string;
  hour: string;
  day: string;
  direction: string;
  businessNumber: string;
  template: string;
  category: string;
  country: string;
  totals: Totals;
}

export function createMongoAnalyticsStore(
  db: Db,
  collections: GenerationCollections,
): AnalyticsStore {
  const buckets = db.collection<BucketDocument>(collections.analytics);
  const contributions = async (collection: string, bucket: string): Promise<Contribution[]> => {
    const docs = await guardStore(collection, "contributions", () =>
      db
        .collection(collection)
        .find({ bucket }, { projection: { contribution: 1 } })
        .toArray(),
    );
    return docs
      .map((d) => d["contribution"] as Contribution | undefined)
      .filter((c): c is Contribution => c !== undefined);
  };
  return {
    async contributionsOf(bucket) {
      const [requests, messages] = await Promise.all([
        contributions(collections.requests, bucket),
        contributions(collections.messages, bucket),
      ]);
      return [...requests, ...messages];
    },
    async put(bucket, totals) {
      const key = parseBucketId(bucket);
      if (totals === undefined || key === undefined) {
        await guardStore(collections.analytics, "delete", () => buckets.deleteOne({ _id: bucket }));
        return;
      }
      const doc: BucketDocument = { _id: bucket, ...key, day: key.hour.slice(0, 10), totals };
      await guardStore(collections.analytics, "put", () =>
        buckets.replaceOne({ _id: bucket }, doc, { upsert: true }),
      );
    },
  };
}
