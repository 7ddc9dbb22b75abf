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
  /**
   * How many bucket marks this process has written so far (`noteMarks`). Given, a paced round
   * reads the marks only when some were written since its last read, when buckets wait their
   * turn, when the last read may have left some, or once `restReadMs` passed (marks another
   * process wrote): a projection with nothing to apply reads nothing. Without it, every round
   * reads.
   */
  readonly written?: () => number;
  readonly restReadMs?: number;
}

/** Bucket marks that count their own writes (the rollup's `written`). */
export interface NotedMarks extends BucketMarks {
  readonly written: () => number;
}

/** Counts the marks written through `marks` (one per call that marked at least one bucket). */
export function noteMarks(marks: BucketMarks): NotedMarks {
  let n = 0;
  return {
    mark: async (buckets) => {
      // Counted before the write: a round that reads while it is under way reads again later.
      if (buckets.length > 0) n++;
      await marks.mark(buckets);
    },
    take: (limit) => marks.take(limit),
    clear: (done) => marks.clear(done),
    count: () => marks.count(),
    written: () => n,
  };
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
  written,
  restReadMs = 30_000,
}: RollupOptions): Rollup {
  /** When each bucket may be recomputed again. */
  const notBefore = new Map<string, number>();
  /** The `written` count at the last read, when it was, and whether it may have left marks. */
  let seen = -1;
  let readAt = -Infinity;
  let left = false;

  /** Nothing can be due: no mark written since the last read, none left, none waiting. */
  const resting = (now: number): boolean => {
    if (written === undefined) return false;
    const n = written();
    if (n === seen && !left && notBefore.size === 0 && now - readAt < restReadMs) return true;
    seen = n;
    readAt = now;
    return false;
  };

  const recompute = async (bucket: string): Promise<void> => {
    const contributions = await analytics.contributionsOf(bucket);
    const totals: Totals | undefined =
      contributions.length === 0 ? undefined : rollup(contributions);
    await analytics.put(bucket, totals);
    if (msPerFact > 0) notBefore.set(bucket, clock() + contributions.length * msPerFact);
  };

  const round = async (limit: number, paced: boolean): Promise<number> => {
    const now = clock();
    if (paced && resting(now)) return 0;
    for (const [bucket, at] of notBefore) if (at <= now) notBefore.delete(bucket);
    const asked = limit + (paced ? notBefore.size : 0);
    const taken = await marks.take(asked);
    left = taken.length >= asked;
    const dirty = taken.filter((d) => !paced || (notBefore.get(d.bucket) ?? 0) <= now);
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
