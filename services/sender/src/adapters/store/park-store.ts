import { guardStore } from "@parley/mongo";
import type { Collection, Db } from "mongodb";
import type { ParkedDispatch, ParkStore } from "../../sending/ports.js";
import { createBatcher } from "./batcher.js";

interface ParkedDoc extends Omit<ParkedDispatch, "requestId"> {
  _id: string;
}

/**
 * MongoDB parking, one document per request id (`sender_parked`). Parks and removes made in the
 * same moment share a round trip (a number's backlog parks hundreds at once).
 */
export function createMongoParkStore(db: Db, collectionName = "sender_parked"): ParkStore {
  const col: Collection<ParkedDoc> = db.collection<ParkedDoc>(collectionName);
  const parkMany = createBatcher<ParkedDispatch, boolean>(async (items) => {
    // Upserts that only insert: a redelivered record parks once, and says so (false).
    const r = await col.bulkWrite(
      items.map(({ requestId, ...rest }) => ({
        updateOne: {
          filter: { _id: requestId },
          update: { $setOnInsert: { ...rest } },
          upsert: true,
        },
      })),
      { ordered: false },
    );
    const inserted = new Set(Object.keys(r.upsertedIds).map(Number));
    return items.map((_, i) => inserted.has(i));
  });
  const removeMany = createBatcher<string, undefined>(async (ids) => {
    await col.deleteMany({ _id: { $in: [...new Set(ids)] } });
    return ids.map(() => undefined);
  });
  const guard = <T>(operation: string, work: () => Promise<T>): Promise<T> =>
    guardStore(collectionName, operation, work);
  return {
    park: (p) => guard("park", () => parkMany(p)),
    async next(number, afterOffset, limit) {
      const docs = await guard("next", () =>
        col
          .find({ number, offset: { $gt: afterOffset } })
          .sort({ offset: 1 })
          .limit(limit)
          .toArray(),
      );
      return docs.map(({ _id, ...rest }) => ({ requestId: _id, ...rest }));
    },
    count: (number) => guard("count", () => col.countDocuments({ number })),
    remove: (requestId) => guard("remove", () => removeMany(requestId)),
    async backlog() {
      const rows = await guard("backlog", () =>
        col
          .aggregate<{ _id: string; partitions: number[] }>([
            { $group: { _id: "$number", partitions: { $addToSet: "$partition" } } },
          ])
          .toArray(),
      );
      return rows.map((r) => ({ number: r._id, partitions: r.partitions }));
    },
    async ensureIndexes() {
      await guard("ensureIndexes", () => col.createIndex({ number: 1, offset: 1 }));
    },
  };
}
