/**
 * The record of a request's Graph calls, written BEFORE each call (invariant 7). A request is
 * called again only after a definite refusal ("refused"); "calling" with no result after a
 * crash, or a call whose answer was lost, is "in_doubt" and never called again.
 */
export type AttemptState = "calling" | "refused" | "done" | "in_doubt";

export interface AttemptView {
  readonly requestId: string;
  readonly state: AttemptState;
  /** Epoch ms of the latest call (set before it). */
  readonly attemptedAt: number;
  readonly calls: number;
  /** Events already decided for this request (published, or to publish again on redelivery). */
  readonly outcomeIds: readonly string[];
}

export type RedeliveryDecision =
  | { readonly kind: "send" }
  /** Terminal or in doubt already: publish the stored outcome again (same event ids), commit. */
  | { readonly kind: "replay" }
  /** Another call may be under way right now (an old owner mid-call): look again later. */
  | { readonly kind: "wait"; readonly untilMs: number }
  /** A call started and never recorded a result: it may have reached Meta. */
  | { readonly kind: "in-doubt" };

/**
 * What a (re)delivered dispatch does given its attempt record. `callBoundMs` is the longest a
 * live call can take (the Graph timeout plus slack): past it, "calling" means the caller died.
 */
export function decideRedelivery(
  attempt: AttemptView | undefined,
  now: number,
  callBoundMs: number,
): RedeliveryDecision {
  if (attempt === undefined) return { kind: "send" };
  switch (attempt.state) {
    case "done":
    case "in_doubt":
      return { kind: "replay" };
    case "refused":
      return { kind: "send" };
    case "calling":
      return attempt.attemptedAt + callBoundMs > now
        ? { kind: "wait", untilMs: attempt.attemptedAt + callBoundMs }
        : { kind: "in-doubt" };
  }
}

/** How a status webhook resolves an in-doubt request. */
export function reconcileResult(status: string): "sent" | "failed" {
  return status === "failed" ? "failed" : "sent";
}
