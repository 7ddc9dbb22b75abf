import { parseEvent } from "@parley/contracts";
import type { StateWrite } from "@parley/decider";
import { createMongoStateStore, guardStore, type StateDocument } from "@parley/mongo";
import { MongoBulkWriteError, type Db, type WriteError } from "mongodb";
import {
  decidingRefOf,
  initialState,
  stateOfEntries,
  type ConsentEntry,
  type DecidingRef,
  type LedgerEntry,
  type LedgerState,
  type Purpose,
} from "../../ledger/evolve.js";
import type { LedgerReader, LedgerStore } from "../../ledger/ports.js";

/** The consent service's own collections: one head document per contact, one per entry. */
export const LEDGER_COLLECTION = "consent_ledgers";
export const ENTRY_COLLECTION = "consent_entries";

const LEDGER_TYPES: ReadonlySet<string> = new Set([
  "ConsentGranted",
  "ConsentRevoked",
  "ContactErased",
]);
const DUPLICATE_KEY = 11000;

/** A stored entry read back and validated against its contract. */
export function entryOf(stored: unknown): LedgerEntry {
  const event = parseEvent(stored);
  if (!LEDGER_TYPES.has(event.type)) throw new TypeError(`${event.type} is not a ledger entry`);
  return event as LedgerEntry;
}

/** An entry's document: `_id` is its place in the contact's chain, `eventId` unique too. */
export interface EntryDocument {
  _id: string;
  contactId: string;
  sequence: number;
  eventId: string;
  inputId: string | null;
  entry: unknown;
}

/** The `_id` of the contact's entry at `sequence`: a lookup by `_id` on any MongoDB. */
export const entryPosition = (contactId: string, sequence: number): string =>
  `${contactId}#${String(sequence)}`;

/** The head's own fields (beside the state store's `version`, `outbox`, ...). */
interface HeadFields {
  sequence?: number;
  headHash?: string | null;
  deciding?: Partial<Record<Purpose, unknown>>;
  erasedKeyIds?: string[] | null;
  /** A ledger stored before the amendment: every entry in the head (migrateLedgers moves them). */
  entries?: unknown[];
}

const DECIDING_TYPES: ReadonlySet<unknown> = new Set(["ConsentGranted", "ConsentRevoked"]);

/**
 * A stored head's deciding entry: the summary heads keep since 2026-12-07 (checked field by
 * field), or a whole entry as heads kept it before (checked against its contract, summarised;
 * the head's next write stores the summary).
 */
function decidingOf(stored: unknown): DecidingRef {
  if (typeof stored === "object" && stored !== null && "data" in stored) {
    return decidingRefOf(entryOf(stored) as ConsentEntry);
  }
  const ref = stored as Partial<Record<keyof DecidingRef, unknown>>;
  const text = (v: unknown) => typeof v === "string" && v.length > 0;
  if (
    !DECIDING_TYPES.has(ref.type) ||
    !text(ref.eventId) ||
    !text(ref.occurredAt) ||
    Number.isNaN(Date.parse(String(ref.occurredAt))) ||
    !text(ref.channel) ||
    !text(ref.source) ||
    (ref.expiresAt !== undefined && !text(ref.expiresAt))
  ) {
    throw new TypeError("a deciding entry of the head is not a ledger entry's summary");
  }
  return stored as DecidingRef;
}

/** The head of a stored document; a document still holding its entries is refused (migrate). */
function stateOf(doc: StateDocument, contactId: string): LedgerState {
  const fields = doc as StateDocument & HeadFields;
  if (fields.entries !== undefined) {
    throw new TypeError(
      `the ledger of ${contactId} is stored in the old shape (entries in the head): run parley-consent migrate`,
    );
  }
  const deciding: Partial<Record<Purpose, DecidingRef>> = {};
  for (const [purpose, stored] of Object.entries(fields.deciding ?? {})) {
    if (stored !== null && stored !== undefined) {
      deciding[purpose as Purpose] = decidingOf(stored);
    }
  }
  const erased = fields.erasedKeyIds;
  return {
    ...initialState(contactId),
    sequence: fields.sequence ?? 0,
    headHash: fields.headHash ?? null,
    deciding,
    ...(erased === undefined || erased === null ? {} : { erasedKeyIds: erased }),
    // The last write's outbox while unpublished: entries that may not be in the entry
    // collection yet. Once marked published they are (the store writes them before the
    // publish), so they are not read again here (a schema check each, on every load).
    recent: (doc.publishedVersion ?? 0) >= doc.version ? [] : doc.outbox.map(entryOf),
  };
}

const headOf = (state: LedgerState): HeadFields => ({
  sequence: state.sequence,
  headHash: state.headHash,
  deciding: { ...state.deciding },
  erasedKeyIds: state.erasedKeyIds === undefined ? null : [...state.erasedKeyIds],
});

const entryDocument = (entry: LedgerEntry): EntryDocument => {
  const sequence = entry.data.ledger?.sequence;
  if (sequence === undefined) throw new TypeError(`entry ${entry.eventId} carries no sequence`);
  return {
    _id: entryPosition(entry.data.contactId, sequence),
    contactId: entry.data.contactId,
    sequence,
    eventId: entry.eventId,
    inputId: entry.type === "ContactErased" ? null : (entry.data.inputId ?? null),
    entry,
  };
};

let indexes: WeakMap<Db, Map<string, Promise<unknown>>> = new WeakMap();
/** The entry collection's unique index on `eventId` (created once per process and collection). */
function ensureEntryIndexes(db: Db, collection: string): Promise<unknown> {
  const known = indexes.get(db) ?? new Map<string, Promise<unknown>>();
  indexes.set(db, known);
  let made = known.get(collection);
  if (made === undefined) {
    made = guardStore(collection, "create indexes", () =>
      db
        .collection(collection)
        .createIndex({ eventId: 1 }, { unique: true, name: "eventId_unique" }),
    ).catch((error: unknown) => {
      known.delete(collection);
      throw error;
    });
    known.set(collection, made);
  }
  return made;
}
/** Tests: forget which indexes exist (a dropped database). */
export const forgetEntryIndexes = () => {
  indexes = new WeakMap();
};

/**
 * Writes entries beside their heads, idempotently: one unordered insert for them all; an entry
 * already at its place with the same event id (written by an earlier attempt) is kept, anything
 * else at that place is an error (two entries claiming one link of a chain).
 */
export async function materialize(
  db: Db,
  collection: string,
  entries: readonly LedgerEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  await ensureEntryIndexes(db, collection);
  const col = db.collection<EntryDocument>(collection);
  const docs = entries.map(entryDocument);
  await guardStore(collection, "write entries", async () => {
    try {
      await col.insertMany(docs, { ordered: false });
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const failures: WriteError[] = [error.writeErrors].flat();
      if (failures.length === 0 || failures.some((f) => f.code !== DUPLICATE_KEY)) throw error;
      const clashing = failures.map((f) => docs[f.index]).filter((d) => d !== undefined);
      const stored = await col
        .find({ _id: { $in: clashing.map((d) => d._id) } }, { projection: { eventId: 1 } })
        .toArray();
      const at = new Map(stored.map((d) => [d._id, d.eventId]));
      for (const doc of clashing) {
        if (at.get(doc._id) !== doc.eventId) {
          throw new TypeError(
            `${collection}: ${doc._id} holds another entry than ${doc.eventId}; the chain of ${doc.contactId} is inconsistent`,
          );
        }
      }
    }
  });
}

/**
 * The ledgers on the runtime's MongoDB state store (ADR 0010, ADR 0012 amended 2026-12-07): the
 * head document (state and outbox) is the commit point, written with its version check; the new
 * entries are then inserted one document each into the entry collection. A crash between the two
 * leaves them in the head's outbox, unpublished: the next load of the contact inserts them (and
 * the next decision carries them again, the runtime putting the unpublished outbox first), and
 * readers take them from the outbox meanwhile.
 */
export function createLedgerStore({
  db,
  collection = LEDGER_COLLECTION,
  entries = ENTRY_COLLECTION,
  clock,
  beforeEntries,
}: {
  db: Db;
  collection?: string;
  entries?: string;
  clock?: () => Date;
  /** Tests: called between the head write and the entries' (a crash injected there). */
  beforeEntries?: (writes: readonly StateWrite<LedgerState, LedgerEntry>[]) => void;
}): LedgerStore {
  const heads = createMongoStateStore<LedgerState, LedgerEntry>({
    db,
    collection,
    toDocument: (state) => headOf(state),
    fromDocument: stateOf,
    outboxFromDocument: entryOf,
    ...(clock === undefined ? {} : { clock }),
  });
  return {
    async loadMany(keys) {
      const found = await heads.loadMany(keys);
      // An unpublished outbox may hold entries a crash kept from their documents: written now
      // (idempotent), so no later path (a leftover published and marked on its own when the next
      // write is refused) can leave the chain with a hole.
      const pending = [...found.values()].flatMap((stored) =>
        stored instanceof Error ? [] : stored.outbox,
      );
      await materialize(db, entries, pending);
      return found;
    },
    markPublished: (marks) => heads.markPublished(marks),
    async saveMany(writes) {
      const lost = await heads.saveMany(writes);
      const landed = writes.filter((w) => !lost.has(w.key));
      beforeEntries?.(landed);
      await materialize(
        db,
        entries,
        landed.flatMap((w) => w.outbox),
      );
      return lost;
    },
  };
}

/** Reads heads and entries for the API and the export; entries a page at a time, in order. */
export function createLedgerReader({
  db,
  collection = LEDGER_COLLECTION,
  entries = ENTRY_COLLECTION,
  pageSize = 200,
}: {
  db: Db;
  collection?: string;
  entries?: string;
  pageSize?: number;
}): LedgerReader {
  const col = db.collection<StateDocument>(collection);
  const entryCol = db.collection<EntryDocument>(entries);
  return {
    async get(contactId) {
      const doc = await guardStore(collection, "read a ledger", () =>
        col.findOne({ _id: contactId }),
      );
      return doc === null ? undefined : stateOf(doc, contactId);
    },
    async *entries(head) {
      // Positions 1..sequence by _id, a page at a time; an entry the head committed whose
      // document is not written yet (a crash in between) comes from the head's outbox.
      const pending = new Map(head.recent.map((e) => [e.data.ledger?.sequence ?? 0, e] as const));
      for (let from = 1; from <= head.sequence; from += pageSize) {
        const to = Math.min(head.sequence, from + pageSize - 1);
        const ids: string[] = [];
        for (let s = from; s <= to; s++) ids.push(entryPosition(head.contactId, s));
        const page = await guardStore(entries, "read entries", () =>
          entryCol.find({ _id: { $in: ids } }).toArray(),
        );
        const bySequence = new Map(page.map((d) => [d.sequence, d.entry] as const));
        for (let s = from; s <= to; s++) {
          const stored = bySequence.get(s);
          const entry = stored === undefined ? pending.get(s) : entryOf(stored);
          if (entry !== undefined) yield entry;
        }
      }
    },
    async recorded(eventIds) {
      if (eventIds.length === 0) return new Set();
      await ensureEntryIndexes(db, entries);
      const found = await guardStore(entries, "find entries", () =>
        entryCol
          .find({ eventId: { $in: [...new Set(eventIds)] } }, { projection: { eventId: 1 } })
          .toArray(),
      );
      return new Set(found.map((d) => d.eventId));
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

/**
 * Moves ledgers stored before the amendment (every entry inside the head document) to the entry
 * collection, then rewrites each head without them under its version check (a head a live writer
 * moved meanwhile is taken again). Idempotent; answers how many heads it moved.
 */
export async function migrateLedgers({
  db,
  collection = LEDGER_COLLECTION,
  entries = ENTRY_COLLECTION,
}: {
  db: Db;
  collection?: string;
  entries?: string;
}): Promise<number> {
  const col = db.collection<StateDocument & HeadFields>(collection);
  let moved = 0;
  for (;;) {
    const page = await guardStore(collection, "find old ledgers", () =>
      col
        .find({ entries: { $exists: true } })
        .limit(100)
        .toArray(),
    );
    if (page.length === 0) return moved;
    for (const doc of page) {
      const all = (doc.entries ?? []).map(entryOf);
      await materialize(db, entries, all);
      const head = headOf(stateOfEntries(doc._id, all));
      const published = (doc.publishedVersion ?? 0) >= doc.version;
      const done = await guardStore(collection, "migrate a ledger", () =>
        col.updateOne(
          { _id: doc._id, version: doc.version },
          {
            $set: {
              ...head,
              version: doc.version + 1,
              ...(published ? { publishedVersion: doc.version + 1 } : {}),
            },
            $unset: { entries: "" },
          },
        ),
      );
      if (done.modifiedCount === 1) moved++;
    }
  }
}
