import type { CampaignDefinition, PlanNumber } from "../domain/campaign.js";
import type { PublishSends, SendQueue } from "./ports.js";

export interface ReleaseOptions {
  readonly queue: SendQueue;
  readonly publish: PublishSends;
  readonly clock: () => Date;
}

export interface ReleaseCreditOptions {
  /** How often the release ticks (CAMPAIGNS_TICK_MS). */
  readonly tickMs: number;
  /**
   * How far the release runs ahead of the sender, in ms of each number's cap
   * (CAMPAIGNS_RELEASE_LEAD_MS): the sender's queue for the number holds about this much, so a
   * late tick or a slow hop through Kafka and the router does not leave the number idle.
   */
  readonly leadMs: number;
}

/**
 * How many sends each running campaign may release now on each of its numbers (ADR 0015,
 * "Release"): a credit that grows at the number's cap with the time since the campaign's previous
 * release (at least one tick: a tick that comes early, or one run by hand, still releases a
 * tick's worth) and shrinks by what was released, its fraction carried to the next tick.
 *
 * Releasing exactly `cap × tick` per tick kept the sender's queue empty between ticks, so every
 * late tick or slow hop left the number idle for that long, time the cap never gives back; and
 * the floor of `cap × tick` lost a fraction each tick (91–94 % of the caps in steady sending,
 * docs/benchmarks.md "Campaign sending against the numbers' caps"). So the first release of a
 * campaign (after a start, a resume, a restart of this service, or any gap longer than four ticks)
 * covers one tick plus the lead, and each later one the time since the previous. The credit never
 * passes four ticks plus the lead: a campaign with nothing due (quiet hours) does not store up a
 * burst. The sender keeps each number under its cap whatever the release does.
 */
export class ReleaseCredit {
  private readonly campaigns = new Map<
    string,
    { readonly at: number; readonly credit: Map<string, number> }
  >();

  constructor(private readonly o: ReleaseCreditOptions) {
    if (!(o.tickMs > 0)) throw new RangeError(`tickMs must be positive, got ${String(o.tickMs)}`);
    if (!(o.leadMs >= 0))
      throw new RangeError(`leadMs must not be negative, got ${String(o.leadMs)}`);
  }

  /** The whole sends each number may release at `at` (ms); the time since the last call is granted. */
  allowance(campaignId: string, numbers: readonly PlanNumber[], at: number): Map<string, number> {
    const { tickMs, leadMs } = this.o;
    const previous = this.campaigns.get(campaignId);
    const since = previous === undefined ? Number.NaN : at - previous.at;
    const fresh = !(since >= 0 && since <= 4 * tickMs);
    const credit = new Map<string, number>();
    const allowance = new Map<string, number>();
    for (const n of numbers) {
      const ceiling = (n.mps * (4 * tickMs + leadMs)) / 1000;
      const before = fresh ? 0 : (previous?.credit.get(n.phoneNumberId) ?? 0);
      const granted = (n.mps * (fresh ? tickMs + leadMs : Math.max(tickMs, since))) / 1000;
      const c = Math.min(ceiling, before + granted);
      credit.set(n.phoneNumberId, c);
      allowance.set(n.phoneNumberId, Math.floor(c));
    }
    this.campaigns.set(campaignId, { at, credit });
    return allowance;
  }

  /** What the tick released on each number: taken off its credit. */
  spend(campaignId: string, released: ReadonlyMap<string, number>): void {
    const credit = this.campaigns.get(campaignId)?.credit;
    if (credit === undefined) return;
    for (const [id, k] of released) credit.set(id, Math.max(0, (credit.get(id) ?? 0) - k));
  }
}

/**
 * One release tick of a running campaign (ADR 0015, "Release"): for each of its numbers, up to its
 * `allowance` of due sends (`ReleaseCredit`), in row order, published (acks=all) and then marked
 * released; returns what each number released. The sender keeps each number exactly under its
 * cap; the releaser only keeps the campaign from running more than a tick and the lead ahead of
 * it, so a pause stops the release at the next tick. A crash between the publish and the mark
 * publishes those sends again with the same request ids and idempotency keys: the router answers
 * SendDeduplicated and nothing is sent twice.
 */
export async function releaseTick(
  campaign: CampaignDefinition,
  numbers: readonly PlanNumber[],
  allowance: ReadonlyMap<string, number>,
  { queue, publish, clock }: ReleaseOptions,
): Promise<Map<string, number>> {
  const now = clock();
  const released = new Map<string, number>();
  for (const n of numbers) {
    const limit = allowance.get(n.phoneNumberId) ?? 0;
    if (limit < 1) continue;
    const due = await queue.due(campaign, n.phoneNumberId, now, limit);
    if (due.length === 0) continue;
    await publish(due, now);
    await queue.markReleased(campaign.id, due);
    released.set(n.phoneNumberId, due.length);
  }
  return released;
}
