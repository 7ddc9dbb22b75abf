import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import type { SendLog, SendRecord } from "../../ledger/ports.js";

export const SENDS_COLLECTION = "consent_sends";

type SendDocument = SendRecord & { _id: string };

/** One document per request and outcome (a redelivery replaces it with the same content). */
export function createSendLog({
  db,
  collection = SENDS_COLLECTION,
}: {
  db: Db;
  collection?: string;
}): SendLog {
  const col = db.collection<SendDocument>(collection);
  return {
    async record(send) {
      const _id = `${send.requestId}:${send.outcome}`;
      await guardStore(collection, "record a send", () =>
        col.replaceOne({ _id }, { ...send }, { upsert: true }),
      );
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
