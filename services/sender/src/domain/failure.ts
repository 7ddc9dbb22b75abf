import { classifyErrorCode, type GraphErrorClass } from "@parley/cloud-api";
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

/**
 * The error of a SendFailed or SendReconciled outcome. `retriable`: a NEW request (a new
 * idempotency key, the same content) may succeed later without anybody fixing anything first;
 * `retryHint` says why and when (ADR 0009).
 */
export interface SendError {
  readonly errorClass: SendErrorClass;
  readonly code?: number;
  readonly title?: string;
  readonly details?: string;
  readonly retriable: boolean;
  readonly retryHint?: string;
  readonly fbtraceId?: string;
}

// The Graph error table's classes are the contract's: a class added there fails to compile here.
const sameClasses: (c: GraphErrorClass) => SendErrorClass = (c) => c;

/** The outcome error for a Graph `error.code` (sync answer or failed status), from the one table. */
export function sendErrorOf(
  code: number,
  extra: {
    title?: string | undefined;
    details?: string | undefined;
    fbtraceId?: string | undefined;
  } = {},
): SendError {
  const rule = classifyErrorCode(code);
  return {
    errorClass: sameClasses(rule.errorClass),
    code,
    ...(extra.title !== undefined ? { title: extra.title } : {}),
    ...(extra.details !== undefined ? { details: extra.details.slice(0, 1_000) } : {}),
    retriable: rule.newRequestMaySucceed,
    retryHint: rule.retryHint,
    ...(extra.fbtraceId !== undefined ? { fbtraceId: extra.fbtraceId } : {}),
  };
}

/** What the sender does next. Only `retry`, `hold-number` and `pace-recipient` call Graph again. */
export type FailureDecision =
  | { readonly kind: "retry"; readonly delayMs: number; readonly error: SendError }
  /** The whole number waits (one probe call at a time) until Graph takes sends again. */
  | { readonly kind: "hold-number"; readonly code: number; readonly error: SendError }
  | { readonly kind: "pace-recipient"; readonly error: SendError }
  | { readonly kind: "pause-number"; readonly error: SendError }
  | { readonly kind: "in-doubt"; readonly reason: "timeout" | "connection_lost" }
  /** Terminal SendFailed; `deadLetter` when retries ran out (an operator should look). */
  | { readonly kind: "fail"; readonly error: SendError; readonly deadLetter: boolean };

export interface FailurePolicy {
  readonly retry: RetryPolicy;
  /** 131056 answers for one request before it fails (each waits 4^x s). */
  readonly maxPacedAttempts: number;
}

/**
 * Decides what follows a failed call. `calls` counts this request's calls so far (this one
 * included). The action comes from the Graph error table (`@parley/cloud-api`) alone; a
 * number-level refusal (hold) is never counted against the request.
 */
export function decideFailure(
  failure: CallFailure,
  calls: number,
  policy: FailurePolicy,
  random: () => number,
): FailureDecision {
  if (failure.kind === "transport") {
    if (failure.inDoubt)
      return { kind: "in-doubt", reason: failure.timeout ? "timeout" : "connection_lost" };
    const error: SendError = {
      errorClass: "network",
      details: failure.message,
      retriable: true,
      retryHint: "Graph could not be reached (nothing was sent); a new request may succeed later",
    };
    return calls < policy.retry.maxAttempts
      ? { kind: "retry", delayMs: retryDelayMs(policy.retry, calls, random), error }
      : { kind: "fail", error, deadLetter: true };
  }
  if (failure.kind === "unexpected") {
    if (failure.httpStatus >= 500) return { kind: "in-doubt", reason: "connection_lost" };
    return {
      kind: "fail",
      error: {
        errorClass: "unknown",
        details: failure.message.slice(0, 500),
        retriable: false,
        retryHint:
          "Graph answered with something that is not a Graph error; look before sending again",
      },
      deadLetter: false,
    };
  }
  const rule = classifyErrorCode(failure.code);
  const error = sendErrorOf(failure.code, failure);
  switch (rule.action) {
    case "pause-number":
      return { kind: "pause-number", error };
    case "hold-number":
      return { kind: "hold-number", code: failure.code, error };
    case "pace-recipient":
      return calls < policy.maxPacedAttempts
        ? { kind: "pace-recipient", error }
        : { kind: "fail", error, deadLetter: true };
    case "retry": {
      const limit = Math.min(policy.retry.maxAttempts, rule.maxCalls ?? Infinity);
      return calls < limit
        ? { kind: "retry", delayMs: retryDelayMs(policy.retry, calls, random), error }
        : { kind: "fail", error, deadLetter: true };
    }
    case "fail":
      return { kind: "fail", error, deadLetter: false };
  }
}
