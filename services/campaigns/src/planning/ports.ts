import type { CampaignDefinition } from "../domain/campaign.js";
import type { ContactFacts, PlanCounters, PlanDecision } from "../domain/plan.js";

export type PlannedSend = Extract<PlanDecision, { kind: "planned" }>;
export type SkippedRow = Extract<PlanDecision, { kind: "skipped" }>;

/** Port: what the plan needs to know about the contacts of a chunk, read at once. */
export interface FactsReader {
  /** Facts of each contact id; an absent one is unknown (no consent, no window, no sends). */
  of(
    contactIds: readonly string[],
    campaign: CampaignDefinition,
    now: Date,
  ): Promise<ReadonlyMap<string, ContactFacts>>;
}

/** Port: the plan's durable side (MongoDB in production). */
export interface PlanStore {
  /** The checkpoint of the campaign's plan; undefined before its first chunk. */
  checkpoint(campaignId: string): Promise<PlanCheckpoint | undefined>;
  /**
   * Records a chunk's decisions before its sends are published: the skips (the plan report) and
   * the planned recipients (the frequency cap's record, the held sends). Idempotent by row.
   */
  record(campaignId: string, decisions: readonly PlanDecision[], now: Date): Promise<void>;
  /** Saves the checkpoint once the chunk's sends are acknowledged. */
  saveCheckpoint(campaignId: string, checkpoint: PlanCheckpoint): Promise<void>;
}

export interface PlanCheckpoint {
  readonly counters: PlanCounters;
  /** True once the last row is decided. */
  readonly complete: boolean;
}

/** Port: appends the sends to send-requests; resolves once all in-sync replicas have them. */
export type PublishSends = (sends: readonly PlannedSend[], now: Date) => Promise<void>;

/** Port: the campaign's queue of planned sends not yet published. */
export interface SendQueue {
  /** Up to `limit` sends of the campaign for the number, due by `now`, in row order. */
  due(
    campaign: CampaignDefinition,
    phoneNumberId: string,
    now: Date,
    limit: number,
  ): Promise<readonly PlannedSend[]>;
  /** Marks sends published (after the acks). */
  markReleased(campaignId: string, sends: readonly PlannedSend[]): Promise<void>;
  /** Sends of the campaign still queued. */
  pending(campaignId: string): Promise<number>;
}
