import { classifyErrorCode, type ErrorAction } from "@parley/cloud-api";
import type { SendErrorClass } from "@parley/contracts";
import { retryDelayMs, type RetryPolicy } from "./backoff.js";

/** What went wrong with one Graph call, as the adapter saw it (no classes, no I/O). */
export type CallFailure =
  | {
      readonly kind: "graph";
      readonly code: number;
      readonly httpStatus: number;
      readonly title?: string | undefined;
      readonly details?: string | undefined;
      readonly fbtraceId?: string | undefined;
    }
  /** No answer, or an answer cut short: `inDoubt` when the request may have reached Meta. */
  | {
      readonly kind: "transport";
      readonly inDoubt: boolean;
      readonly timeout: boolean;
      readonly message: string;
    }
  /** An answer that is not a Graph error (proxy page, empty 5xx). A 5xx POST is in doubt. */
  | { readonly kind: "unexpected"; readonly httpStatus: number; readonly message: string };

export interface SendError {
  readonly errorClass: SendErrorClass;
  readonly code?: number;
  readonly title?: string;
  readonly details?: string;
  readonly retriable: boolean;
  readonly fbtraceId?: string;
}

/** What the sender does next. Only `retry`, `throttle-number` and `pace-recipient` call Graph again. */
export type FailureDecision =
  | { readonly kind: "retry"; readonly delayMs: number; readonly error: SendError }
  | { readonly kind: "throttle-number"; readonly code: number; readonly error: SendError }
  | { readonly kind: "pace-recipient"; readonly error: SendError }
  | { readonly kind: "pause-number"; readonly error: SendError }
  | { readonly kind: "in-doubt"; readonly reason: "timeout" | "connection_lost" }
  /** Terminal SendFailed; `deadLetter` when retries ran out (an operator should look). */
  | { readonly kind: "fail"; readonly error: SendError; readonly deadLetter: boolean };

const classByCode = new Map<number, SendErrorClass>([
  [0, "authentication"],
  [190, "authentication"],
  [3, "permission"],
  [10, "permission"],
  [130429, "throughput"],
  [131056, "pair_rate_limit"],
  [4, "rate_limit"],
  [80007, "rate_limit"],
  [133016, "rate_limit"],
  [131048, "spam_limit"],
  [368, "policy"],
  [131031, "policy"],
  [100, "invalid_request"],
  [131008, "invalid_request"],
  [131009, "invalid_request"],
  [131021, "recipient"],
  [131026, "recipient"],
  [131030, "recipient"],
  [131047, "window_closed"],
  [131049, "marketing_limit"],
  [131050, "opted_out_marketing"],
  [131051, "invalid_request"],
  [131052, "media"],
  [131053, "media"],
  [1, "server"],
  [2, "server"],
  [131000, "server"],
  [131016, "server"],
  [131057, "server"],
]);

/** The outcome's error class for a Graph `error.code` (never from HTTP status or text). */
export function errorClassOf(code: number): SendErrorClass {
  const known = classByCode.get(code);
  if (known) return known;
  if (code >= 200 && code <= 299) return "permission";
  if (code >= 132000 && code <= 132999) return "template";
  return "unknown";
}

export interface FailurePolicy {
  readonly retry: RetryPolicy;
  /** Calls refused with 130429/4/80007/131057 before the request fails (each waits the number's back-off). */
  readonly maxThrottledAttempts: number;
  /** 131056 answers for one request before it fails (each waits 4^x s). */
  readonly maxPacedAttempts: number;
}

/**
 * Decides what follows a failed call. `attempt` counts this request's calls so far (this one
 * included); the action comes from @parley/cloud-api's taxonomy of `error.code` alone.
 */
export function decideFailure(
  failure: CallFailure,
  attempt: number,
  policy: FailurePolicy,
  random: () => number,
): FailureDecision {
  if (failure.kind === "transport") {
    if (failure.inDoubt)
      return { kind: "in-doubt", reason: failure.timeout ? "timeout" : "connection_lost" };
    const error: SendError = { errorClass: "network", details: failure.message, retriable: true };
    return attempt < policy.retry.maxAttempts
      ? { kind: "retry", delayMs: retryDelayMs(policy.retry, attempt, random), error }
      : { kind: "fail", error, deadLetter: true };
  }
  if (failure.kind === "unexpected") {
    if (failure.httpStatus >= 500) return { kind: "in-doubt", reason: "connection_lost" };
    return {
      kind: "fail",
      error: { errorClass: "unknown", details: failure.message.slice(0, 500), retriable: false },
      deadLetter: false,
    };
  }
  const rule = classifyErrorCode(failure.code);
  const action: ErrorAction = rule.action;
  const error: SendError = {
    errorClass: errorClassOf(failure.code),
    code: failure.code,
    ...(failure.title !== undefined ? { title: failure.title } : {}),
    ...(failure.details !== undefined ? { details: failure.details } : {}),
    retriable: action !== "permanent" && action !== "auth",
    ...(failure.fbtraceId !== undefined ? { fbtraceId: failure.fbtraceId } : {}),
  };
  switch (action) {
    case "auth":
      return { kind: "pause-number", error };
    case "throttle-number":
      return attempt < policy.maxThrottledAttempts
        ? { kind: "throttle-number", code: failure.code, error }
        : { kind: "fail", error, deadLetter: true };
    case "pace-recipient":
      return attempt < policy.maxPacedAttempts
        ? { kind: "pace-recipient", error }
        : { kind: "fail", error, deadLetter: true };
    case "retry": {
      const limit = Math.min(policy.retry.maxAttempts, 1 + (rule.maxRetries ?? Infinity));
      return attempt < limit
        ? { kind: "retry", delayMs: retryDelayMs(policy.retry, attempt, random), error }
        : { kind: "fail", error, deadLetter: true };
    }
    case "retry-later":
    case "permanent":
      return { kind: "fail", error, deadLetter: false };
  }
}
