import type { EventOf } from "@parley/contracts";
import type { SendOutcome } from "./events.js";

/**
 * A request's answer as its outcomes tell it so far (ADR 0009):
 *
 * - `pending`: nothing final yet (no outcome, or only `SendInDoubt`).
 * - `accepted`: Meta took the message (`SendAccepted`, or `SendReconciled` with result `sent`)
 *   and nothing names it as failed. Final unless a later `SendFailed` phase `async` for its
 *   wamid, or a late template fallback's outcome, supersedes it.
 * - `failed`: `SendFailed` (sync: Graph refused it; async: Meta failed it after accepting it),
 *   or `SendReconciled` with result `failed`. Final.
 * - `rejected` / `expired`: refused or expired before any Graph call. Final.
 * - `deduplicated`: a repeated idempotency key; the answer is `originalRequestId`'s.
 */
export type FinalOutcome =
  | { readonly status: "pending"; readonly requestId: string; readonly inDoubt: boolean }
  | {
      readonly status: "accepted";
      readonly requestId: string;
      readonly outcome: EventOf<"SendAccepted" | "SendReconciled">;
      readonly wamid: string;
      /** The request's template fallback went instead of its free-form content. */
      readonly usedTemplateFallback: boolean;
    }
  | {
      readonly status: "failed";
      readonly requestId: string;
      readonly outcome: EventOf<"SendFailed" | "SendReconciled">;
      readonly phase: "sync" | "async";
      /** Meta's error code, when there is one (e.g. 131047, 132015, 131049). */
      readonly code: number | undefined;
      /** Whether a NEW request (a new idempotency key) may succeed; `retryHint` says why. */
      readonly retriable: boolean;
    }
  | {
      readonly status: "rejected";
      readonly requestId: string;
      readonly outcome: EventOf<"SendRejected">;
    }
  | {
      readonly status: "expired";
      readonly requestId: string;
      readonly outcome: EventOf<"SendExpired">;
    }
  | {
      readonly status: "deduplicated";
      readonly requestId: string;
      readonly outcome: EventOf<"SendDeduplicated">;
      readonly originalRequestId: string;
    };

/** True for an answer nothing can change any more (everything but `pending` and `accepted`). */
export function isSettled(final: FinalOutcome): boolean {
  return final.status !== "pending" && final.status !== "accepted";
}

type Acceptance = EventOf<"SendAccepted" | "SendReconciled">;

/**
 * The answer of request `requestId` from its outcomes, in any order and with repeats (a record
 * published again carries the same event id). Supersession goes by wamid, not by arrival order:
 * an acceptance of message W stops being the answer once a `SendFailed` async names W, or a
 * late fallback's outcome names it in `fallbackAfter`.
 */
export function finalOutcome(requestId: string, outcomes: readonly SendOutcome[]): FinalOutcome {
  const own = outcomes.filter((o) => o.data.requestId === requestId);
  const first = <T extends SendOutcome["type"]>(type: T): EventOf<T> | undefined =>
    own.find((o): o is EventOf<T> => o.type === type);
  const rejected = first("SendRejected");
  if (rejected) return { status: "rejected", requestId, outcome: rejected };
  const expired = first("SendExpired");
  if (expired) return { status: "expired", requestId, outcome: expired };
  const deduplicated = first("SendDeduplicated");
  if (deduplicated)
    return {
      status: "deduplicated",
      requestId,
      outcome: deduplicated,
      originalRequestId: deduplicated.data.originalRequestId,
    };
  // Messages named as failed, or replaced by a late fallback.
  const superseded = new Set<string>();
  for (const o of own) {
    if (o.type === "SendFailed" && o.data.phase === "async" && o.data.wamid !== undefined)
      superseded.add(o.data.wamid);
    if ((o.type === "SendAccepted" || o.type === "SendFailed") && o.data.fallbackAfter)
      superseded.add(o.data.fallbackAfter.wamid);
  }
  const failure = own.find(
    (o): o is EventOf<"SendFailed" | "SendReconciled"> =>
      o.type === "SendFailed" || (o.type === "SendReconciled" && o.data.result === "failed"),
  );
  if (failure)
    return {
      status: "failed",
      requestId,
      outcome: failure,
      phase: failure.type === "SendFailed" ? failure.data.phase : "async",
      code: failure.data.error?.code,
      retriable: failure.data.error?.retriable ?? false,
    };
  const accepted = own.filter(
    (o): o is Acceptance =>
      (o.type === "SendAccepted" || (o.type === "SendReconciled" && o.data.result === "sent")) &&
      !superseded.has(o.data.wamid),
  );
  // The latest acceptance (a fallback's, when there was one).
  const answer =
    accepted.find((o) => o.type === "SendAccepted" && o.data.fallbackAfter) ?? accepted.at(-1);
  if (answer)
    return {
      status: "accepted",
      requestId,
      outcome: answer,
      wamid: answer.data.wamid,
      usedTemplateFallback: answer.type === "SendAccepted" && answer.data.usedTemplateFallback,
    };
  return { status: "pending", requestId, inDoubt: own.some((o) => o.type === "SendInDoubt") };
}
