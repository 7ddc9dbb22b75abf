import { parseEvent } from "@parley/contracts";
import { createMongoStateStore, type StateDocument } from "@parley/mongo";
import type { Db } from "mongodb";
import {
  isOutboundOutput,
  type ConsentFact,
  type OutboundOutput,
  type OutboundState,
  type RequestRecord,
  type WindowFact,
} from "../../outbound/evolve.js";
import type { OutboundStore } from "../../outbound/handler.js";

/** The router's outbound collection (its own; the inbound side keeps router_inbound_contacts). */
export const OUTBOUND_COLLECTION = "router_outbound_contacts";

/** A decided request as stored: MongoDB drops undefined fields, so "claims no key" is null. */
type StoredRequest = Omit<RequestRecord, "key"> & { key: string | null };

/** A contact's fields in its document, beside the runtime's (version, outbox, ...). */
interface OutboundFields {
  consent: readonly ConsentFact[];
  windows: readonly WindowFact[];
  marketingSends: readonly string[];
  requests: StoredRequest[];
}

/** An outbox event read back, validated: a bad document is a poison record for its own request. */
export function outboundOutputOf(stored: unknown): OutboundOutput {
  const event = parseEvent(stored);
  if (!isOutboundOutput(event)) {
    throw new TypeError(`${event.type} is not an event the outbound side publishes`);
  }
  return event;
}

/**
 * The outbound contacts on the runtime's MongoDB store (ADR 0010): one document per contact with
 * the state's lists at the top (`consent`, `windows`, `marketingSends`, `requests`), as this
 * collection has always been laid out, so documents written before the runtime read as they are.
 * `rememberKeys` contacts' last stored lists stay in memory, so a save sends only what the
 * decision changed (ADR 0005, "Saves that follow the decision"); a request keeps the one stored
 * form it was read or first written as, so the store recognises the requests it already holds.
 */
export function createOutboundStore({
  db,
  collection = OUTBOUND_COLLECTION,
  clock,
  rememberKeys = 0,
}: {
  db: Db;
  collection?: string;
  clock?: () => Date;
  rememberKeys?: number;
}): OutboundStore {
  /** Each request's stored form (decided requests are immutable). */
  const storedForm = new WeakMap<RequestRecord, StoredRequest>();
  const storedOf = (r: RequestRecord): StoredRequest => {
    let stored = storedForm.get(r);
    if (stored === undefined) {
      stored = { ...r, key: r.key ?? null };
      storedForm.set(r, stored);
    }
    return stored;
  };
  return createMongoStateStore<OutboundState, OutboundOutput>({
    db,
    collection,
    rememberKeys,
    // The state's own lists (immutable), so the store can tell which items it already holds.
    toDocument: (state): OutboundFields => ({
      consent: state.consent,
      windows: state.windows,
      marketingSends: state.marketingSends,
      requests: state.requests.map(storedOf),
    }),
    fromDocument: (doc: StateDocument, contactId) => {
      const fields = doc as StateDocument & Partial<OutboundFields>;
      return {
        contactId,
        consent: fields.consent ?? [],
        windows: fields.windows ?? [],
        marketingSends: fields.marketingSends ?? [],
        requests: (fields.requests ?? []).map((stored) => {
          const record: RequestRecord = { ...stored, key: stored.key ?? undefined };
          storedForm.set(record, stored);
          return record;
        }),
      };
    },
    outboxFromDocument: outboundOutputOf,
    ...(clock === undefined ? {} : { clock }),
  });
}
