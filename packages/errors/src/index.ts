/**
 * What a failure means to whoever would try again (conventions.md, 9):
 *
 * - `never`: the same input fails the same way (bad bytes, a contract violation, a bug). Retrying
 *   only loops; the record goes to its dead-letter topic at once.
 * - `bounded`: a later try may succeed (a lost optimistic race, a refusal that can pass). A few
 *   tries with back-off, then the dead-letter topic.
 * - `outage`: a dependency is unavailable (broker, database, a timeout on the way to them). The
 *   input is fine and the work must not be dropped: wait, without bound, until the dependency is
 *   back, holding the key's later records behind it.
 */
export type RetryKind = "never" | "bounded" | "outage";

export interface ParleyErrorOptions {
  readonly retry: RetryKind;
  readonly cause?: unknown;
  /** Fields for logs and dead-letter headers; never secrets, never an unmasked phone number. */
  readonly context?: Readonly<Record<string, unknown>>;
}

/**
 * The base of every error Parley throws on purpose. Domain folders may import it: it carries no
 * infrastructure. Subclasses name what happened; `retry` says what the caller does about it.
 */
export class ParleyError extends Error {
  override readonly name: string = "ParleyError";
  readonly retry: RetryKind;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(message: string, { retry, cause, context = {} }: ParleyErrorOptions) {
    super(message, cause === undefined ? undefined : { cause });
    this.retry = retry;
    this.context = context;
  }

  /** True for `bounded` and `outage`: kept for code that reads kafkajs-style flags. */
  get retriable(): boolean {
    return this.retry !== "never";
  }
}

const RETRY_KINDS: ReadonlySet<unknown> = new Set<RetryKind>(["never", "bounded", "outage"]);

/**
 * The retry decision of any thrown value. A ParleyError (or anything carrying a valid `retry`)
 * says it itself; an error from a library that only has kafkajs's `retriable: true` counts as
 * `bounded`; everything else, programming errors included, is `never`, so nothing unknown is
 * retried into a loop.
 */
export function retryOf(error: unknown): RetryKind {
  if (typeof error !== "object" || error === null) return "never";
  const { retry, retriable } = error as { retry?: unknown; retriable?: unknown };
  if (RETRY_KINDS.has(retry)) return retry as RetryKind;
  return retriable === true ? "bounded" : "never";
}

/** Whether a later try may succeed (`bounded` or `outage`). */
export function isRetriable(error: unknown): boolean {
  return retryOf(error) !== "never";
}

/** Whether the failure is a dependency being unavailable, to be waited out without bound. */
export function isOutage(error: unknown): boolean {
  return retryOf(error) === "outage";
}

/** The error's class name, for metrics labels and dead-letter headers. */
export function errorClass(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error;
}

/** The error's message, or the thrown value as text. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * How a retry waits: resolves true after `ms`, or false as soon as `signal` aborts (a consumer
 * stopping), so a waiting retry never outlives a shutdown. The one definition (issue 21): the
 * Kafka runner's back-off and the sender's pacing both wait with it.
 */
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
