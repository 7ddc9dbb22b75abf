import { guardStore } from "@parley/mongo";
import type { Db, Document, Filter } from "mongodb";

/** A document as these reads see it: keyed by a string id. */
interface Stored extends Document {
  _id: string;
}
import type { BucketRow, ListedKind, ReadModelsReader } from "../../queries/reader.js";
import { collectionsOf } from "./read-model-stores.js";

/**
 * What a caller reads: the state and query fields, not the store's bookkeeping nor the analytics
 * contribution (no view shows it; left on the server, it costs no decoding per lookup).
 */
const HIDDEN = {
  version: 0,
  writeId: 0,
  outbox: 0,
  publishedVersion: 0,
  updatedAt: 0,
  contribution: 0,
} as const;

/**
 * The query API's reads of one generation's collections. Lists are newest first by `sortAt`
 * then `_id`, resumed after a cursor with a range on the same two fields; filters are equality
 * matches on derived fields (indexed where a list is expected to be long).
 */
export function createMongoReader(db: Db, prefix: string): ReadModelsReader {
  const collection = (generation: number, kind: ListedKind | "analytics" | "templates") =>
    db.collection<Stored>(collectionsOf(prefix, generation)[kind]);
  const guard = <T>(kind: string, operation: string, work: () => Promise<T>) =>
    guardStore(`projection ${kind}`, operation, work);

  return {
    async one(generation, kind, id) {
      const doc = await guard(kind, "read", () =>
        collection(generation, kind).findOne({ _id: id }, { projection: HIDDEN }),
      );
      return doc ?? undefined;
    },
    async many(generation, kind, ids) {
      if (ids.length === 0) return [];
      const docs = await guard(kind, "read", () =>
        collection(generation, kind)
          .find({ _id: { $in: [...ids] } }, { projection: HIDDEN })
          .toArray(),
      );
      return docs;
    },
    async list(generation, kind, { equals, from, to, cursor, limit }) {
      const clauses: Filter<Stored>[] = [];
      if (Object.keys(equals).length > 0) clauses.push({ ...equals });
      if (from !== undefined || to !== undefined)
        clauses.push({
          sortAt: {
            ...(from === undefined ? {} : { $gte: from }),
            ...(to === undefined ? {} : { $lt: to }),
          },
        });
      if (cursor !== undefined)
        clauses.push({
          $or: [{ sortAt: { $lt: cursor.at } }, { sortAt: cursor.at, _id: { $lt: cursor.id } }],
        });
      const filter: Filter<Stored> =
        clauses.length === 0 ? {} : clauses.length === 1 ? (clauses[0] ?? {}) : { $and: clauses };
      const docs = await guard(kind, "list", () =>
        collection(generation, kind)
          .find(filter, { projection: HIDDEN })
          .sort({ sortAt: -1, _id: -1 })
          .limit(limit + 1)
          .toArray(),
      );
      return docs;
    },
    count(generation, kind, equals) {
      return guard(kind, "count", () => collection(generation, kind).countDocuments({ ...equals }));
    },
    async buckets(generation, fromHour, toHour, equals) {
      const docs = await guard("analytics", "read", () =>
        collection(generation, "analytics")
          .find({ hour: { $gte: fromHour, $lt: toHour }, ...equals })
          .toArray(),
      );
      return docs as unknown as BucketRow[];
    },
    async templates(generation, wabaId) {
      const docs = await guard("templates", "read", () =>
        collection(generation, "templates")
          .find(wabaId === undefined ? {} : { wabaId }, { projection: HIDDEN })
          .toArray(),
      );
      return docs;
    },
  };
}
