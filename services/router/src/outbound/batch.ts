/** What one item of a flushed batch came to: a value, or its own error. */
export type Settled<R> =
  { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown };

export const settledValue = <R>(value: R): Settled<R> => ({ ok: true, value });
export const settledError = <R>(error: unknown): Settled<R> => ({ ok: false, error });

export interface BatchOptions {
  /** Most items one flush takes. */
  readonly maxSize?: number;
  /** Flushes running at once; items arriving meanwhile wait and join the next flush. */
  readonly maxConcurrent?: number;
}

interface Waiting<I, R> {
  readonly item: I;
  readonly resolve: (value: R) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Turns single calls into few round trips for many contacts at once (MongoDB reads and writes,
 * Kafka produce requests). A call queues its item; when fewer than `maxConcurrent` flushes run,
 * a flush starts on the next turn of the event loop with whatever queued by then. Under load the
 * queue grows while flushes are out, so batches grow instead of round trips queueing. No timer:
 * a lone item waits one event-loop turn, never a fixed delay.
 *
 * `flush` answers each item (same order, same length); an item's own error rejects that caller
 * only; a thrown or rejected flush rejects every caller of that batch.
 */
export function batched<I, R>(
  flush: (items: readonly I[]) => Promise<readonly Settled<R>[]>,
  { maxSize = 256, maxConcurrent = 2 }: BatchOptions = {},
): (item: I) => Promise<R> {
  if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError("maxSize must be >= 1");
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new RangeError("maxConcurrent must be >= 1");
  }
  const waiting: Waiting<I, R>[] = [];
  let running = 0;
  let pending = false;

  const settle = (batch: readonly Waiting<I, R>[], answers: readonly Settled<R>[]) => {
    if (answers.length !== batch.length) {
      const error = new Error(`batch flush answered ${answers.length} of ${batch.length} items`);
      for (const w of batch) w.reject(error);
      return;
    }
    batch.forEach((w, i) => {
      const answer = answers[i];
      if (answer?.ok === true) w.resolve(answer.value);
      else w.reject(answer?.ok === false ? answer.error : new Error("no answer"));
    });
  };

  const drain = (): void => {
    pending = false;
    while (waiting.length > 0 && running < maxConcurrent) {
      const batch = waiting.splice(0, maxSize);
      running++;
      let work: Promise<readonly Settled<R>[]>;
      try {
        work = flush(batch.map((w) => w.item));
      } catch (error) {
        work = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      void work
        .then(
          (answers) => {
            settle(batch, answers);
          },
          (error: unknown) => {
            for (const w of batch) w.reject(error);
          },
        )
        .finally(() => {
          running--;
          schedule();
        });
    }
  };

  const schedule = (): void => {
    if (pending || running >= maxConcurrent || waiting.length === 0) return;
    pending = true;
    setImmediate(drain);
  };

  return (item) =>
    new Promise<R>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      schedule();
    });
}
