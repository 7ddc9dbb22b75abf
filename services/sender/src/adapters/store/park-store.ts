import type { EventOf } from "@parley/contracts";
import { guardStore } from "@parley/mongo";
import type { Collection, Db } from "mongodb";
import { createBatcher } from "./batcher.js";

/** A dispatch set aside while its number is paused, with the record coordinates that order it. */
export interface ParkedDispatch {
  readonly requestId: string;
  readonly number: string;
  /** Partition and offset of its dispatch record: one number's records share a partition. */
  readonly partition: number;
  readonly offset: number;
  readonly recipient: string;
  readonly dispatch: EventOf<"DispatchMessage">;
  readonly parkedAt: Date;
}

interface ParkedDoc extends Omit<ParkedDispatch, "requestId"> {
  _id: string;
}

/** The parking port: dispatches of paused numbers, kept until the number is sent again. */
export interface ParkStore {
  /** Keeps the dispatch; true when it was not parked already (a redelivery parks once). */
  park(p: ParkedDispatch): Promise<boolean>;
  /** Parked dispatches of a number after `afterOffset`, oldest record first. */
  next(number: string, afterOffset: number, limit: number): Promise<ParkedDispatch[]>;
  count(number: string): Promise<number>;
  remove(requestId: string): Promise<void>;
  /** Every number with parked dispatches, with the partitions they came from. */
  backlog(): Promise<{ number: string; partitions: number[] }[]>;
  ensureIndexes(): Promise<void>;
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
