/** Resolves after `ms` (true) or as soon as `signal` aborts (false). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Thrown out of a handler when the consumer stops: the record is handed back, not finished. */
export class StoppedError extends Error {
  override readonly name = "StoppedError";
  readonly retriable = true;
  constructor() {
    super("sender stopping: the record is handed back unfinished");
  }
}
