import { tryTogether } from "./isolate.js";
import type { PublishedMark, StateStore } from "./store.js";

/**
 * Published marks written behind the callers' backs (ADR 0010, "Deferred marks"): the batches
 * of `delayMs` coalesce into one `markPublished`, off the path a caller waits on. Until a mark
 * is written, this process remembers it, so a key it loads again (evicted from the cache, or
 * decided again after a lost race) does not publish an outbox it has already published. A
 * process that dies first leaves those outboxes in view: the next owner publishes them again,
 * same events and ids, which is the runtime's replay window (between the save and the mark),
 * longer by at most `delayMs` plus one round trip.
 */
export interface DeferredMarks {
  /** Outboxes just published; written within `delayMs`. */
  add(marks: readonly PublishedMark[]): void;
  /** Whether this process published the outbox `key` has stored as `version`. */
  covers(key: string, version: number): boolean;
  /** Writes every mark held now (after any write in flight); rejects if that write fails. */
  flush(): Promise<void>;
}

export function createDeferredMarks(
  store: Pick<StateStore<unknown, unknown>, "markPublished">,
  delayMs: number,
): DeferredMarks {
  /** Per key, the highest version published and not yet known written. */
  const pending = new Map<string, number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> | undefined;

  const write = async (): Promise<void> => {
    const marks = [...pending].map(([key, version]) => ({ key, version }));
    if (marks.length === 0) return;
    // A mark refused for good (not an outage) is tried alone; one that still fails stays held
    // (this process keeps treating its outbox as published) and goes with the next write.
    const failures = await tryTogether(
      marks,
      (all) => store.markPublished(all),
      (one) => store.markPublished([one]),
    );
    for (const mark of marks) {
      if (!failures.has(mark) && pending.get(mark.key) === mark.version) pending.delete(mark.key);
    }
  };

  const run = (): Promise<void> => {
    timer = undefined;
    const current = (writing ?? Promise.resolve()).then(write);
    const settled = current.catch(() => undefined);
    writing = settled;
    void settled.finally(() => {
      if (writing === settled) writing = undefined;
    });
    return current;
  };

  return {
    add(marks) {
      for (const { key, version } of marks) {
        if ((pending.get(key) ?? 0) < version) pending.set(key, version);
      }
      if (timer === undefined && pending.size > 0) {
        // A failed write is not retried on a timer of its own: the next batch's marks bring it.
        timer = setTimeout(() => void run().catch(() => undefined), delayMs);
        timer.unref();
      }
    },
    covers: (key, version) => (pending.get(key) ?? 0) >= version,
    async flush() {
      if (timer !== undefined) clearTimeout(timer);
      await run();
    },
  };
}
