import { guardStore } from "@parley/mongo";
import type { Db, Filter } from "mongodb";
import type { AudienceContact, AudienceStore } from "../../audience/audience.js";
import { collectionsOf } from "./read-model-stores.js";

/** Only what the audience decides on and answers with. */
const FIELDS = {
  _id: 1,
  contactId: 1,
  consent: 1,
  preference: 1,
  firstSeenAt: 1,
  lastInboundAt: 1,
  country: 1,
  erased: 1,
  profileName: 1,
} as const;

/**
 * The audience's reads of one generation's contacts: after the cursor in `_id` order (the
 * primary index: a page never re-reads earlier ones), narrowed by the fields MongoDB can compare
 * (country, last inbound, first seen, not erased); consent is decided by the use case.
 */
export function createMongoAudienceStore(db: Db, prefix: string): AudienceStore {
  return {
    async scan(generation, p, after, limit) {
      const clauses: Filter<AudienceContact>[] = [{ erased: { $ne: true } }];
      if (after !== undefined) clauses.push({ _id: { $gt: after } });
      if (p.country !== undefined) clauses.push({ country: { $in: p.country } });
      if (p.lastInboundWithinDays !== undefined && p.at !== undefined) {
        const since = new Date(Date.parse(p.at) - p.lastInboundWithinDays * 86_400_000);
        // Stored as ISO text with or without milliseconds: compare on the second before.
        clauses.push({ lastInboundAt: { $gte: new Date(since.getTime() - 1_000).toISOString() } });
      }
      if (p.firstSeenFrom !== undefined)
        clauses.push({ firstSeenAt: { $gte: p.firstSeenFrom.slice(0, 19) } });
      const name = collectionsOf(prefix, generation).contacts;
      return guardStore(`projection contacts`, "audience", () =>
        db
          .collection<AudienceContact>(name)
          .find({ $and: clauses }, { projection: FIELDS })
          .sort({ _id: 1 })
          .limit(limit)
          .toArray(),
      );
    },
  };
}
