import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import type { SendLog, SendRecord } from "../../ledger/ports.js";

export const SENDS_COLLECTION = "consent_sends";

type SendDocument = SendRecord & { _id: string };

/** Most sends written in one round trip. */
export const MAX_SENDS_PER_WRITE = 500;

/**
 * One document per request and outcome (a redelivery replaces it with the same content). The
 * sends recorded in the same turn of the event loop (the consumer takes hundreds of outcomes a
 * second) go to MongoDB in one unordered bulk write, at most MAX_SENDS_PER_WRITE each: one round
 * trip per few hundred sends instead of one per send, so the keyword replies that share the
 * consumer do not queue behind them. Each call resolves once its own write is acknowledged.
 */
export function createSendLog({
  db,
  collection = SENDS_COLLECTION,
}: {
  db: Db;
  collection?: string;
}): SendLog {
  const col = db.collection<SendDocument>(collection);
  let queued: { send: SendRecord; resolve: () => void; reject: (error: unknown) => void }[] = [];
  const write = async (batch: typeof queued) => {
    try {
      await guardStore(collection, "record sends", () =>
        col.bulkWrite(
          batch.map(({ send }) => ({
            replaceOne: {
              filter: { _id: `${send.requestId}:${send.outcome}` },
              replacement: { ...send },
              upsert: true,
            },
          })),
          { ordered: false },
        ),
      );
      for (const item of batch) item.resolve();
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  };
  const drain = () => {
    const all = queued;
    queued = [];
    for (let i = 0; i < all.length; i += MAX_SENDS_PER_WRITE) {
      void write(all.slice(i, i + MAX_SENDS_PER_WRITE));
    }
  };
  return {
    record(send) {
      return new Promise<void>((resolve, reject) => {
        if (queued.length === 0) setImmediate(drain);
        queued.push({ send, resolve, reject });
      });
    },
    async forget(contactId) {
      await guardStore(collection, "forget sends", () => col.deleteMany({ contactId }));
    },
    async of(contactId, limit) {
      const docs = await guardStore(collection, "read sends", () =>
        col.find({ contactId }).sort({ at: -1 }).limit(limit).toArray(),
      );
      return docs.map(({ _id, ...send }) => send);
    },
  };
}
