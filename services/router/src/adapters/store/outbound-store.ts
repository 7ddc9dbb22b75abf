import { parseEvent, type AnyEvent } from "@parley/contracts";
import { randomUUID } from "node:crypto";
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db } from "mongodb";
import type {
  ConsentFact,
  OutboundState,
  RequestRecord,
  WindowFact,
} from "../../outbound/evolve.js";
import {
  batched,
  settledError,
  settledValue,
  type BatchOptions,
  type Settled,
} from "../../outbound/batch.js";
import type { OutboundStore, StoredOutbound } from "../../outbound/handler.js";

/** The router's outbound collection (its own; the inbound side keeps router_inbound_contacts). */
export const OUTBOUND_COLLECTION = "router_outbound_contacts";

interface OutboundDocument {
  _id: string;
  version: number;
  /** Unique per write: tells a batched conditional write whether it was the one applied. */
  writeId: string;
  consent: ConsentFact[];
  windows: WindowFact[];
  marketingSends: string[];
  requests: RequestRecord[];
  outbox: unknown[];
  /** The highest version whose outbox is known published: that outbox counts as empty. */
  publishedVersion?: number;
  updatedAt: Date;
}

/** MongoDB was unreachable or failed; the record is retried in place. */
export class OutboundStoreError extends Error {
  override readonly name = "OutboundStoreError";
  readonly retriable = true;
  constructor(operation: string, cause: unknown) {
    super(
      `outbound store ${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

const DUPLICATE_KEY = 11000;

interface SaveItem {
  readonly contactId: string;
  readonly fields: Omit<OutboundDocument, "_id">;
  readonly expectedVersion: number;
}

/**
 * OutboundStore on MongoDB: one document per contact, written with an optimistic version (a
 * compare-and-set on `version`), so two instances or two topics about one contact never
 * overwrite each other's decision.
 *
 * Calls from many contacts at once share round trips (see outbound/batch.ts): loads become one
 * `find` by `_id $in`, saves and outbox clears one unordered `bulkWrite`. Each save still is its
 * own conditional write; it carries a fresh `writeId`, and when the bulk result does not show
 * every write applied, the written ids are read back to tell which ones won (a lost race and a
 * duplicate insert both answer false, exactly as a single write would).
 */
export function createMongoOutboundStore({
  db,
  collection = OUTBOUND_COLLECTION,
  clock = () => new Date(),
  batch = {},
}: {
  db: Db;
  collection?: string;
  clock?: () => Date;
  batch?: BatchOptions;
}): OutboundStore {
  const contacts: Collection<OutboundDocument> = db.collection<OutboundDocument>(collection);
  const guard = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw new OutboundStoreError(operation, error);
    }
  };

  const fromDocument = (contactId: string, doc: OutboundDocument): StoredOutbound => {
    const state: OutboundState = {
      contactId,
      consent: doc.consent,
      windows: doc.windows,
      marketingSends: doc.marketingSends,
      requests: doc.requests.map((r) => ({ ...r, key: r.key ?? undefined })),
    };
    // Our own events, validated again: a bad document is a poison record, not an outage.
    const published = (doc.publishedVersion ?? 0) >= doc.version;
    const outbox: AnyEvent[] = published ? [] : doc.outbox.map((e) => parseEvent(e));
    return { state, version: doc.version, outbox };
  };

  const load = batched<string, StoredOutbound | undefined>(
    (ids) =>
      guard("load", async () => {
        const unique = [...new Set(ids)];
        const docs = await contacts
          .find(unique.length === 1 ? { _id: unique[0] ?? "" } : { _id: { $in: unique } })
          .toArray();
        const byId = new Map(docs.map((d) => [d._id, d]));
        return ids.map((id): Settled<StoredOutbound | undefined> => {
          const doc = byId.get(id);
          if (doc === undefined) return settledValue(undefined);
          try {
            return settledValue(fromDocument(id, doc));
          } catch (error) {
            return settledError(error);
          }
        });
      }),
    batch,
  );

  const save = batched<SaveItem, boolean>(
    (items) =>
      guard("save", async () => {
        const operations: AnyBulkWriteOperation<OutboundDocument>[] = items.map((item) =>
          item.expectedVersion === 0
            ? { insertOne: { document: { _id: item.contactId, ...item.fields } } }
            : {
                updateOne: {
                  filter: { _id: item.contactId, version: item.expectedVersion },
                  update: { $set: item.fields },
                },
              },
        );
        let applied = -1;
        try {
          const result = await contacts.bulkWrite(operations, { ordered: false });
          applied = result.insertedCount + result.matchedCount;
        } catch (error) {
          // Lost insert races are answers (false); anything else is an outage for the batch.
          const duplicatesOnly =
            error instanceof MongoBulkWriteError &&
            ([] as { code?: unknown }[])
              .concat(error.writeErrors as { code?: unknown } | { code?: unknown }[])
              .every((e) => e.code === DUPLICATE_KEY);
          if (!duplicatesOnly) throw error;
        }
        if (applied === items.length) return items.map(() => settledValue(true));
        const written = await contacts
          .find(
            { _id: { $in: items.map((i) => i.contactId) } },
            { projection: { _id: 1, writeId: 1 } },
          )
          .toArray();
        const won = new Map(written.map((d) => [d._id, d.writeId]));
        return items.map((i) => settledValue(won.get(i.contactId) === i.fields.writeId));
      }),
    batch,
  );

  // The clear records the version whose outbox is published ($max, filtered by _id alone: no
  // version in the filter, which the local MongoDB stand-in would answer with a collection scan).
  // A load treats the outbox as empty while publishedVersion has reached the document's version;
  // a later save raises the version, so its own outbox counts again.
  const clear = batched<{ contactId: string; version: number }, undefined>(
    (items) =>
      guard("clearOutbox", async () => {
        await contacts.bulkWrite(
          items.map(({ contactId, version }) => ({
            updateOne: {
              filter: { _id: contactId },
              update: { $max: { publishedVersion: version } },
            },
          })),
          { ordered: false },
        );
        return items.map(() => settledValue(undefined));
      }),
    batch,
  );

  return {
    load,
    save: (contactId, { state, outbox }, expectedVersion) =>
      save({
        contactId,
        expectedVersion,
        fields: {
          version: expectedVersion + 1,
          writeId: randomUUID(),
          consent: [...state.consent],
          windows: [...state.windows],
          marketingSends: [...state.marketingSends],
          // MongoDB drops undefined fields; null keeps "claims no key" explicit.
          requests: state.requests.map((r) => ({ ...r, key: r.key ?? null })) as RequestRecord[],
          outbox: [...outbox],
          updatedAt: clock(),
        },
      }),
    clearOutbox: (contactId, version) => clear({ contactId, version }),
  };
}
