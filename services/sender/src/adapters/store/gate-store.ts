import { guardStore } from "@parley/mongo";
import type { Collection, Db } from "mongodb";
import type { GateView } from "../../domain/gate.js";
import type { GateStore } from "../../domain/ports.js";
import { createBatcher } from "./batcher.js";

interface GateDoc {
  _id: string;
  /** Latest instants per scope; a scope is revoked when its revokedAt is later than its grantedAt. */
  consent?: {
    all?: { grantedAt?: number; revokedAt?: number };
    marketing?: { grantedAt?: number; revokedAt?: number };
  };
  /** Window expiry (epoch ms) per business phone_number_id. */
  windows?: Record<string, number>;
}

function consentOf(doc: GateDoc | undefined): GateView["consent"] {
  const all = doc?.consent?.all;
  const marketing = doc?.consent?.marketing;
  const allGranted = all?.grantedAt ?? -1;
  // A grant of everything after a marketing opt-out lifts it; a marketing grant never lifts "all".
  if (all?.revokedAt !== undefined && all.revokedAt > allGranted)
    return { state: "revoked", scope: "all", at: all.revokedAt };
  if (
    marketing?.revokedAt !== undefined &&
    marketing.revokedAt > Math.max(allGranted, marketing.grantedAt ?? -1)
  )
    return { state: "revoked", scope: "marketing", at: marketing.revokedAt };
  const grantedAt = Math.max(allGranted, marketing?.grantedAt ?? -1);
  return grantedAt >= 0
    ? { state: "granted", scope: all?.grantedAt === grantedAt ? "all" : "marketing", at: grantedAt }
    : undefined;
}

/**
 * MongoDB gate documents, one per contact. Writes use $max, so redelivered or reordered
 * events never move a contact's state backwards; reads are batched per tick.
 */
export function createMongoGateStore(db: Db, collectionName = "sender_gates"): GateStore {
  const col: Collection<GateDoc> = db.collection<GateDoc>(collectionName);
  const read = createBatcher<string, GateDoc | undefined>(async (ids) => {
    const docs = await col.find({ _id: { $in: [...new Set(ids)] } }).toArray();
    const byId = new Map(docs.map((d) => [d._id, d]));
    return ids.map((id) => byId.get(id));
  });
  return {
    async view(contactId, number) {
      const doc = await guardStore(collectionName, "view", () => read(contactId));
      const consent = consentOf(doc);
      const windowExpiresAt = doc?.windows?.[number];
      return {
        ...(consent ? { consent } : {}),
        ...(windowExpiresAt !== undefined ? { windowExpiresAt } : {}),
      };
    },
    async consent(contactId, change, scope, at) {
      const field = `consent.${scope}.${change === "granted" ? "grantedAt" : "revokedAt"}`;
      await guardStore(collectionName, "consent", () =>
        col.updateOne({ _id: contactId }, { $max: { [field]: at } }, { upsert: true }),
      );
    },
    async window(contactId, number, expiresAt) {
      await guardStore(collectionName, "window", () =>
        col.updateOne(
          { _id: contactId },
          { $max: { [`windows.${number}`]: expiresAt } },
          { upsert: true },
        ),
      );
    },
  };
}
