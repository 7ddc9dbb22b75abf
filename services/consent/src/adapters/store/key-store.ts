import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import type { KeyWrapper, WrappedKey } from "../../crypto/keys.js";
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
    async create(contactId) {
      const { wrapped } = wrapper.generate();
      const doc: KeyDocument = {
        _id: contactId,
        keyId: wrapped.keyId,
        wrapped,
        createdAt: clock(),
      };
      try {
        await col.insertOne(doc);
        return recordOf(doc);
      } catch (error) {
        if ((error as { code?: unknown }).code !== DUPLICATE_KEY) {
          return guardStore(collection, "create a data key", () => {
            throw error;
          });
        }
        const existing = await getOne(contactId);
        if (existing === null) throw error;
        return recordOf(existing);
      }
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
