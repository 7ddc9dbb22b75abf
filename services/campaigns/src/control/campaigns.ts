import type { CommandHandler } from "@parley/decider";
import type { AudienceFormat } from "../audience/read.js";
import type { CampaignDefinition, PlanNumber } from "../domain/campaign.js";
import {
  autoPauseOf,
  CampaignStateError,
  nameTemplateOfFailure,
  type CampaignSignal,
  type CampaignCommand,
  type CampaignState,
  type PauseReason,
} from "../domain/lifecycle.js";
import { remainingBudget, type MessagingLimitTier } from "../domain/limits.js";
import { finishEstimate, type PlanCounters } from "../domain/plan.js";
import type { FactsReader, PlanStore, PublishSends, SendQueue } from "../planning/ports.js";
import { ReleaseCredit, releaseTick } from "../planning/release.js";
import { ParleyError } from "@parley/errors";
import type { RateCard } from "@parley/pricing";
import { createForecast, type Forecast } from "../domain/forecast.js";
import { progressOf, type DeliveryGroup, type DeliveryProgress } from "../domain/progress.js";
import type { PlanDecision } from "../domain/plan.js";
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
  /** How far the release runs ahead of the sender, in ms of each number's cap (ReleaseCredit). */
  readonly releaseLeadMs: number;
  readonly onError?: (error: unknown, campaignId: string) => void;
  /** The operator's rate card (PARLEY_RATE_CARD_FILE); without it no forecast and no cost. */
  readonly rateCard?: RateCard | undefined;
  /** The sends' outcomes and statuses joined (the progress consumer's store). */
  readonly deliveries?: {
    groups(campaignId: string): Promise<readonly DeliveryGroup[]>;
    failureCounts(campaignId: string): Promise<{ failed: number; settled: number }>;
  };
  /** The recorded plan's recipients by country and window (the started campaign's forecast). */
  readonly plannedGroups?: (
    campaignId: string,
  ) => Promise<
    readonly { country?: string; windowOpen: boolean; freeEntryPoint?: boolean; n: number }[]
  >;
  /** Failure share that pauses a running campaign (CAMPAIGNS_FAILURE_RATE_THRESHOLD). */
  readonly failureRateThreshold?: number;
}

/** A forecast asked of a service without a rate card: the operator must configure one. */
export class NoRateCardError extends ParleyError {
  override readonly name = "NoRateCardError";
  constructor() {
    super(
      "no rate card: set PARLEY_RATE_CARD_FILE to the operator's rate card (packages/pricing/README.md)",
      { retry: "never" },
    );
  }
}

export interface CampaignForecast {
  /** `plan`: the recorded plan's recipients; `dry_run`: the audience planned now, nothing kept. */
  readonly basis: "plan" | "dry_run";
  readonly forecast: Forecast;
  /** Rows the plan leaves out, by reason (nobody is priced for them). */
  readonly skipped: PlanCounters["skipped"];
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
  /** Sent, delivered, read, failed by code and the reconciled cost (outcomes and statuses). */
  readonly deliveries?: DeliveryProgress;
  /** The recorded plan's forecast, beside `deliveries.cost` (absent without a rate card). */
  readonly forecast?: Forecast;
}

/**
 * The campaigns' use cases: lifecycle commands through the decider runtime, the plan run in the
 * background for each running campaign (resumed from its checkpoint after a restart), and the
 * release tick at the numbers' caps while a campaign runs. A paused or cancelled campaign
 * releases nothing more; what was already released is the router's and the sender's.
 */
export function createCampaigns(o: CampaignsOptions) {
  const planning = new Map<string, Promise<void>>();
  /** What each running campaign may release on each number (a tick's worth plus the lead). */
  const credit = new ReleaseCredit({ tickMs: o.tickMs, leadMs: o.releaseLeadMs });
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
          const numbers = o.numbersOf(definition);
          const allowance = credit.allowance(state.id, numbers, o.clock().getTime());
          const released = await releaseTick(definition, numbers, allowance, {
            queue: o.queue,
            publish: o.publish,
            clock: o.clock,
          });
          credit.spend(state.id, released);
        }
        if (checkpoint?.complete === true && (await o.queue.pending(state.id)) === 0) {
          await command(state.id, { type: "Complete" });
        }
      } catch (error) {
        o.onError?.(error, state.id);
      }
    }
  }

  const recordedForecast = async (id: string, definition: CampaignDefinition, card: RateCard) => {
    const forecast = createForecast(card, definition);
    for (const g of (await o.plannedGroups?.(id)) ?? [])
      forecast.addCount(g.country, g.windowOpen, g.n, g.freeEntryPoint === true);
    return forecast.result();
  };

  /**
   * The campaign's cost forecast (issue 27): from its recorded plan once the plan is complete,
   * else the audience planned now without keeping anything (the planner over the stored audience
   * with today's consent, windows and caps; the same rules as the real plan).
   */
  async function forecast(id: string): Promise<CampaignForecast | undefined> {
    const state = await o.reader.get(id);
    const definition = state?.definition;
    if (state === undefined || definition === undefined) return undefined;
    const card = o.rateCard;
    if (card === undefined) throw new NoRateCardError();
    const checkpoint = await o.plans.checkpoint(id);
    if (checkpoint?.complete === true && o.plannedGroups !== undefined)
      return {
        basis: "plan",
        forecast: await recordedForecast(id, definition, card),
        skipped: checkpoint.counters.skipped,
      };
    const audience = state.audience;
    if (audience === undefined)
      throw new CampaignStateError(
        `campaign ${id} has no audience to forecast`,
        state.status ?? "absent",
      );
    const f = createForecast(card, definition);
    const now = o.clock();
    const result = await runPlan({
      campaign: definition,
      numbers: o.numbersOf(definition),
      limitBudget: remainingBudget(o.tier, await o.reached(now), 0),
      audience: () => o.audiences.rows(audience.ref, audience.format),
      facts: o.facts,
      // A plan that keeps nothing: each planned decision is priced, then forgotten.
      store: {
        checkpoint: () => Promise.resolve(undefined),
        record: (_c: string, decisions: readonly PlanDecision[]) => {
          for (const d of decisions)
            if (d.kind === "planned")
              f.add({
                contactId: d.contactId,
                windowOpen: !d.limited,
                freeEntryPoint: d.freeEntryPoint === true,
              });
          return Promise.resolve();
        },
        saveCheckpoint: () => Promise.resolve(),
      },
      requestIdOf: o.requestIdOf,
      clock: o.clock,
      chunkSize: o.chunkSize,
    });
    return { basis: "dry_run", forecast: f.result(), skipped: result.counters.skipped };
  }

  /** A send of the campaign failed: the failure-rate rule of `autoPauseOf`, once enough settled. */
  async function noteFailure(id: string): Promise<boolean> {
    if (o.deliveries === undefined) return false;
    const state = await o.reader.get(id);
    if (state?.status !== "running" || state.definition === undefined) return false;
    const { failed, settled } = await o.deliveries.failureCounts(id);
    const pause = autoPauseOf(
      { kind: "failure_rate", failed, settled, threshold: o.failureRateThreshold ?? 0.2 },
      state.definition,
    );
    if (pause === undefined) return false;
    await command(id, { type: "Pause", ...pause });
    return true;
  }

  return {
    forecast,
    noteFailure,
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
      const deliveries =
        o.deliveries === undefined
          ? undefined
          : progressOf(await o.deliveries.groups(id), o.rateCard);
      const extra = {
        ...(deliveries === undefined ? {} : { deliveries }),
      };
      if (checkpoint === undefined) return { campaign, queued, ...extra };
      const forecast =
        o.rateCard !== undefined && o.plannedGroups !== undefined
          ? await recordedForecast(id, campaign.definition, o.rateCard)
          : undefined;
      const finishAt = finishEstimate(
        checkpoint.counters,
        o.numbersOf(campaign.definition),
        campaign.definition.schedule.startAt,
      );
      return {
        campaign,
        queued,
        plan: { counters: checkpoint.counters, complete: checkpoint.complete, finishAt },
        ...extra,
        ...(forecast === undefined ? {} : { forecast }),
      };
    },
    /** Pauses every running campaign a Meta signal concerns (ADR 0015, "Control"). */
    async signal(signal: CampaignSignal): Promise<readonly string[]> {
      const paused: string[] = [];
      const running = await o.reader.running();
      // An async 132015/132016 from an older sender names no template: the campaign its key names tells it (that
      // campaign may be paused already, so it is read when it is not running).
      const named =
        signal.kind === "send_failed" &&
        signal.template === undefined &&
        signal.campaignId !== undefined &&
        !running.some((r) => r.id === signal.campaignId)
          ? (await o.reader.get(signal.campaignId))?.definition
          : undefined;
      const s = nameTemplateOfFailure(signal, (id) =>
        id === named?.id ? named : running.find((r) => r.id === id)?.definition,
      );
      for (const state of running) {
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
