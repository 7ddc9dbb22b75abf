import { rollup, type Totals } from "../domain/analytics.js";
import type { AnalyticsStore, BucketMarks } from "./ports.js";

export interface Rollup {
  /**
   * Recomputes up to `limit` marked buckets from their facts and clears their marks (a mark set
   * again meanwhile stays, for the next round). Resolves with how many buckets it recomputed.
   */
  runOnce(limit?: number): Promise<number>;
  /** Rounds until no bucket is marked (a rebuild's last step before its switch). */
  drain(): Promise<number>;
}

/**
 * Why: the analytics totals are a function of the facts, recomputed from them (not counted up
 * event by event), so a repeated event can never count twice and a rebuild gives the same
 * totals. A bucket's cost is one read of its facts per round in which it changed.
 */
export function createRollup({
  marks,
  analytics,
  concurrency = 4,
}: {
  readonly marks: BucketMarks;
  readonly analytics: AnalyticsStore;
  readonly concurrency?: number;
}): Rollup {
  const recompute = async (bucket: string): Promise<void> => {
    const contributions = await analytics.contributionsOf(bucket);
    const totals: Totals | undefined =
      contributions.length === 0 ? undefined : rollup(contributions);
    await analytics.put(bucket, totals);
  };
  const runOnce = async (limit = 200): Promise<number> => {
    const dirty = await marks.take(limit);
    for (let i = 0; i < dirty.length; i += concurrency) {
      await Promise.all(dirty.slice(i, i + concurrency).map((d) => recompute(d.bucket)));
    }
    await marks.clear(dirty);
    return dirty.length;
  };
  return {
    runOnce,
    async drain() {
      let total = 0;
      for (let n = await runOnce(); n > 0; n = await runOnce()) total += n;
      return total;
    },
  };
}
