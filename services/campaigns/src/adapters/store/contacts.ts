import type { AnyEvent } from "@parley/contracts";
import { guardStore } from "@parley/mongo";
import type { Db } from "mongodb";
import { freeEntryPointUntilOf } from "../../domain/forecast.js";
import { CONTACTS, type ContactDoc } from "./plan-store.js";

type Purpose = "marketing" | "utility";

/** MongoDB's duplicate-key error code. */
const DUPLICATE_KEY = 11000;

/** The purposes a consent event decides (router-era events carry a scope instead). */
function purposesOf(
  event: Extract<AnyEvent, { type: "ConsentGranted" | "ConsentRevoked" }>,
): Purpose[] {
  const { purpose, scope } = event.data as { purpose?: string; scope?: string };
  if (purpose === "marketing" || purpose === "utility") return [purpose];
  return scope === "marketing" ? ["marketing"] : ["marketing", "utility"];
}

/**
 * Folds a consent or window event into campaign_contacts. Order-insensitive: a consent fact only
 * replaces an older one (by occurredAt, a revocation winning a tie), a window only moves later,
 * so a redelivery or an out-of-order record leaves the same document.
 */
export async function applyContactEvent(db: Db, event: AnyEvent): Promise<void> {
  const col = db.collection<ContactDoc>(CONTACTS);
  if (event.type === "ConsentGranted" || event.type === "ConsentRevoked") {
    const status = event.type === "ConsentGranted" ? "granted" : "revoked";
    for (const purpose of purposesOf(event)) {
      const at = event.occurredAt;
      const older =
        status === "revoked"
          ? {
              $or: [{ [`${purpose}.at`]: { $exists: false } }, { [`${purpose}.at`]: { $lte: at } }],
            }
          : {
              $or: [{ [`${purpose}.at`]: { $exists: false } }, { [`${purpose}.at`]: { $lt: at } }],
            };
      const filter = { _id: event.data.contactId, ...older };
      const set = { $set: { [purpose]: { status, at } } };
      await guardStore(CONTACTS, "fold consent", async () => {
        if ((await col.updateOne(filter, set)).matchedCount > 0) return;
        // No match: no document yet, or a newer fact kept. Inserting tells them apart; a
        // document created meanwhile (a window folded from the other topic at the same moment:
        // the two topics are consumed concurrently) is then decided by the same filter again.
        // An upsert of `$setOnInsert` here lost the fact when that window came in between.
        try {
          await col.insertOne({ _id: event.data.contactId, [purpose]: { status, at } });
        } catch (error) {
          if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
          await col.updateOne(filter, set);
        }
      });
    }
    return;
  }
  if (event.type === "ConversationWindowOpened" || event.type === "ConversationWindowExtended") {
    const expiresAt = event.data.expiresAt;
    // A window opened from a Click-to-WhatsApp ad or Page CTA: every template is free for 72 h
    // from the business's first reply within its 24 h (cloud-api.md section 7, item 4); counted
    // from the opening (the earliest reply), so the forecast never calls a billed send free.
    const freeUntil =
      event.type === "ConversationWindowOpened" && event.data.freeEntryPoint
        ? { freeEntryPointUntil: freeEntryPointUntilOf(expiresAt) }
        : {};
    await guardStore(CONTACTS, "fold window", () =>
      col.updateOne(
        { _id: event.data.contactId },
        { $max: { windowExpiresAt: expiresAt, ...freeUntil } },
        { upsert: true },
      ),
    );
  }
}
