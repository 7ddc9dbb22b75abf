import type { CampaignDefinition, PlanNumber } from "../domain/campaign.js";
import type { PublishSends, SendQueue } from "./ports.js";

export interface ReleaseOptions {
  readonly queue: SendQueue;
  readonly publish: PublishSends;
  readonly clock: () => Date;
}

/**
 * The seconds of sending a release tick covers: the time since the campaign's previous release
 * (not the nominal tick: a tick slowed by the machine released only `mps × tick` and left the
 * numbers idle for the rest, so the campaign ran under its caps, docs/benchmarks.md "Campaign
 * sending against the numbers' caps"), at least one tick, at most four (a campaign resumed or a
 * service restarted does not release a burst: the sender paces each number at its cap anyway).
 */
export function releaseSeconds(sinceLastMs: number | undefined, tickMs: number): number {
  const tick = tickMs / 1000;
  if (sinceLastMs === undefined || !Number.isFinite(sinceLastMs)) return tick;
  return Math.min(4 * tick, Math.max(tick, sinceLastMs / 1000));
}

/**
 * One release tick of a running campaign (ADR 0015, "Release"): for each of its numbers, the due
 * sends the number can take in `seconds` at its cap, in row order, published (acks=all) and then
 * marked released. The sender keeps each number exactly under its cap; the releaser only keeps the
 * campaign from running more than a tick ahead of it, so a pause stops the campaign within a tick.
 * A crash between the publish and the mark publishes those sends again with the same request ids
 * and idempotency keys: the router answers SendDeduplicated and nothing is sent twice.
 */
export async function releaseTick(
  campaign: CampaignDefinition,
  numbers: readonly PlanNumber[],
  seconds: number,
  { queue, publish, clock }: ReleaseOptions,
): Promise<number> {
  const now = clock();
  let released = 0;
  for (const n of numbers) {
    const limit = Math.max(1, Math.floor(n.mps * seconds));
    const due = await queue.due(campaign, n.phoneNumberId, now, limit);
    if (due.length === 0) continue;
    await publish(due, now);
    await queue.markReleased(campaign.id, due);
    released += due.length;
  }
  return released;
}
