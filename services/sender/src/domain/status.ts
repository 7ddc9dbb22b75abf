import type { AttemptState, LateFallback } from "./attempt.js";

/** What the status side needs of a request's record (pure: no store, no events). */
export interface StatusRecord {
  readonly state: AttemptState;
  /** The request's latest message Meta accepted. */
  readonly wamid: string | undefined;
  /** The status event that decided the failure of the request's latest decided message. */
  readonly decidedByStatus: string | undefined;
  /** The late fallback owed or sent, if any. */
  readonly lateFallback: LateFallback | undefined;
  /** The dispatch kept with the record: free-form content with a template fallback. */
  readonly fallbackPossible: boolean;
  /** The status that caused the record's latest outcome (its causation id), if any. */
  readonly lastOutcomeCause: string | undefined;
}

export interface StatusFacts {
  readonly statusId: string;
  readonly wamid: string;
  readonly status: "sent" | "delivered" | "read" | "played" | "failed";
  /** Meta's first error code on a failed status. */
  readonly code: number | undefined;
}

/** Meta judged the service window closed after accepting a free-form message. */
export const WINDOW_CLOSED = 131047;

export type StatusDecision =
  | { readonly kind: "ignore" }
  /** The call's result is not recorded yet: keep the status, look again once it is. */
  | { readonly kind: "note" }
  /** A request in doubt: this status resolves it (SendReconciled). */
  | { readonly kind: "reconcile"; readonly result: "sent" | "failed" }
  /** Meta failed the request's accepted message: SendFailed phase async, the request's final word. */
  | { readonly kind: "fail-async" }
  /** A free-form message failed with 131047 and the request has a fallback: send it, once. */
  | { readonly kind: "fallback" }
  /** This very status decided before and its result may not have been published: publish it again. */
  | { readonly kind: "republish" };

/**
 * What a status webhook means for a request (ADR 0009). Only a `failed` status of the request's
 * latest accepted message changes a finished request, and only once (a repeated webhook, or
 * another status event for the same failure, finds it decided); a 131047 of a free-form message
 * with a template fallback owes one more call instead of a failure.
 */
export function decideStatus(
  record: StatusRecord | undefined,
  status: StatusFacts,
): StatusDecision {
  if (record === undefined) return { kind: "ignore" };
  if (record.decidedByStatus === status.statusId || record.lastOutcomeCause === status.statusId)
    return { kind: "republish" };
  switch (record.state) {
    case "calling":
      return { kind: "note" };
    case "in_doubt":
      return { kind: "reconcile", result: status.status === "failed" ? "failed" : "sent" };
    case "claimed":
    case "refused":
      return { kind: "ignore" };
    case "done":
      break;
  }
  if (status.status !== "failed" || status.wamid !== record.wamid) return { kind: "ignore" };
  if (status.code === WINDOW_CLOSED && record.fallbackPossible && record.lateFallback === undefined)
    return { kind: "fallback" };
  return { kind: "fail-async" };
}
