import type { EventOf } from "@parley/contracts";
import type { Collection, Db } from "mongodb";

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

/** MongoDB parking, one document per request id (`sender_parked`). */
export function createMongoParkStore(db: Db, collectionName = "sender_parked"): ParkStore {
  const col: Collection<ParkedDoc> = db.collection<ParkedDoc>(collectionName);
  return {
    async park({ requestId, ...rest }) {
      const r = await col.updateOne(
        { _id: requestId },
        { $setOnInsert: { ...rest } },
        { upsert: true },
      );
      return r.upsertedCount === 1;
    },
    async next(number, afterOffset, limit) {
      const docs = await col
        .find({ number, offset: { $gt: afterOffset } })
        .sort({ offset: 1 })
        .limit(limit)
        .toArray();
      return docs.map(({ _id, ...rest }) => ({ requestId: _id, ...rest }));
    },
    async count(number) {
      return col.countDocuments({ number });
    },
    async remove(requestId) {
      await col.deleteOne({ _id: requestId });
    },
    async backlog() {
      const rows = await col
        .aggregate<{ _id: string; partitions: number[] }>([
          { $group: { _id: "$number", partitions: { $addToSet: "$partition" } } },
        ])
        .toArray();
      return rows.map((r) => ({ number: r._id, partitions: r.partitions }));
    },
    async ensureIndexes() {
      await col.createIndex({ number: 1, offset: 1 });
    },
  };
}
