import { parseEvent } from "@parley/contracts";
import { createMongoStateStore, type StateDocument } from "@parley/mongo";
import type { Db } from "mongodb";
import {
  isRouterEvent,
  type ContactState,
  type RouterEvent,
  type Seen,
  type ServiceWindow,
} from "../../inbound/decide.js";
import type { ContactStore } from "../../inbound/handler.js";

/** The router's own collection (services never share collections). */
export const CONTACTS_COLLECTION = "router_inbound_contacts";

/** A contact's fields in its document, beside the runtime's (version, outbox, ...). */
interface ContactFields {
  messages: readonly Seen[];
  statuses: readonly Seen[];
  others: readonly Seen[];
  windows: readonly ServiceWindow[];
}

/**
 * An outbox event read back: our own events, validated again, so a bad document is a poison
 * record for its own webhook (never an outage to wait out).
 */
export function routerEventOf(stored: unknown): RouterEvent {
  const event = parseEvent(stored);
  if (!isRouterEvent(event)) {
    throw new TypeError(`${event.type} is not an event the inbound side publishes`);
  }
  return event;
}

/**
 * The inbound contacts on the runtime's MongoDB store (ADR 0010): one document per contact with
 * the state's lists at the top (`messages`, `statuses`, `others`, `windows`), as this collection
 * has always been laid out, so documents written before the runtime read as they are.
 * `rememberKeys` contacts' last stored lists stay in memory, so a save sends only what the
 * decision changed (a list's new identities, `$push` trimmed to the retained length) instead of
 * the whole document (ADR 0004, "Saves that follow the decision").
 */
export function createContactStore({
  db,
  collection = CONTACTS_COLLECTION,
  clock,
  rememberKeys = 0,
}: {
  db: Db;
  collection?: string;
  clock?: () => Date;
  rememberKeys?: number;
}): ContactStore {
  return createMongoStateStore<ContactState, RouterEvent>({
    db,
    collection,
    rememberKeys,
    // The state's own lists (immutable): the store compares them with what it wrote by item.
    toDocument: (state): ContactFields => ({
      messages: state.messages,
      statuses: state.statuses,
      others: state.others,
      windows: state.windows,
    }),
    fromDocument: (doc: StateDocument, contactId) => {
      const fields = doc as StateDocument & Partial<ContactFields>;
      return {
        contactId,
        messages: fields.messages ?? [],
        statuses: fields.statuses ?? [],
        others: fields.others ?? [],
        windows: fields.windows ?? [],
      };
    },
    outboxFromDocument: routerEventOf,
    ...(clock === undefined ? {} : { clock }),
  });
}
