import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import { UnknownMasterKeyError, type KeyWrapper, type WrappedKey } from "../../crypto/keys.js";
import type { KeyRecord, KeyStore } from "../../ledger/ports.js";

export const KEY_COLLECTION = "consent_keys";

interface KeyDocument {
  _id: string;
  keyId: string;
  /** Absent once destroyed. */
  wrapped?: WrappedKey;
  createdAt: Date;
  destroyedAt?: Date;
}

const DUPLICATE_KEY = 11000;

/**
 * Per-contact data keys in their own collection, wrapped by the configured master key; a
 * destroyed key keeps its id and when it was destroyed, and nothing that could open data.
 */
export function createKeyStore({
  db,
  wrapper,
  collection = KEY_COLLECTION,
  clock = () => new Date(),
}: {
  db: Db;
  wrapper: KeyWrapper;
  collection?: string;
  clock?: () => Date;
}): KeyStore {
  const col = db.collection<KeyDocument>(collection);
  const recordOf = (doc: KeyDocument): KeyRecord =>
    doc.wrapped === undefined
      ? {
          status: "destroyed",
          keyId: doc.keyId,
          destroyedAt: (doc.destroyedAt ?? doc.createdAt).toISOString(),
        }
      : { status: "active", key: wrapper.unwrap(doc.wrapped) };
  const getOne = async (contactId: string) =>
    guardStore(collection, "read a data key", () => col.findOne({ _id: contactId }));
  return {
    async get(contactIds) {
      const docs = await guardStore(collection, "read data keys", () =>
        col.find({ _id: { $in: [...contactIds] } }).toArray(),
      );
      return new Map(docs.map((doc) => [doc._id, recordOf(doc)]));
    },
    async create(contactIds) {
      if (contactIds.length === 0) return new Map();
      const docs: KeyDocument[] = contactIds.map((contactId) => ({
        _id: contactId,
        keyId: "",
        wrapped: wrapper.generate().wrapped,
        createdAt: clock(),
      }));
      for (const doc of docs) if (doc.wrapped !== undefined) doc.keyId = doc.wrapped.keyId;
      const out = new Map<string, KeyRecord>();
      let lost: string[] = [];
      try {
        await col.insertMany(docs, { ordered: false });
      } catch (error) {
        const writeErrors = (error as { writeErrors?: unknown }).writeErrors;
        const list = Array.isArray(writeErrors)
          ? (writeErrors as { code?: unknown; index?: unknown }[])
          : [];
        // Only keys another writer created first are fine: read theirs; anything else fails.
        if (list.length === 0 || list.some((e) => e.code !== DUPLICATE_KEY)) {
          return guardStore(collection, "create data keys", () => {
            throw error;
          });
        }
        lost = list.map((e) => docs[Number(e.index)]?._id ?? "");
      }
      const lostSet = new Set(lost);
      for (const doc of docs) if (!lostSet.has(doc._id)) out.set(doc._id, recordOf(doc));
      if (lost.length > 0) {
        const theirs = await guardStore(collection, "read data keys", () =>
          col.find({ _id: { $in: lost } }).toArray(),
        );
        for (const doc of theirs) out.set(doc._id, recordOf(doc));
      }
      return out;
    },
    async destroy(contactId, now) {
      const doc = await getOne(contactId);
      if (doc === null) return [];
      if (doc.wrapped !== undefined) {
        await guardStore(collection, "destroy a data key", () =>
          col.replaceOne(
            { _id: contactId },
            { keyId: doc.keyId, createdAt: doc.createdAt, destroyedAt: now },
          ),
        );
      }
      return [doc.keyId];
    },
  };
}

/**
 * Moves every data key wrapped by master key `from` to the current master key (the first of
 * CONSENT_MASTER_KEYS): each key is unwrapped and wrapped again, keeping its id and bytes, so no
 * sealed entry (in MongoDB or on the consent topic) is re-encrypted and every one opens as
 * before. A key destroyed meanwhile (erasure) is never brought back: the update applies only to
 * a document still holding the wrapped key that was read. Answers how many keys moved.
 */
export async function rewrapDataKeys({
  db,
  wrapper,
  from,
  batch = 500,
  collection = KEY_COLLECTION,
}: {
  db: Db;
  wrapper: KeyWrapper;
  from: string;
  batch?: number;
  collection?: string;
}): Promise<number> {
  if (!wrapper.ids.includes(from)) throw new UnknownMasterKeyError(from, wrapper.ids);
  if (from === wrapper.currentId) return 0;
  const col = db.collection<KeyDocument>(collection);
  let moved = 0;
  for (;;) {
    const docs = await guardStore(collection, "read data keys to re-wrap", () =>
      col.find({ "wrapped.masterKeyId": from }).limit(batch).toArray(),
    );
    if (docs.length === 0) return moved;
    const updates = docs.flatMap((doc) =>
      doc.wrapped === undefined
        ? []
        : [
            {
              updateOne: {
                filter: {
                  _id: doc._id,
                  "wrapped.masterKeyId": from,
                  "wrapped.ciphertext": doc.wrapped.ciphertext,
                },
                update: { $set: { wrapped: wrapper.rewrap(doc.wrapped) } },
              },
            },
          ],
    );
    if (updates.length === 0) return moved;
    const result = await guardStore(collection, "re-wrap data keys", () =>
      col.bulkWrite(updates, { ordered: false }),
    );
    moved += result.modifiedCount;
  }
}

/** How many live data keys each master key wraps, and how many keys were destroyed. */
export async function countDataKeys(
  db: Db,
  collection = KEY_COLLECTION,
): Promise<{ readonly byMasterKey: Readonly<Record<string, number>>; readonly destroyed: number }> {
  const col = db.collection<KeyDocument>(collection);
  const groups = await guardStore(collection, "count data keys", () =>
    col
      .aggregate<{ _id: string | null; n: number }>([
        { $group: { _id: "$wrapped.masterKeyId", n: { $sum: 1 } } },
      ])
      .toArray(),
  );
  const byMasterKey: Record<string, number> = {};
  let destroyed = 0;
  for (const g of groups) {
    if (g._id === null) destroyed += g.n;
    else byMasterKey[g._id] = g.n;
  }
  return { byMasterKey, destroyed };
}
