import { parseEvent, type AnyEvent } from "@parley/contracts";
import { MongoServerError, type Collection, type Db } from "mongodb";
import type { ContactState, Seen, ServiceWindow } from "../../inbound/decide.js";
import type { ContactStore, StoredContact } from "../../inbound/handler.js";

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
}

/** MongoDB was unreachable or failed; the record is retried in place. */
export class ContactStoreError extends Error {
  override readonly name = "ContactStoreError";
  readonly retriable = true;
  constructor(operation: string, cause: unknown) {
    super(
      `contact store ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );
  }
}

const DUPLICATE_KEY = 11000;

/** ContactStore on MongoDB: one document per contact, written with an optimistic version. */
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
  const guard = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw new ContactStoreError(operation, error);
    }
  };

  return {
    async load(contactId): Promise<StoredContact | undefined> {
      const doc = await guard("load", () => contacts.findOne({ _id: contactId }));
      if (doc === null) return undefined;
      const state: ContactState = {
        contactId,
        messages: doc.messages,
        statuses: doc.statuses,
        others: doc.others,
        windows: doc.windows,
      };
      // Events we wrote ourselves, validated again: a bad document is a poison record (not
      // retriable, dead-lettered), never an outage to wait out.
      const outbox: AnyEvent[] = doc.outbox.map((e) => parseEvent(e));
      return { state, version: doc.version, outbox };
    },

    save: (contactId, { state, outbox }, expectedVersion) =>
      guard("save", async () => {
        const fields = {
          version: expectedVersion + 1,
          messages: [...state.messages],
          statuses: [...state.statuses],
          others: [...state.others],
          windows: [...state.windows],
          outbox: [...outbox],
          updatedAt: clock(),
        };
        if (expectedVersion === 0) {
          try {
            await contacts.insertOne({ _id: contactId, ...fields });
            return true;
          } catch (error) {
            if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return false;
            throw error;
          }
        }
        const result = await contacts.updateOne(
          { _id: contactId, version: expectedVersion },
          { $set: fields },
        );
        return result.matchedCount === 1;
      }),

    clearOutbox: (contactId, version) =>
      guard("clearOutbox", async () => {
        await contacts.updateOne({ _id: contactId, version }, { $set: { outbox: [] } });
      }),
  };
}
