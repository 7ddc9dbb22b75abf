import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import type { WindowFact } from "../../outbound/evolve.js";
import type { WindowReader } from "../../outbound/handler.js";
import { CONTACTS_COLLECTION } from "./contact-store.js";

/**
 * Reads contacts' service windows from the inbound side's own documents: they are written there
 * before the inbound message is even published, so a reply requested right after it never races
 * the conversation-windows topic. Read-only; the inbound store's writers are untouched. One
 * `find` by `_id` for all the contacts of a batch (the runtime's context loader asks once).
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
    windowsOf: (contactIds) =>
      // An unavailable server is an outage (waited out), anything else fails the requests for good.
      guardStore("inbound windows", "read", async () => {
        const unique = [...new Set(contactIds)];
        const [only] = unique;
        // One contact: an equality filter (the MongoDB stand-in answers it without a scan).
        const filter =
          unique.length === 1 && only !== undefined ? { _id: only } : { _id: { $in: unique } };
        const docs = await contacts.find(filter, { projection: { windows: 1 } }).toArray();
        return new Map(
          docs.map((d) => [
            d._id,
            (d.windows ?? []).map((w) => ({
              businessNumber: w.businessNumber,
              expiresAt: w.expiresAt,
            })),
          ]),
        );
      }),
  };
}
