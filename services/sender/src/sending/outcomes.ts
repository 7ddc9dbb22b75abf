import type { SendResult } from "@parley/cloud-api";
import { createEvent, type EventData, type EventOf } from "@parley/contracts";
import type { LateFallback } from "../domain/attempt.js";
import type { NoCallOutcome } from "../domain/dispatch.js";
import type { SentTemplate, StoredAttempt } from "../domain/ports.js";
import { sendErrorOf, type SendError } from "../domain/failure.js";

export type Outcome = EventOf<
  "SendAccepted" | "SendRejected" | "SendFailed" | "SendExpired" | "SendInDoubt" | "SendReconciled"
>;

/**
 * The template a template error names (132015 paused, 132016 disabled, ...): the dispatch's
 * template, or its template fallback when that is what went (a late fallback), so whoever sent it
 * can tell which template Meta stopped. Nothing for other failures or free-form messages.
 */
export function failedTemplateOf(
  error: SendError,
  dispatch: EventOf<"DispatchMessage">["data"] | undefined,
  lateFallback: boolean,
): { template?: SentTemplate } {
  if (error.errorClass !== "template" || dispatch === undefined) return {};
  const t =
    dispatch.content.type === "template"
      ? dispatch.content.template
      : lateFallback
        ? dispatch.templateFallback
        : undefined;
  return t === undefined ? {} : { template: { name: t.name, language: t.language.code } };
}

/** The template a dispatch sends (its content), as the attempt record keeps it. */
export function sentTemplateOf(dispatch: EventOf<"DispatchMessage">["data"]): {
  template?: SentTemplate;
} {
  if (dispatch.content.type !== "template") return {};
  const t = dispatch.content.template;
  return { template: { name: t.name, language: t.language.code } };
}

/**
 * The template an async failure names (a failed status after Meta accepted the send): from the
 * kept dispatch when there is one (a late fallback may be what went), else the template the
 * attempt record kept at the claim. Nothing for other failures or free-form messages.
 */
export function failedTemplateOfAttempt(
  error: SendError,
  attempt: Pick<StoredAttempt, "dispatch" | "template">,
  lateFallback: boolean,
): { template?: SentTemplate } {
  if (attempt.dispatch !== undefined)
    return failedTemplateOf(error, attempt.dispatch.data, lateFallback);
  if (error.errorClass !== "template" || attempt.template === undefined || lateFallback) return {};
  return { template: attempt.template };
}

/**
 * The outcome events of one dispatch: each names its request (id, idempotency key, contact, the
 * consent event the router relied on) and is caused by the dispatch.
 */
export function outcomesOf(dispatch: EventOf<"DispatchMessage">, now: () => number) {
  const d = dispatch.data;
  const outcome = <T extends Outcome["type"]>(
    type: T,
    extra: Omit<EventData<T>, "requestId" | "idempotencyKey" | "contactId">,
  ): EventOf<T> =>
    createEvent(
      type,
      {
        requestId: d.requestId,
        idempotencyKey: d.idempotencyKey,
        contactId: d.contactId,
        ...(d.consentEventId === undefined ? {} : { consentEventId: d.consentEventId }),
        ...extra,
      } as EventData<T>,
      {
        correlationId: dispatch.correlationId,
        causationId: dispatch.eventId,
        ...(dispatch.businessNumber !== undefined
          ? { businessNumber: dispatch.businessNumber }
          : {}),
        now: new Date(now()),
      },
    );

  /** A late fallback's outcomes name the free-form message Meta failed. */
  const fallbackAfter = (lf: LateFallback | undefined) =>
    lf
      ? {
          fallbackAfter: {
            wamid: lf.failedWamid,
            code: lf.code,
            ...(lf.title !== undefined ? { title: lf.title } : {}),
          },
        }
      : {};

  return {
    /** A request finished without a call (rejected, expired, or a late fallback that may not go). */
    noCall(o: NoCallOutcome, lf: LateFallback | undefined, calls: number): Outcome {
      switch (o.type) {
        case "SendRejected":
          return outcome("SendRejected", { reason: o.reason, detail: o.detail });
        case "SendExpired":
          return outcome("SendExpired", { validUntil: d.validUntil ?? "", stage: "sender" });
        case "SendFailed":
          if (o.error === "media")
            return outcome("SendFailed", {
              error: {
                errorClass: "media",
                title: "media not sent",
                details: o.detail.slice(0, 1_000),
                retriable: false,
                retryHint:
                  "upload the file again (or fix the media service's configuration) and send a new request",
              },
              phase: "sync",
              attempts: calls,
            });
          // The request ends on its free-form message's failure, saying why no fallback went.
          {
            const error = sendErrorOf(lf?.code ?? 131047, { title: lf?.title, details: o.detail });
            return outcome("SendFailed", {
              error,
              phase: "async",
              ...(lf ? { wamid: lf.failedWamid } : {}),
              attempts: calls,
              ...failedTemplateOf(error, d, false),
            });
          }
      }
    },
    accepted(r: SendResult, calls: number, lf: LateFallback | undefined) {
      return outcome("SendAccepted", {
        wamid: r.wamid,
        ...(r.waId !== undefined ? { waId: r.waId } : {}),
        ...(r.messageStatus !== undefined ? { messageStatus: r.messageStatus } : {}),
        usedTemplateFallback: d.usedTemplateFallback,
        attempts: calls,
        ...fallbackAfter(lf),
      });
    },
    failed(error: SendError, calls: number, lf: LateFallback | undefined) {
      return outcome("SendFailed", {
        error,
        phase: "sync",
        attempts: calls,
        ...fallbackAfter(lf),
        ...failedTemplateOf(error, d, lf !== undefined),
      });
    },
    inDoubt(reason: "timeout" | "connection_lost" | "crash_recovery", calledAt: number) {
      return outcome("SendInDoubt", {
        bizOpaqueCallbackData: d.bizOpaqueCallbackData,
        reason,
        attemptedAt: new Date(calledAt).toISOString(),
      });
    },
  };
}
