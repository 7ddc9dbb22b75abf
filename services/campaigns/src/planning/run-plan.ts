import { parseContactId } from "@parley/contracts";
import type { CampaignDefinition, PlanNumber } from "../domain/campaign.js";
import {
  createPlanner,
  finishEstimate,
  unknownContact,
  type AudienceRow,
  type PlanCounters,
  type PlanDecision,
} from "../domain/plan.js";
import type { FactsReader, PlanStore } from "./ports.js";

export interface RunPlanOptions {
  readonly campaign: CampaignDefinition;
  readonly numbers: readonly PlanNumber[];
  readonly limitBudget: number;
  /** The audience from its first row, every time (a resumed plan reads it again). */
  readonly audience: () => AsyncIterable<AudienceRow>;
  readonly facts: FactsReader;
  readonly store: PlanStore;
  readonly requestIdOf: (name: string) => string;
  readonly clock: () => Date;
  /** Rows decided, recorded and published together. */
  readonly chunkSize?: number;
  /** Told after each chunk (progress). */
  readonly onChunk?: (counters: PlanCounters) => void;
  /** Stops between chunks when it answers true (pause, cancel, shutdown). */
  readonly shouldStop?: () => boolean;
}

export interface PlanResult {
  readonly counters: PlanCounters;
  readonly complete: boolean;
  readonly finishAt: string;
}

/**
 * Plans a campaign from its checkpoint (ADR 0015): rows before the cursor only rebuild the
 * contacts seen; each chunk after it is decided with its contacts' facts and recorded (skips for
 * the report, planned sends into the campaign's queue, keyed by campaign and contact), and only
 * then checkpointed. A crash anywhere repeats at most the chunk in hand, writing the same
 * documents again, and skips nobody. The releaser (release.ts) publishes the queue at the
 * numbers' caps.
 */
export async function runPlan({
  campaign,
  numbers,
  limitBudget,
  audience,
  facts,
  store,
  requestIdOf,
  clock,
  chunkSize = 1_000,
  onChunk,
  shouldStop = () => false,
}: RunPlanOptions): Promise<PlanResult> {
  const saved = await store.checkpoint(campaign.id);
  const planner = createPlanner({ campaign, numbers, limitBudget, requestIdOf }, saved?.counters);
  const result = (complete: boolean): PlanResult => {
    const counters = planner.counters();
    return {
      counters,
      complete,
      finishAt: finishEstimate(counters, numbers, campaign.schedule.startAt),
    };
  };
  if (saved?.complete === true) return result(true);
  const cursor = saved?.counters.next ?? 0;
  let chunk: AudienceRow[] = [];
  /**
   * The previous chunk's writes (record, then checkpoint), still under way while this chunk's
   * facts are read and its rows decided: the planner waited on MongoDB most of the time (62 % of
   * its wall time idle in a profile, docs/benchmarks.md). A chunk is recorded only once the one
   * before is checkpointed, so the order of the durable writes is the same as before; a crash
   * repeats at most the chunk being written and the one decided after it (same documents, the
   * same sends). The facts of a chunk never depend on the campaign's own recorded recipients
   * (the frequency cap reads other campaigns' sends), so reading them early changes nothing.
   */
  let writing: Promise<void> = Promise.resolve();

  const flush = async (): Promise<void> => {
    const rows = chunk;
    chunk = [];
    const now = clock();
    // Each row's contact id, parsed once for the facts and the decision.
    const parsedOf = rows.map((row) => (row.ok ? parseContactId(row.phone) : undefined));
    const ids = new Set<string>();
    for (const p of parsedOf) if (p?.ok === true) ids.add(p.contactId);
    const known = await facts.of([...ids], campaign, now);
    const decisions: PlanDecision[] = rows.map((row, k) => {
      const p = parsedOf[k];
      const found = p?.ok === true ? known.get(p.contactId) : undefined;
      return planner.decide(row, found ?? unknownContact, p);
    });
    const counters = planner.counters();
    await writing;
    writing = (async () => {
      await store.record(campaign.id, decisions, now);
      await store.saveCheckpoint(campaign.id, { counters, complete: false });
      onChunk?.(counters);
    })();
    // Awaited before the next chunk's writes (or the end); a failure surfaces there.
    writing.catch(() => undefined);
  };

  for await (const row of audience()) {
    if (row.index < cursor) {
      planner.remember(row);
      continue;
    }
    chunk.push(row);
    if (chunk.length >= chunkSize) {
      await flush();
      if (shouldStop()) {
        await writing;
        return result(false);
      }
    }
  }
  if (chunk.length > 0) await flush();
  await writing;
  await store.saveCheckpoint(campaign.id, { counters: planner.counters(), complete: true });
  return result(true);
}
