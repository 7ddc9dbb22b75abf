import type { SendOutcome } from "./events.js";
import { ParleyClientError } from "./errors.js";
import { finalOutcome, isSettled, type FinalOutcome } from "./outcome.js";

/** The request had no final answer within the wait; `last` is what was known then. */
export class OutcomeTimeoutError extends ParleyClientError {
  override readonly name = "OutcomeTimeoutError";
  constructor(
    readonly requestId: string,
    readonly last: FinalOutcome,
    timeoutMs: number,
  ) {
    super(
      `no final outcome for request ${requestId} within ${String(timeoutMs)} ms (last known: ${last.status})`,
      { retry: "bounded", context: { requestId, status: last.status } },
    );
  }
}

export interface AwaitOptions {
  /** Give up after this long (OutcomeTimeoutError, with what was known). */
  readonly timeoutMs: number;
  /**
   * An acceptance counts as the answer once it has stood this long with nothing superseding it
   * (Meta's asynchronous failures usually come within seconds; a paced template's can come
   * hours later). Default 0: the first acceptance is the answer.
   */
  readonly acceptedQuietMs?: number;
  readonly signal?: AbortSignal;
}

export interface OutcomeTracker {
  /** The answer of `requestId` now, following a SendDeduplicated to its original request. */
  final(requestId: string): FinalOutcome;
  /** Resolves with the request's answer once it is settled (or accepted and quiet). */
  awaitFinal(requestId: string, options: AwaitOptions): Promise<FinalOutcome>;
  /** Stops consuming (the subscription leaves its group). */
  stop(): Promise<void>;
}

/**
 * Keeps the outcomes of recent requests (at most `maxTracked` requests, oldest forgotten first)
 * and answers for each with `finalOutcome`. Fed by a subscription to send-outcomes.
 */
export function createOutcomeTracker({ maxTracked = 100_000 }: { maxTracked?: number } = {}) {
  if (!Number.isInteger(maxTracked) || maxTracked < 1)
    throw new RangeError("maxTracked must be a positive integer");
  const byRequest = new Map<string, SendOutcome[]>();
  const waiters = new Map<string, Set<() => void>>();

  const answerOf = (requestId: string, depth = 0): FinalOutcome => {
    const own = finalOutcome(requestId, byRequest.get(requestId) ?? []);
    // A repeated idempotency key: the first request's answer, as that request's.
    if (own.status === "deduplicated" && depth < 4) {
      const original = answerOf(own.originalRequestId, depth + 1);
      return original.status === "pending" ? own : { ...original, requestId };
    }
    return own;
  };

  const notify = (requestId: string): void => {
    for (const wake of waiters.get(requestId) ?? []) wake();
  };

  return {
    /** Feeds one outcome (the subscription's handler); a repeated event id is kept once. */
    add(outcome: SendOutcome): void {
      const requestId = outcome.data.requestId;
      const list = byRequest.get(requestId);
      if (list?.some((o) => o.eventId === outcome.eventId)) return;
      if (list) list.push(outcome);
      else {
        byRequest.set(requestId, [outcome]);
        if (byRequest.size > maxTracked) {
          const oldest = byRequest.keys().next();
          if (!oldest.done) byRequest.delete(oldest.value);
        }
      }
      notify(requestId);
    },
    final: (requestId: string): FinalOutcome => answerOf(requestId),
    awaitFinal(
      requestId: string,
      { timeoutMs, acceptedQuietMs = 0, signal }: AwaitOptions,
    ): Promise<FinalOutcome> {
      return new Promise((resolve, reject) => {
        let quiet: NodeJS.Timeout | undefined;
        let watched: string[] = [];
        const done = (finish: () => void): void => {
          clearTimeout(timer);
          clearTimeout(quiet);
          for (const id of watched) waiters.get(id)?.delete(check);
          signal?.removeEventListener("abort", onAbort);
          finish();
        };
        const check = (): void => {
          const answer = answerOf(requestId);
          // Watch the original request too, when this one repeated its key.
          const own = finalOutcome(requestId, byRequest.get(requestId) ?? []);
          const ids =
            own.status === "deduplicated" ? [requestId, own.originalRequestId] : [requestId];
          for (const id of ids)
            if (!watched.includes(id)) {
              let set = waiters.get(id);
              if (!set) waiters.set(id, (set = new Set()));
              set.add(check);
            }
          watched = [...new Set([...watched, ...ids])];
          clearTimeout(quiet);
          if (isSettled(answer) && answer.status !== "deduplicated")
            done(() => {
              resolve(answer);
            });
          else if (answer.status === "accepted")
            quiet = setTimeout(() => {
              done(() => {
                resolve(answerOf(requestId));
              });
            }, acceptedQuietMs);
        };
        const timer = setTimeout(() => {
          done(() => {
            reject(new OutcomeTimeoutError(requestId, answerOf(requestId), timeoutMs));
          });
        }, timeoutMs);
        const onAbort = (): void => {
          done(() => {
            reject(new OutcomeTimeoutError(requestId, answerOf(requestId), timeoutMs));
          });
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        check();
      });
    },
  };
}
