/**
 * Groups calls into few round trips: items queue while `maxConcurrent` flushes are in flight,
 * and the next flush takes everything queued meanwhile (up to `maxSize`). With nothing in
 * flight a flush starts on the next macrotask, so a lone item waits for no timer. A batcher that
 * flushed every tick regardless would, under load, send thousands of one-item batches that queue
 * behind each other (the idempotent producer keeps one request in flight), and every send's
 * latency would grow with the queue; here the batch grows instead.
 */
export function createBatcher<I, R>(
  flush: (items: readonly I[]) => Promise<readonly R[]>,
  { maxSize = 500, maxConcurrent = 2 }: { maxSize?: number; maxConcurrent?: number } = {},
): (item: I) => Promise<R> {
  if (maxSize < 1 || maxConcurrent < 1)
    throw new RangeError("maxSize and maxConcurrent must be at least 1");
  let queue: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;
  let running = 0;
  const run = (): void => {
    scheduled = false;
    while (queue.length > 0 && running < maxConcurrent) {
      const batch = queue.length <= maxSize ? queue : queue.slice(0, maxSize);
      queue = batch === queue ? [] : queue.slice(maxSize);
      running++;
      let work: Promise<readonly R[]>;
      try {
        work = flush(batch.map((b) => b.item));
      } catch (error) {
        work = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      work
        .then(
          (results) => {
            batch.forEach((b, i) => {
              b.resolve(results[i] as R);
            });
          },
          (error: unknown) => {
            for (const b of batch) b.reject(error);
          },
        )
        .finally(() => {
          running--;
          run();
        });
    }
  };
  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (running >= maxConcurrent || scheduled) return;
      scheduled = true;
      setImmediate(run);
    });
}
