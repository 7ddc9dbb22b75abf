import { ParleyError } from "@parley/errors";
import { sleep } from "./abort-hub.js";

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
