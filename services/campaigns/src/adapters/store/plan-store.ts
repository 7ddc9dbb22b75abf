import { guardStore } from "@parley/mongo";
import { MongoBulkWriteError, type AnyBulkWriteOperation, type Db, type WriteError } from "mongodb";
import { countryOfContact } from "@parley/pricing";
import type { CampaignDefinition } from "../../domain/campaign.js";
import { usesMessagingLimit } from "../../domain/limits.js";
import {
  bodyValuesOf,
  queuedSendOf,
  type ContactFacts,
  type PlanDecision,
  type SkipReason,
} from "../../domain/plan.js";
import type {
  FactsReader,
  PlanCheckpoint,
  PlanStore,
  PlannedSend,
  SendQueue,
} from "../../planning/ports.js";

export const PLANS = "campaign_plans";
export const SKIPS = "campaign_skips";
export const RECIPIENTS = "campaign_recipients";
export const CONTACTS = "campaign_contacts";

interface PlanDoc extends PlanCheckpoint {
  _id: string;
  savedAt: Date;
}
interface SkipDoc {
  _id: string;
  campaignId: string;
  index: number;
  line: number;
  reason: SkipReason;
  detail: string;
  contactId?: string;
}
/** A planned recipient: the frequency cap's record and, until released, the held send. */
export interface RecipientDoc {
  _id: string;
  campaignId: string;
  contactId: string;
  index: number;
  requestId: string;
  phoneNumberId: string;
  plannedAt: Date;
  releaseAt: Date;
  released: boolean;
  /** The recipient's country (the forecast's market); absent when the number names none. */
  country?: string;
  /** An open service window when planned (a utility template may be free: domain/forecast.ts). */
  windowOpen?: boolean;
  /** Inside a free-entry-point window when planned (free whatever the category). */
  freeEntryPoint?: true;
  /**
   * The body parameters' values (the campaign's order), kept until it is released: with the
   * fields above and the campaign they rebuild the send (`queuedSendOf`).
   */
  params?: string[];
  /** The whole send, as queued before the compact form (still read; no longer written). */
  send?: PlannedSend;
}
/** What campaigns knows of a contact, folded from consent and conversation-windows. */
export interface ContactDoc {
  _id: string;
  marketing?: { status: "granted" | "revoked"; at: string };
  utility?: { status: "granted" | "revoked"; at: string };
  windowExpiresAt?: string;
  /** The end of a free-entry-point window (a window opened from an ad: every template free). */
  freeEntryPointUntil?: string;
  /** The latest send Meta took for the contact outside a window (any requester): the limit's. */
  reachedOutsideWindowAt?: Date;
}

const countryField = (contactId: string): { country?: string } => {
  const country = countryOfContact(contactId);
  return country === undefined ? {} : { country };
};

/**
 * An unordered bulk insert where a document already there (same `_id`: written by an earlier pass
 * of the same chunk) is kept: succeeds when every write error is a duplicate key, throws otherwise.
 */
async function insertKeepingExisting(write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (error instanceof MongoBulkWriteError) {
      const errors: readonly WriteError[] = Array.isArray(error.writeErrors)
        ? (error.writeErrors as WriteError[])
        : [error.writeErrors as WriteError];
      if (errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY)) return;
    }
    throw error;
  }
}
const DUPLICATE_KEY = 11000;

/** Creates the indexes the stores query by; idempotent. */
export async function ensureIndexes(db: Db): Promise<void> {
  await guardStore(RECIPIENTS, "create indexes", async () => {
    // No { contactId, plannedAt } index: the frequency cap reads campaign sends by `_id` (below)
    // and no other query filters on the contact; each index is a write per recipient planned.
    await db
      .collection(RECIPIENTS)
      .createIndex({ campaignId: 1, phoneNumberId: 1, released: 1, index: 1 });
    await db.collection(SKIPS).createIndex({ campaignId: 1, index: 1 });
  });
}

/** The plan's checkpoints, skips and planned recipients in MongoDB (idempotent by row). */
export function createMongoPlanStore({ db }: { db: Db }): PlanStore {
  const plans = db.collection<PlanDoc>(PLANS);
  const skips = db.collection<SkipDoc>(SKIPS);
  const recipients = db.collection<RecipientDoc>(RECIPIENTS);
  return {
    async checkpoint(campaignId) {
      const doc = await guardStore(PLANS, "read a checkpoint", () =>
        plans.findOne({ _id: campaignId }),
      );
      return doc === null ? undefined : { counters: doc.counters, complete: doc.complete };
    },
    async record(campaignId, decisions, now) {
      // The chunk's rows share a few release instants (one per time zone): parsed once each.
      let lastIso: string | undefined;
      let lastDate = now;
      const releaseDateOf = (iso: string): Date => {
        if (iso !== lastIso) {
          lastIso = iso;
          lastDate = new Date(iso);
        }
        return lastDate;
      };
      const skipOps: AnyBulkWriteOperation<SkipDoc>[] = [];
      const recipientOps: AnyBulkWriteOperation<RecipientDoc>[] = [];
      for (const d of decisions) {
        if (d.kind === "skipped") {
          const doc: SkipDoc = {
            _id: `${campaignId}:${d.index}`,
            campaignId,
            index: d.index,
            line: d.line,
            reason: d.reason,
            detail: d.detail,
            ...(d.contactId === undefined ? {} : { contactId: d.contactId }),
          };
          skipOps.push({
            replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true },
          });
        } else {
          const doc: RecipientDoc = {
            _id: `${campaignId}:${d.contactId}`,
            campaignId,
            contactId: d.contactId,
            index: d.index,
            requestId: d.requestId,
            phoneNumberId: d.phoneNumberId,
            plannedAt: now,
            releaseAt: releaseDateOf(d.releaseAt),
            released: false,
            ...(d.country === undefined ? countryField(d.contactId) : { country: d.country }),
            windowOpen: !d.limited,
            ...(d.freeEntryPoint === true ? { freeEntryPoint: true as const } : {}),
            params: [...bodyValuesOf(d)],
          };
          // Inserted, not upserted: a chunk recorded again after a crash keeps the documents
          // the first pass wrote (the same recipient, request id and parameters; a recipient
          // released since stays released), and the duplicate keys are that, not errors. An
          // insert is a third of an upsert's CPU on the stand-in (docs/benchmarks.md).
          recipientOps.push({ insertOne: { document: doc } });
        }
      }
      await Promise.all([
        skipOps.length === 0
          ? undefined
          : guardStore(SKIPS, "record skips", () => skips.bulkWrite(skipOps, { ordered: false })),
        recipientOps.length === 0
          ? undefined
          : guardStore(RECIPIENTS, "record recipients", () =>
              insertKeepingExisting(() => recipients.bulkWrite(recipientOps, { ordered: false })),
            ),
      ]);
    },
    async saveCheckpoint(campaignId, checkpoint) {
      await guardStore(PLANS, "save a checkpoint", () =>
        plans.replaceOne(
          { _id: campaignId },
          { ...checkpoint, savedAt: new Date() },
          { upsert: true },
        ),
      );
    },
  };
}

/** The plan report: skipped rows of a campaign in row order, a page at a time. */
export async function skipsOf(
  db: Db,
  campaignId: string,
  { after = -1, limit = 100 }: { after?: number; limit?: number } = {},
): Promise<readonly Omit<SkipDoc, "_id" | "campaignId">[]> {
  const docs = await guardStore(SKIPS, "read skips", () =>
    db
      .collection<SkipDoc>(SKIPS)
      .find({ campaignId, index: { $gt: after } })
      .sort({ index: 1 })
      .limit(limit)
      .toArray(),
  );
  return docs.map(({ _id, campaignId: _c, ...rest }) => rest);
}

/**
 * Facts of a chunk's contacts: consent and windows (campaign_contacts, by `_id`), and campaign
 * sends within the frequency cap's period. The sends are read by `_id` too (`<campaign>:<contact>`
 * for each campaign whose plan ran within the period: its checkpoint was saved since, or it is not
 * complete), never by a filter on `contactId`: a lookup per recipient and campaign on any MongoDB,
 * where a filter on other fields scans the whole collection on the native stand-in (ADR 0001) and
 * made a plan quadratic in the rows planned so far.
 */
export function createMongoFactsReader({ db }: { db: Db }): FactsReader {
  const contacts = db.collection<ContactDoc>(CONTACTS);
  const recipients = db.collection<RecipientDoc>(RECIPIENTS);
  const plans = db.collection<PlanDoc>(PLANS);
  const campaignSends = async (
    contactIds: readonly string[],
    campaign: CampaignDefinition,
    since: Date,
  ): Promise<Map<string, number>> => {
    const sends = new Map<string, number>();
    const recent = await guardStore(PLANS, "list recent plans", () =>
      plans
        .find(
          { $or: [{ savedAt: { $gte: since } }, { complete: false }] },
          { projection: { _id: 1 } },
        )
        .toArray(),
    );
    const others = recent.map((p) => p._id).filter((id) => id !== campaign.id);
    if (others.length === 0 || contactIds.length === 0) return sends;
    const docs = await guardStore(RECIPIENTS, "read campaign sends", () =>
      recipients
        .find(
          { _id: { $in: others.flatMap((c) => contactIds.map((id) => `${c}:${id}`)) } },
          { projection: { contactId: 1, plannedAt: 1 } },
        )
        .toArray(),
    );
    for (const d of docs) {
      if (d.plannedAt >= since) sends.set(d.contactId, (sends.get(d.contactId) ?? 0) + 1);
    }
    return sends;
  };
  return {
    async of(contactIds, campaign: CampaignDefinition, now) {
      const purpose = campaign.category === "marketing" ? "marketing" : "utility";
      const cap = campaign.frequencyCap;
      const [docs, sends] = await Promise.all([
        guardStore(CONTACTS, "read contacts", () =>
          contacts.find({ _id: { $in: [...contactIds] } }).toArray(),
        ),
        cap === undefined
          ? Promise.resolve(new Map<string, number>())
          : campaignSends(contactIds, campaign, new Date(now.getTime() - cap.days * 86_400_000)),
      ]);
      const out = new Map<string, ContactFacts>();
      for (const id of contactIds)
        out.set(id, {
          consent: "unknown",
          recentCampaignSends: sends.get(id) ?? 0,
          windowOpen: false,
        });
      for (const doc of docs) {
        out.set(doc._id, {
          consent: doc[purpose]?.status ?? "unknown",
          recentCampaignSends: sends.get(doc._id) ?? 0,
          windowOpen:
            doc.windowExpiresAt !== undefined && Date.parse(doc.windowExpiresAt) > now.getTime(),
          freeEntryPoint:
            doc.freeEntryPointUntil !== undefined &&
            Date.parse(doc.freeEntryPointUntil) > now.getTime(),
        });
      }
      return out;
    },
  };
}

/** The campaign's queue: planned recipients not yet released, per number in row order. */
export function createMongoSendQueue({ db }: { db: Db }): SendQueue {
  const recipients = db.collection<RecipientDoc>(RECIPIENTS);
  return {
    async due(campaign, phoneNumberId, now, limit) {
      const docs = await guardStore(RECIPIENTS, "read due sends", () =>
        recipients
          .find({
            campaignId: campaign.id,
            phoneNumberId,
            released: false,
            releaseAt: { $lte: now },
          })
          .sort({ index: 1 })
          .limit(limit)
          .toArray(),
      );
      return docs.flatMap((d) => {
        if (d.send !== undefined) return [d.send];
        if (d.params === undefined) return [];
        return [
          queuedSendOf(campaign, {
            index: d.index,
            contactId: d.contactId,
            requestId: d.requestId,
            phoneNumberId: d.phoneNumberId,
            releaseAt: d.releaseAt.toISOString(),
            limited: d.windowOpen !== true,
            ...(d.freeEntryPoint === true ? { freeEntryPoint: true as const } : {}),
            params: d.params,
          }),
        ];
      });
    },
    async markReleased(campaignId, sends) {
      if (sends.length === 0) return;
      const ids = sends.map((s) => `${campaignId}:${s.contactId}`);
      await guardStore(RECIPIENTS, "mark released", () =>
        recipients.updateMany(
          { _id: { $in: ids } },
          { $set: { released: true }, $unset: { send: "", params: "" } },
        ),
      );
    },
    pending: (campaignId) =>
      guardStore(RECIPIENTS, "count queued sends", () =>
        recipients.countDocuments({ campaignId, released: false }),
      ),
  };
}
export type { PlanDecision };

/**
 * Unique users reached outside a service window in the last 24 h, the portfolio's messaging
 * limit as far as Parley knows it: every business-initiated send Meta took outside the contact's
 * window (any requester, folded by the campaigns-progress consumer into campaign_contacts) and
 * the contacts campaigns released to in that time (those not yet taken by Meta too).
 */
export async function reachedLast24h(db: Db, now: Date): Promise<number> {
  const since = new Date(now.getTime() - 86_400_000);
  const [released, reached] = await Promise.all([
    guardStore(RECIPIENTS, "count reached contacts", () =>
      db.collection<RecipientDoc>(RECIPIENTS).distinct("contactId", {
        released: true,
        plannedAt: { $gte: since },
      }),
    ),
    guardStore(CONTACTS, "count reached contacts", () =>
      db.collection<ContactDoc>(CONTACTS).distinct("_id", {
        reachedOutsideWindowAt: { $gte: since },
      }),
    ),
  ]);
  return new Set<string>([...released, ...reached]).size;
}

/**
 * A send Meta took for `contactId` at `at` (any requester): recorded as reaching them outside a
 * window when the window the contacts consumer folded was not open then (domain `limits.ts`).
 */
export async function noteReached(db: Db, contactId: string, at: Date): Promise<void> {
  const contacts = db.collection<ContactDoc>(CONTACTS);
  const doc = await guardStore(CONTACTS, "read a contact's window", () =>
    contacts.findOne({ _id: contactId }, { projection: { windowExpiresAt: 1 } }),
  );
  if (!usesMessagingLimit(doc?.windowExpiresAt, at)) return;
  await guardStore(CONTACTS, "note a reached contact", () =>
    contacts.updateOne(
      { _id: contactId },
      { $max: { reachedOutsideWindowAt: at } },
      { upsert: true },
    ),
  );
}

/** A planned campaign's recipients by country and window (the forecast of the recorded plan). */
export async function plannedGroupsOf(
  db: Db,
  campaignId: string,
): Promise<
  readonly { country?: string; windowOpen: boolean; freeEntryPoint: boolean; n: number }[]
> {
  const rows = await guardStore(RECIPIENTS, "group planned recipients", () =>
    db
      .collection<RecipientDoc>(RECIPIENTS)
      .aggregate<{
        _id: {
          country?: string | null;
          windowOpen?: boolean | null;
          freeEntryPoint?: boolean | null;
        };
        n: number;
      }>([
        { $match: { campaignId } },
        {
          $group: {
            _id: {
              country: "$country",
              windowOpen: "$windowOpen",
              freeEntryPoint: "$freeEntryPoint",
            },
            n: { $sum: 1 },
          },
        },
      ])
      .toArray(),
  );
  return rows.map((r) => ({
    ...(r._id.country == null ? {} : { country: r._id.country }),
    windowOpen: r._id.windowOpen === true,
    freeEntryPoint: r._id.freeEntryPoint === true,
    n: r.n,
  }));
}
