import { retryOf } from "@parley/errors";
import type { Consumed, Projector } from "./projector.js";

interface Waiting {
  readonly item: Consumed;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export interface GatherOptions {
  /** Events at most in one `apply` (a turn's records beyond it go in further calls). */
  readonly maxEvents?: number;
}

/**
 * One event at a time in, one `apply` per turn of the event loop out: the consumer hands the
 * projector each record on its own, and the records of a fetch arrive in one turn. Applied
 * together, their per-apply costs (erasure's two lookups, one batch per read model) are paid
 * once per turn instead of once per record; the records of the next fetch gather while this
 * apply waits on MongoDB, and each flush starts in a turn of its own (`setImmediate`), so the
 * query API's requests are served between batches.
 *
 * A merged apply that fails for a reason other than an outage is tried again event by event, so
 * one poison event fails its own record only (the projector is idempotent: what the merged call
 * applied is recognised). An outage fails every gathered record (the consumer waits it out).
 */
export function gather(
  projector: Projector,
  { maxEvents = 500 }: GatherOptions = {},
): (item: Consumed) => Promise<void> {
  if (!Number.isInteger(maxEvents) || maxEvents < 1)
    throw new RangeError(`gather: maxEvents must be a whole number >= 1, got ${String(maxEvents)}`);
  let pending: Waiting[] = [];
  let scheduled = false;

  const alone = async ({ item, resolve, reject }: Waiting) => {
    try {
      await projector.apply([item]);
      resolve();
    } catch (error) {
      reject(error);
    }
  };

  const run = async (batch: readonly Waiting[]) => {
    try {
      await projector.apply(batch.map((w) => w.item));
      for (const w of batch) w.resolve();
      return;
    } catch (error) {
      if (batch.length === 1 || retryOf(error) === "outage") {
        for (const w of batch) w.reject(error);
        return;
      }
    }
    await Promise.all(batch.map(alone));
  };

  const flush = () => {
    scheduled = false;
    const all = pending;
    pending = [];
    for (let i = 0; i < all.length; i += maxEvents) void run(all.slice(i, i + maxEvents));
  };

  return (item) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
