import type { CommandHandler } from "@parley/decider";
import type { AudienceFormat } from "../audience/read.js";
import type { CampaignDefinition, PlanNumber } from "../domain/campaign.js";
import {
  autoPauseOf,
  type CampaignCommand,
  type CampaignState,
  type PauseReason,
} from "../domain/lifecycle.js";
import { remainingBudget, type MessagingLimitTier } from "../domain/limits.js";
import { finishEstimate, type PlanCounters } from "../domain/plan.js";
import type { FactsReader, PlanStore, PublishSends, SendQueue } from "../planning/ports.js";
import { releaseTick } from "../planning/release.js";
import { runPlan } from "../planning/run-plan.js";
import type { AudienceFiles, CampaignReader, ReachedLast24h } from "./ports.js";

export interface CampaignsOptions {
  readonly handler: CommandHandler<CampaignCommand>;
  readonly reader: CampaignReader;
  readonly plans: PlanStore;
  readonly queue: SendQueue;
  readonly facts: FactsReader;
  readonly publish: PublishSends;
  readonly audiences: AudienceFiles;
  /** The caps of the campaign's numbers (the number directory); throws for an unknown number. */
  readonly numbersOf: (definition: CampaignDefinition) => readonly PlanNumber[];
  readonly tier: MessagingLimitTier;
  readonly reached: ReachedLast24h;
  readonly requestIdOf: (name: string) => string;
  readonly clock: () => Date;
  readonly chunkSize: number;
  readonly tickMs: number;
  readonly onError?: (error: unknown, campaignId: string) => void;
}

export interface CampaignProgress {
  readonly campaign: CampaignState;
  readonly plan?: {
    readonly counters: PlanCounters;
    readonly complete: boolean;
    readonly finishAt: string;
  };
  /** Planned sends not yet released to send-requests. */
  readonly queued: number;
}

/**
 * The campaigns' use cases: lifecycle commands through the decider runtime, the plan run in the
 * background for each running campaign (resumed from its checkpoint after a restart), and the
 * release tick at the numbers' caps while a campaign runs. A paused or cancelled campaign
 * releases nothing more; what was already released is the router's and the sender's.
 */
export function createCampaigns(o: CampaignsOptions) {
  const planning = new Map<string, Promise<void>>();
  const command = async (id: string, c: CampaignCommand) => {
    await o.handler.handle([{ key: id, command: c }]);
    return o.reader.get(id);
  };

  const plan = (state: CampaignState): void => {
    const definition = state.definition;
    const audience = state.audience;
    if (definition === undefined || audience === undefined || planning.has(state.id)) return;
    const run = (async () => {
      const numbers = o.numbersOf(definition);
      const now = o.clock();
      const budget = remainingBudget(o.tier, await o.reached(now), 0);
      await runPlan({
        campaign: definition,
        numbers,
        limitBudget: budget,
        audience: () => o.audiences.rows(audience.ref, audience.format),
        facts: o.facts,
        store: o.plans,
        requestIdOf: o.requestIdOf,
        clock: o.clock,
        chunkSize: o.chunkSize,
      });
    })()
      .catch((error: unknown) => o.onError?.(error, state.id))
      .finally(() => planning.delete(state.id));
    planning.set(state.id, run);
  };

  /** One tick: plan what is unplanned, release what is due, complete what is done. */
  async function tick(): Promise<void> {
    for (const state of await o.reader.running()) {
      const definition = state.definition;
      if (definition === undefined) continue;
      try {
        const checkpoint = await o.plans.checkpoint(state.id);
        if (checkpoint?.complete !== true) plan(state);
        // Nothing is due before the schedule's start: no queue read (a scan on the stand-in).
        if (Date.parse(definition.schedule.startAt) <= o.clock().getTime()) {
          await releaseTick(state.id, o.numbersOf(definition), o.tickMs / 1000, {
            queue: o.queue,
            publish: o.publish,
            clock: o.clock,
          });
        }
        if (checkpoint?.complete === true && (await o.queue.pending(state.id)) === 0) {
          await command(state.id, { type: "Complete" });
        }
      } catch (error) {
        o.onError?.(error, state.id);
      }
    }
  }

  return {
    create: (definition: CampaignDefinition) =>
      command(definition.id, { type: "Create", definition }),
    async attachAudience(
      id: string,
      format: AudienceFormat,
      body: AsyncIterable<Uint8Array>,
      maxBytes: number,
    ) {
      const current = await o.reader.get(id);
      if (current?.status !== "draft") {
        // Let the decider refuse with its words before the bytes are stored.
        return command(id, { type: "AttachAudience", format, ref: "", bytes: 0 });
      }
      const { ref, bytes } = await o.audiences.save(id, body, maxBytes);
      return command(id, { type: "AttachAudience", format, ref, bytes });
    },
    start: (id: string) => command(id, { type: "Start" }),
    pause: (id: string, reason: PauseReason = "operator", detail = "paused by the operator") =>
      command(id, { type: "Pause", reason, detail }),
    resume: (id: string) => command(id, { type: "Resume" }),
    cancel: (id: string) => command(id, { type: "Cancel" }),
    async progress(id: string): Promise<CampaignProgress | undefined> {
      const campaign = await o.reader.get(id);
      if (campaign?.definition === undefined) return undefined;
      const checkpoint = await o.plans.checkpoint(id);
      const queued = await o.queue.pending(id);
      if (checkpoint === undefined) return { campaign, queued };
      const finishAt = finishEstimate(
        checkpoint.counters,
        o.numbersOf(campaign.definition),
        campaign.definition.schedule.startAt,
      );
      return {
        campaign,
        queued,
        plan: { counters: checkpoint.counters, complete: checkpoint.complete, finishAt },
      };
    },
    /** Pauses every running campaign a Meta signal concerns (ADR 0015, "Control"). */
    async signal(s: Parameters<typeof autoPauseOf>[0]): Promise<readonly string[]> {
      const paused: string[] = [];
      for (const state of await o.reader.running()) {
        if (state.definition === undefined) continue;
        const pause = autoPauseOf(s, state.definition);
        if (pause === undefined) continue;
        await command(state.id, { type: "Pause", ...pause });
        paused.push(state.id);
      }
      return paused;
    },
    tick,
    /** Waits for the plans running now (tests, shutdown). */
    settle: () => Promise.all([...planning.values()]).then(() => undefined),
  };
}

export type Campaigns = ReturnType<typeof createCampaigns>;
