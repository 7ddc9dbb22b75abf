import type { AudienceFormat } from "../audience/read.js";
import type { AudienceRow } from "../domain/plan.js";
import type { CampaignState } from "../domain/lifecycle.js";

/** Port: reads campaign states (the lifecycle decider's documents). */
export interface CampaignReader {
  get(id: string): Promise<CampaignState | undefined>;
  /** Campaigns running now. */
  running(): Promise<readonly CampaignState[]>;
}

/** Port: audiences kept by the service (a resumed plan reads its file again from the start). */
export interface AudienceFiles {
  /** Stores the upload, streamed; answers its reference and size. Over `maxBytes`: refused. */
  save(
    campaignId: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
  ): Promise<{ ref: string; bytes: number }>;
  /** The rows of a stored audience, from the first. */
  rows(ref: string, format: AudienceFormat): AsyncIterable<AudienceRow>;
}

/** Port: unique users reached outside a window in the last 24 h by the portfolio (all senders). */
export type ReachedLast24h = (now: Date) => Promise<number>;
