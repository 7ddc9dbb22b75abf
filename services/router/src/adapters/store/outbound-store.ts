import { parseEvent, type AnyEvent } from "@parley/contracts";
import { MongoServerError, type Collection, type Db } from "mongodb";
import type {
  ConsentFact,
  OutboundState,
  RequestRecord,
  WindowFact,
} from "../../outbound/evolve.js";
import type { OutboundStore, StoredOutbound } from "../../outbound/handler.js";

/** The router's outbound collection (its own; the inbound side keeps router_inbound_contacts). */
export const OUTBOUND_COLLECTION = "router_outbound_contacts";

interface OutboundDocument {
  _id: string;
  version: number;
  consent: ConsentFact[];
  windows: WindowFact[];
  marketingSends: string[];
  requests: RequestRecord[];
  outbox: unknown[];
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

/**
 * OutboundStore on MongoDB: one document per contact, written with an optimistic version (a
 * compare-and-set on `version`), so two instances or two topics about one contact never
 * overwrite each other's decision.
 */
export function createMongoOutboundStore({
  db,
  collection = OUTBOUND_COLLECTION,
  clock = () => new Date(),
}: {
  db: Db;
  collection?: string;
  clock?: () => Date;
}): OutboundStore {
  const contacts: Collection<OutboundDocument> = db.collection<OutboundDocument>(collection);
  const guard = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw new OutboundStoreError(operation, error);
    }
  };

  return {
    async load(contactId): Promise<StoredOutbound | undefined> {
      const doc = await guard("load", () => contacts.findOne({ _id: contactId }));
      if (doc === null) return undefined;
      const state: OutboundState = {
        contactId,
        consent: doc.consent,
        windows: doc.windows,
        marketingSends: doc.marketingSends,
        requests: doc.requests.map((r) => ({ ...r, key: r.key ?? undefined })),
      };
      // Our own events, validated again: a bad document is a poison record, not an outage.
      const outbox: AnyEvent[] = doc.outbox.map((e) => parseEvent(e));
      return { state, version: doc.version, outbox };
    },

    save: (contactId, { state, outbox }, expectedVersion) =>
      guard("save", async () => {
        const fields = {
          version: expectedVersion + 1,
          consent: [...state.consent],
          windows: [...state.windows],
          marketingSends: [...state.marketingSends],
          // MongoDB drops undefined fields; null keeps "claims no key" explicit.
          requests: state.requests.map((r) => ({ ...r, key: r.key ?? null })) as RequestRecord[],
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
