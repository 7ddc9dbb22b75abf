import { parseEvent } from "@parley/contracts";
import { createMongoStateStore, guardStore, type StateDocument } from "@parley/mongo";
import type { Db } from "mongodb";
import type { LedgerEntry, LedgerState } from "../../ledger/evolve.js";
import type { LedgerReader, LedgerStore } from "../../ledger/ports.js";

/** The consent service's own collection: one document per contact. */
export const LEDGER_COLLECTION = "consent_ledgers";

const LEDGER_TYPES: ReadonlySet<string> = new Set([
  "ConsentGranted",
  "ConsentRevoked",
  "ContactErased",
]);

/** A stored entry read back and validated against its contract. */
function entryOf(stored: unknown): LedgerEntry {
  const event = parseEvent(stored);
  if (!LEDGER_TYPES.has(event.type)) throw new TypeError(`${event.type} is not a ledger entry`);
  return event as LedgerEntry;
}

interface LedgerFields {
  entries: unknown[];
  erasedKeyIds?: string[] | null;
}

function stateOf(doc: StateDocument, contactId: string): LedgerState {
  const fields = doc as StateDocument & Partial<LedgerFields>;
  const erased = fields.erasedKeyIds;
  return {
    contactId,
    entries: (fields.entries ?? []).map(entryOf),
    ...(erased === undefined || erased === null ? {} : { erasedKeyIds: erased }),
  };
}

/** The ledgers on the runtime's MongoDB state store (ADR 0010). */
export function createLedgerStore({
  db,
  collection = LEDGER_COLLECTION,
  clock,
}: {
  db: Db;
  collection?: string;
  clock?: () => Date;
}): LedgerStore {
  return createMongoStateStore<LedgerState, LedgerEntry>({
    db,
    collection,
    toDocument: (state): LedgerFields => ({
      entries: [...state.entries],
      erasedKeyIds: state.erasedKeyIds === undefined ? null : [...state.erasedKeyIds],
    }),
    fromDocument: stateOf,
    outboxFromDocument: entryOf,
    ...(clock === undefined ? {} : { clock }),
  });
}

/** Reads the same collection for the API and the export; pages by `_id`. */
export function createLedgerReader({
  db,
  collection = LEDGER_COLLECTION,
  pageSize = 200,
}: {
  db: Db;
  collection?: string;
  pageSize?: number;
}): LedgerReader {
  const col = db.collection<StateDocument>(collection);
  return {
    async get(contactId) {
      const doc = await guardStore(collection, "read a ledger", () =>
        col.findOne({ _id: contactId }),
      );
      return doc === null ? undefined : stateOf(doc, contactId);
    },
    async *scan() {
      let after: string | undefined;
      for (;;) {
        const page = await guardStore(collection, "scan ledgers", () =>
          col
            .find(after === undefined ? {} : { _id: { $gt: after } })
            .sort({ _id: 1 })
            .limit(pageSize)
            .toArray(),
        );
        for (const doc of page) yield stateOf(doc, doc._id);
        const last = page.at(-1);
        if (last === undefined || page.length < pageSize) return;
        after = last._id;
      }
    },
  };
}
