import { rollup, type Totals } from "../domain/analytics.js";
import type { AnalyticsStore, BucketMarks, DirtyBucket } from "./ports.js";

export interface Rollup {
  /**
   * Recomputes up to `limit` marked buckets whose turn has come from their facts and clears
   * their marks (a mark set again meanwhile stays, for a later round). Resolves with how many
   * buckets it recomputed.
   */
  runOnce(limit?: number): Promise<number>;
  /** Rounds until no bucket is marked, without pacing (a rebuild's last step before its switch). */
  drain(): Promise<number>;
}

export interface RollupOptions {
  readonly marks: BucketMarks;
  readonly analytics: AnalyticsStore;
  readonly concurrency?: number;
  /**
   * Pacing: a bucket recomputed from n facts waits at least `n x msPerFact` before its next
   * recomputation (0: none), so a busy bucket of many facts is not read again every round; its
   * totals trail its facts by about that much.
   */
  readonly msPerFact?: number;
  readonly clock?: () => number;
}

/**
 * Why: the analytics totals are a function of the facts, recomputed from them (not counted up
 * event by event), so a repeated event can never count twice and a rebuild gives the same
 * totals. A bucket's cost is one read of its facts per recomputation, paced by its size.
 */
export function createRollup({
  marks,
  analytics,
  concurrency = 4,
  msPerFact = 0,
  clock = () => Date.now(),
}: RollupOptions): Rollup {
  /** When each bucket may be recomputed again. */
  const notBefore = new Map<string, number>();

  const recompute = async (bucket: string): Promise<void> => {
    const contributions = await analytics.contributionsOf(bucket);
    const totals: Totals | undefined =
      contributions.length === 0 ? undefined : rollup(contributions);
    await analytics.put(bucket, totals);
    if (msPerFact > 0) notBefore.set(bucket, clock() + contributions.length * msPerFact);
  };

  const round = async (limit: number, paced: boolean): Promise<number> => {
    const now = clock();
    for (const [bucket, at] of notBefore) if (at <= now) notBefore.delete(bucket);
    const dirty = (await marks.take(limit + (paced ? notBefore.size : 0))).filter(
      (d) => !paced || (notBefore.get(d.bucket) ?? 0) <= now,
    );
    const due: DirtyBucket[] = dirty.slice(0, limit);
    for (let i = 0; i < due.length; i += concurrency) {
      await Promise.all(due.slice(i, i + concurrency).map((d) => recompute(d.bucket)));
    }
    await marks.clear(due);
    return due.length;
  };

  return {
    runOnce: (limit = 200) => round(limit, true),
    async drain() {
      let total = 0;
      for (let n = await round(200, false); n > 0; n = await round(200, false)) total += n;
      return total;
    },
  };
}
