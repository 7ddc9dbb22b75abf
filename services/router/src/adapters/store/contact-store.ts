import { randomUUID } from "node:crypto";
import { parseEvent, type AnyEvent } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import { guardStore } from "@parley/mongo";
import { MongoBulkWriteError, type Collection, type Db, type WriteError } from "mongodb";
import type { ContactState, Seen, ServiceWindow } from "../../inbound/decide.js";
import type { ContactStore, ContactWrite, StoredContact } from "../../inbound/handler.js";

/** The router's own collection (services never share collections). */
export const CONTACTS_COLLECTION = "router_inbound_contacts";

interface ContactDocument {
  _id: string;
  version: number;
  messages: Seen[];
  statuses: Seen[];
  others: Seen[];
  windows: ServiceWindow[];
  outbox: unknown[];
  updatedAt: Date;
  /** The bulk write that wrote this version (tells which updates of a bulk write landed). */
  writeId?: string;
  /** The version whose outbox is published: equal to `version`, the outbox is done. */
  publishedVersion?: number;
}

/** The store's name in errors and logs (guardStore): "contact store save failed: ...". */
const STORE = "contact store";

/** A stored document that is not what this router writes: a poison record for its webhook only. */
export class UnreadableContactError extends ParleyError {
  override readonly name = "UnreadableContactError";
  constructor(cause: unknown) {
    // The document's id stays out of the message: it is a phone number and messages reach logs.
    super(
      `a contact document cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`,
      { retry: "never", cause },
    );
  }
}

const DUPLICATE_KEY = 11000;

/**
 * ContactStore on MongoDB: one document per contact, written with an optimistic version; each
 * operation is one query or one unordered bulk write for the whole batch. Failures go through
 * guardStore: an unavailable server is an outage (waited out), anything else (a document the
 * server refuses, BSON that cannot be built) fails for good.
 */
export function createMongoContactStore({
  db,
  collection = CONTACTS_COLLECTION,
  clock = () => new Date(),
}: {
  db: Db;
  collection?: string;
  clock?: () => Date;
}): ContactStore {
  const contacts: Collection<ContactDocument> = db.collection<ContactDocument>(collection);
  const guard = <T>(operation: string, work: () => Promise<T>): Promise<T> =>
    guardStore(STORE, operation, work);

  const read = (doc: ContactDocument): StoredContact | Error => {
    const state: ContactState = {
      contactId: doc._id,
      messages: doc.messages,
      statuses: doc.statuses,
      others: doc.others,
      windows: doc.windows,
    };
    if (doc.publishedVersion === doc.version) return { state, version: doc.version, outbox: [] };
    try {
      // Events we wrote ourselves, validated again: a bad document is a poison record (not
      // retriable, dead-lettered), never an outage to wait out, and only for its own webhook.
      const outbox: AnyEvent[] = doc.outbox.map((e) => parseEvent(e));
      return { state, version: doc.version, outbox };
    } catch (error) {
      return new UnreadableContactError(error);
    }
  };

  return {
    loadMany: (contactIds) =>
      guard("load", async () => {
        const found = new Map<string, StoredContact | Error>();
        if (contactIds.length === 0) return found;
        const docs = await contacts.find({ _id: { $in: [...contactIds] } }).toArray();
        for (const doc of docs) found.set(doc._id, read(doc));
        return found;
      }),

    saveMany: (writes) =>
      guard("save", async () => {
        const conflicts = new Set<string>();
        if (writes.length === 0) return conflicts;
        const updatedAt = clock();
        // Marks this bulk write's documents, to tell afterwards which updates landed.
        const writeId = randomUUID();
        const fieldsOf = ({ state, outbox, expectedVersion }: ContactWrite) => ({
          version: expectedVersion + 1,
          messages: [...state.messages],
          statuses: [...state.statuses],
          others: [...state.others],
          windows: [...state.windows],
          outbox: [...outbox],
          updatedAt,
          writeId,
        });
        // A first document is inserted (a duplicate _id means another writer was first); later
        // ones are updated only at the version read.
        const operations = writes.map((write) =>
          write.expectedVersion === 0
            ? { insertOne: { document: { _id: write.contactId, ...fieldsOf(write) } } }
            : {
                updateOne: {
                  filter: { _id: write.contactId, version: write.expectedVersion },
                  update: { $set: fieldsOf(write) },
                },
              },
        );
        let matched: number;
        try {
          matched = (await contacts.bulkWrite(operations, { ordered: false })).matchedCount;
        } catch (error) {
          if (!(error instanceof MongoBulkWriteError)) throw error;
          const failed: WriteError[] = [error.writeErrors].flat();
          for (const failure of failed) {
            const write = writes[failure.index];
            if (failure.code !== DUPLICATE_KEY || write === undefined) throw error;
            conflicts.add(write.contactId);
          }
          matched = error.result.matchedCount;
        }
        // A bulk write counts the updates that matched but does not say which: when some did
        // not, the documents now stored tell (our version and our write id). One that landed
        // and was overwritten since counts as lost too, which is safe: that other writer loaded
        // our outbox and published it.
        const updates = writes.filter((write) => write.expectedVersion > 0);
        if (matched < updates.length) {
          const now = await contacts
            .find(
              { _id: { $in: updates.map((write) => write.contactId) } },
              { projection: { version: 1, writeId: 1 } },
            )
            .toArray();
          const stored = new Map(now.map((doc) => [doc._id, doc]));
          for (const write of updates) {
            const doc = stored.get(write.contactId);
            if (doc?.version !== write.expectedVersion + 1 || doc.writeId !== writeId)
              conflicts.add(write.contactId);
          }
        }
        return conflicts;
      }),

    clearOutboxes: (cleared) =>
      guard("clearOutbox", async () => {
        if (cleared.length === 0) return;
        // Marks the version as published rather than emptying the outbox under a version
        // filter: an update by _id alone is cheap everywhere (the MongoDB stand-in scans the
        // collection for any other filter), and $max keeps a later clear from being undone.
        await contacts.bulkWrite(
          cleared.map(({ contactId, version }) => ({
            updateOne: {
              filter: { _id: contactId },
              update: { $max: { publishedVersion: version } },
            },
          })),
          { ordered: false },
        );
      }),
  };
}
