import { guardStore } from "@parley/mongo";
import { MongoServerError, type Db, type UpdateFilter } from "mongodb";
import {
  countryOf,
  ProgressEventError,
  type DeliveryFact,
  type DeliveryGroup,
} from "../../domain/progress.js";
import { RECIPIENTS, type RecipientDoc } from "./plan-store.js";

export const DELIVERIES = "campaign_deliveries";

/** One campaign send's outcomes and statuses, joined (domain/progress.ts, `mergeDelivery`). */
export interface DeliveryDoc {
  /** The request id. */
  _id: string;
  campaignId: string;
  contactId: string;
  country?: string;
  accepted: boolean;
  failure?: string;
  statusRank: number;
  pricing?: string;
}

/** Creates the indexes the progress queries by; idempotent. */
export async function ensureProgressIndexes(db: Db): Promise<void> {
  await guardStore(DELIVERIES, "create indexes", async () => {
    await db.collection(DELIVERIES).createIndex({ campaignId: 1, failure: 1 });
    await db.collection(RECIPIENTS).createIndex({ requestId: 1 });
  });
}

/**
 * The progress fold in MongoDB: each fact becomes one upsert made of MongoDB's own joins ($max,
 * $min), the same as `mergeDelivery`, so the stored state does not depend on the order the facts
 * arrive in or how often (a status before its outcome, a redelivery). A status finds its campaign
 * by the request id the plan recorded; a status of another request is not a campaign's.
 */
export function createMongoDeliveries({ db }: { db: Db }) {
  const deliveries = db.collection<DeliveryDoc>(DELIVERIES);
  const recipients = db.collection<RecipientDoc>(RECIPIENTS);

  const apply = async (campaignId: string, fact: DeliveryFact): Promise<void> => {
    const country = countryOf(fact.contactId);
    const update: UpdateFilter<DeliveryDoc> = {
      $setOnInsert: {
        campaignId,
        contactId: fact.contactId,
        ...(country === undefined ? {} : { country }),
      },
      $max: {
        accepted: fact.accepted === true,
        statusRank: fact.statusRank ?? 0,
        ...(fact.pricing === undefined ? {} : { pricing: fact.pricing }),
      },
      ...(fact.failure === undefined ? {} : { $min: { failure: fact.failure } }),
    };
    const write = () => deliveries.updateOne({ _id: fact.requestId }, update, { upsert: true });
    try {
      await guardStore(DELIVERIES, "fold a send's fact", write);
    } catch (error) {
      // Two upserts of one new request raced (an outcome and a status on two partitions): the
      // loser's update applies to the winner's document.
      if (
        (error as { cause?: unknown }).cause instanceof MongoServerError &&
        (error as { cause: MongoServerError }).cause.code === 11000
      )
        await guardStore(DELIVERIES, "fold a send's fact", write);
      else throw error;
    }
  };

  return {
    /** An outcome's fact (its campaign is in its idempotency key). */
    applyOutcome: apply,
    /**
     * A status's fact: its campaign from the plan's record of the request; undefined when the
     * request is no campaign's. A status whose contact is not the planned recipient is hostile.
     */
    async applyStatus(fact: DeliveryFact): Promise<string | undefined> {
      const recipient = await guardStore(RECIPIENTS, "find a request's campaign", () =>
        recipients.findOne(
          { requestId: fact.requestId },
          { projection: { campaignId: 1, contactId: 1 } },
        ),
      );
      if (recipient === null) return undefined;
      if (recipient.contactId !== fact.contactId)
        throw new ProgressEventError(
          "StatusUpdated: the status's contact is not the campaign request's recipient",
          { campaignId: recipient.campaignId, requestId: fact.requestId },
        );
      await apply(recipient.campaignId, fact);
      return recipient.campaignId;
    },
    /** The campaign's sends grouped by state, market and pricing (domain `progressOf`). */
    async groups(campaignId: string): Promise<readonly DeliveryGroup[]> {
      const rows = await guardStore(DELIVERIES, "group a campaign's sends", () =>
        deliveries
          .aggregate<{
            _id: Pick<DeliveryDoc, "accepted" | "failure" | "statusRank" | "pricing" | "country">;
            n: number;
          }>([
            { $match: { campaignId } },
            {
              $group: {
                _id: {
                  accepted: "$accepted",
                  failure: "$failure",
                  statusRank: "$statusRank",
                  pricing: "$pricing",
                  country: "$country",
                },
                n: { $sum: 1 },
              },
            },
          ])
          .toArray(),
      );
      return rows.map((r) => ({
        accepted: r._id.accepted,
        failure: r._id.failure ?? undefined,
        statusRank: r._id.statusRank,
        pricing: r._id.pricing ?? undefined,
        country: r._id.country ?? undefined,
        n: r.n,
      }));
    },
    /** Failed sends and sends with a final word (failed or taken by Meta): the failure rate's. */
    async failureCounts(campaignId: string): Promise<{ failed: number; settled: number }> {
      const [failed, settled] = await Promise.all([
        guardStore(DELIVERIES, "count failed sends", () =>
          deliveries.countDocuments({ campaignId, failure: { $exists: true } }),
        ),
        guardStore(DELIVERIES, "count settled sends", () =>
          deliveries.countDocuments({
            campaignId,
            $or: [{ failure: { $exists: true } }, { accepted: true }, { statusRank: { $gte: 1 } }],
          }),
        ),
      ]);
      return { failed, settled };
    },
  };
}

export type MongoDeliveries = ReturnType<typeof createMongoDeliveries>;
