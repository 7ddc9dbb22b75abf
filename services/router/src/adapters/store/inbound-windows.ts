import type { Db } from "mongodb";
import type { WindowFact } from "../../outbound/evolve.js";
import type { WindowReader } from "../../outbound/handler.js";
import { CONTACTS_COLLECTION } from "./contact-store.js";
import { OutboundStoreError } from "./outbound-store.js";

/**
 * Reads a contact's service windows from the inbound side's own documents: they are written
 * there before the inbound message is even published, so a reply requested right after it never
 * races the conversation-windows topic. Read-only; the inbound store's writers are untouched.
 */
export function createInboundWindowReader({
  db,
  collection = CONTACTS_COLLECTION,
}: {
  db: Db;
  collection?: string;
}): WindowReader {
  const contacts = db.collection<{ _id: string; windows?: WindowFact[] }>(collection);
  return {
    async windowsOf(contactId) {
      try {
        const doc = await contacts.findOne({ _id: contactId }, { projection: { windows: 1 } });
        return (doc?.windows ?? []).map((w) => ({
          businessNumber: w.businessNumber,
          expiresAt: w.expiresAt,
        }));
      } catch (error) {
        throw new OutboundStoreError("inbound windows read", error);
      }
    },
  };
}
