import { ParleyError } from "@parley/errors";
import { onAbort, sleep } from "./abort-hub.js";

/**
 * Resolves true once `clock()` reads `at` or later, false as soon as `signal` aborts. A timer can
 * fire up to a millisecond before the wall clock reaches its instant (timers run on the
 * monotonic clock in whole milliseconds, `Date.now()` on the wall clock), so the clock is read
 * again and the wait repeated until it has really passed. The rate log's proof needs a call to
 * leave no earlier than its slot: one sent a millisecond early was refused with 130429 at
 * 1,000 msg/s on the benchmark machine.
 */
export async function sleepUntil(
  at: number,
  clock: () => number,
  signal?: AbortSignal,
  nap: (ms: number, signal?: AbortSignal) => Promise<boolean> = sleep,
): Promise<boolean> {
  for (let now = clock(); now < at; now = clock()) {
    if (!(await nap(Math.max(1, Math.ceil(at - now)), signal))) return false;
  }
  return true;
}

/**
 * Thrown out of a handler when the consumer stops: the record is handed back, not finished
 * (bounded: the next owner of its partition takes it again).
 */
export class StoppedError extends ParleyError {
  override readonly name = "StoppedError";
  constructor() {
    super("sender stopping: the record is handed back unfinished", { retry: "bounded" });
  }
}

/**
 * A read that got no answer within its bound (a reply lost on its way, a server that never
 * answers): an outage, so the runner tries the record again later and the next try reads again.
 */
export class UnansweredError extends ParleyError {
  override readonly name = "UnansweredError";
  constructor(what: string, boundMs: number) {
    super(`${what}: no answer within ${String(boundMs)} ms; it is read again on the next try`, {
      retry: "outage",
      context: { what, boundMs },
    });
  }
}

/**
 * `work`'s outcome, waited for at most `boundMs` (then UnansweredError; 0: no bound) and only
 * until `signal` aborts (then StoppedError). `work` itself goes on: the caller reads again
 * rather than wait for it. For waits that every dispatch of a number shares (its lane's seeds,
 * its park count): one answer that never comes must not stall the number for good, nor keep a
 * stop from ending (the projection e2e's CI run of 2026-12-07).
 */
export function answered<T>(
  work: Promise<T>,
  what: string,
  boundMs: number,
  signal?: AbortSignal,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(new StoppedError());
  return new Promise<T>((resolve, reject) => {
    let stop = (): void => undefined;
    const timer =
      boundMs > 0
        ? setTimeout(() => {
            stop();
            reject(new UnansweredError(what, boundMs));
          }, boundMs)
        : undefined;
    if (signal !== undefined)
      stop = onAbort(signal, () => {
        clearTimeout(timer);
        reject(new StoppedError());
      });
    work.then(
      (value) => {
        clearTimeout(timer);
        stop();
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        stop();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
