import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import { batched, settledValue, type BatchOptions } from "../../outbound/batch.js";
import type { WindowFact } from "../../outbound/evolve.js";
import type { WindowReader } from "../../outbound/handler.js";
import { CONTACTS_COLLECTION } from "./contact-store.js";

/**
 * Reads a contact's service windows from the inbound side's own documents: they are written
 * there before the inbound message is even published, so a reply requested right after it never
 * races the conversation-windows topic. Read-only; the inbound store's writers are untouched.
 * Reads asked for by many contacts at once share one `find` by `_id $in` (outbound/batch.ts).
 */
export function createInboundWindowReader({
  db,
  collection = CONTACTS_COLLECTION,
  batch = {},
}: {
  db: Db;
  collection?: string;
  batch?: BatchOptions;
}): WindowReader {
  const contacts = db.collection<{ _id: string; windows?: WindowFact[] }>(collection);
  const read = batched<string, readonly WindowFact[]>(
    (ids) =>
      // An unavailable server is an outage (waited out), anything else fails the requests for good.
      guardStore("inbound windows", "read", async () => {
        const unique = [...new Set(ids)];
        const docs = await contacts
          .find(unique.length === 1 ? { _id: unique[0] ?? "" } : { _id: { $in: unique } }, {
            projection: { windows: 1 },
          })
          .toArray();
        const byId = new Map(docs.map((d) => [d._id, d.windows ?? []]));
        return ids.map((id) =>
          settledValue(
            (byId.get(id) ?? []).map((w) => ({
              businessNumber: w.businessNumber,
              expiresAt: w.expiresAt,
            })),
          ),
        );
      }),
    batch,
  );
  return { windowsOf: read };
}
