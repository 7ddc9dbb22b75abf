import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { sendErrorOf, type SendError } from "../domain/failure.js";
import { failedTemplateOfAttempt } from "./outcomes.js";
import {
  OUTBOX,
  type AttemptStore,
  type OutcomeOutlet,
  type StoredAttempt,
} from "../domain/ports.js";
import { decideStatus, type StatusRecord } from "../domain/status.js";
import { sleep } from "@parley/errors";

export interface ReconcileDeps {
  readonly attempts: AttemptStore;
  readonly clock: () => number;
  readonly onOutcome?: (type: string) => void;
  /** How long a status waits for a call still out to record its result (the call's bound). */
  readonly callBoundMs?: number;
  readonly logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** Links the running status's processing to the send's trace (its stored traceparent). */
  readonly linkToSend?: (traceparent: string | undefined, requestId: string) => void;
  /** The age of the oldest request still in doubt after a sweep, in seconds (0: none). */
  readonly onInDoubtAge?: (seconds: number) => void;
}

type Envelope = EventOf<"SendAccepted" | "SendInDoubt" | "SendFailed" | "SendReconciled">;

/** The request's identity, from the first outcome that carries it. */
const envelopeOf = (a: StoredAttempt): Envelope | undefined => {
  for (const o of a.outcomes)
    if (
      o.type === "SendAccepted" ||
      o.type === "SendInDoubt" ||
      o.type === "SendReconciled" ||
      o.type === "SendFailed"
    )
      return o;
  return undefined;
};

const recordOf = (a: StoredAttempt): StatusRecord => ({
  state: a.state,
  wamid: a.wamid,
  decidedByStatus: a.decidedByStatus,
  lateFallback: a.lateFallback,
  fallbackPossible:
    a.dispatch !== undefined &&
    a.dispatch.data.content.type !== "template" &&
    a.dispatch.data.templateFallback !== undefined,
  lastOutcomeCause: a.outcomes.at(-1)?.causationId ?? undefined,
});

/**
 * What Meta says after a call, from the statuses topic: a status naming a request in doubt
 * resolves it (SendReconciled); a `failed` status of a request's accepted message becomes its
 * final word (SendFailed phase async), or, for a free-form message Meta failed with 131047 and a
 * request with a template fallback, a DispatchMessage for the fallback (sent once, by the
 * number's owner, through the same gates). With no status after the in-doubt timeout, SendFailed.
 * What it decides is stored with the outlet's origin and handed to that outlet: the status
 * record's transaction, the dispatch record's (a status that came before the call's result), or
 * the outbox (the timeout sweep).
 */
export function createReconciler({
  attempts,
  clock,
  onOutcome,
  callBoundMs = 15_000,
  logger,
  linkToSend,
  onInDoubtAge,
}: ReconcileDeps) {
  const identity = (doubt: Envelope) => ({
    requestId: doubt.data.requestId,
    idempotencyKey: doubt.data.idempotencyKey,
    contactId: doubt.data.contactId,
    ...(doubt.data.consentEventId === undefined
      ? {}
      : { consentEventId: doubt.data.consentEventId }),
  });
  const meta = (doubt: Envelope, causationId: string) => ({
    correlationId: doubt.correlationId,
    causationId,
    ...(doubt.businessNumber !== undefined ? { businessNumber: doubt.businessNumber } : {}),
    now: new Date(clock()),
  });

  const published = async (outlet: OutcomeOutlet, requestId: string, event: AnyEvent) => {
    await outlet.publish(requestId, [event]);
    onOutcome?.(event.type);
  };

  /** A StatusUpdated from the statuses topic (a request id in biz_opaque_callback_data, or a wamid). */
  async function status(
    event: EventOf<"StatusUpdated">,
    outlet: OutcomeOutlet,
    signal?: AbortSignal,
  ): Promise<void> {
    const requestId = event.data.bizOpaqueCallbackData;
    let a =
      requestId !== undefined
        ? await attempts.get(requestId)
        : event.data.status === "failed"
          ? await attempts.byWamid(event.data.wamid)
          : undefined;
    if (a === undefined) return;
    // This status's processing (its webhook's trace) links to the send's trace (invariant 12).
    linkToSend?.(a.traceparent, a.requestId);
    const facts = {
      statusId: event.eventId,
      wamid: event.data.wamid,
      status: event.data.status,
      code: event.data.errors?.[0]?.code,
    };
    let decision = decideStatus(recordOf(a), facts);
    if (decision.kind === "note") {
      // The call's result is not recorded (in flight, or its sender died): keep the status, so
      // that marking the request in doubt later resolves it at once; then wait a little for
      // the result, which a failed status applies to.
      a = (await attempts.noteStatus(a.requestId, event)) ?? a;
      const until = (a.calledAt ?? clock()) + callBoundMs;
      while (a.state === "calling" && clock() < until) {
        if (!(await sleep(100, signal))) return;
        const again = await attempts.get(a.requestId);
        if (again === undefined) return;
        a = again;
      }
      if (a.state === "calling") return;
      decision = decideStatus(recordOf(a), facts);
      if (decision.kind === "note") return;
    }
    switch (decision.kind) {
      case "ignore":
        return;
      case "republish":
        return republish(a, event, outlet);
      case "reconcile":
        return reconcile(a, event, decision.result, outlet);
      case "fail-async":
        return failAsync(a, event, outlet);
      case "fallback":
        return fallback(a, event, outlet);
    }
  }

  /**
   * The status that decided comes again: the same events, same ids, but only from the record
   * that decided (its transaction did not commit, or it would not have come again); the same
   * status in another record (an event emitted twice) publishes nothing.
   */
  async function republish(
    a: StoredAttempt,
    event: EventOf<"StatusUpdated">,
    outlet: OutcomeOutlet,
  ): Promise<void> {
    const ours = (id: string): boolean => {
      const from = a.origins.get(id);
      return outlet.origin !== OUTBOX && (from === undefined || from === outlet.origin);
    };
    if (
      a.state === "claimed" &&
      a.lateFallback &&
      a.dispatch?.eventId === a.lateFallback.dispatchId
    ) {
      if (ours(a.dispatch.eventId)) await outlet.publish(a.requestId, [a.dispatch]);
    } else {
      const last = a.outcomes.at(-1);
      if (last?.causationId === event.eventId && ours(last.eventId))
        await outlet.publish(a.requestId, [last]);
    }
  }

  async function reconcile(
    a: StoredAttempt,
    event: EventOf<"StatusUpdated">,
    result: "sent" | "failed",
    outlet: OutcomeOutlet,
  ): Promise<void> {
    const doubt = envelopeOf(a);
    if (!doubt) return;
    const firstError = event.data.errors?.[0];
    const reconciled = createEvent(
      "SendReconciled",
      {
        ...identity(doubt),
        wamid: event.data.wamid,
        status: event.data.status,
        result,
        ...(result === "failed" && firstError
          ? {
              error: sendErrorOf(firstError.code, {
                title: firstError.title,
                details: firstError.details ?? firstError.message,
              }),
            }
          : {}),
      },
      meta(doubt, event.eventId),
    );
    if (await attempts.resolveInDoubt(a.requestId, reconciled, event.data.wamid, outlet.origin))
      await published(outlet, a.requestId, reconciled);
  }

  async function failAsync(
    a: StoredAttempt,
    event: EventOf<"StatusUpdated">,
    outlet: OutcomeOutlet,
  ): Promise<void> {
    const first = envelopeOf(a);
    if (!first) return;
    const error = event.data.errors?.[0];
    const lf = a.lateFallback;
    const failure: SendError =
      error === undefined
        ? {
            errorClass: "unknown",
            retriable: false,
            retryHint: "Meta reported the message failed without an error code",
          }
        : sendErrorOf(error.code, {
            title: error.title,
            details: error.details ?? error.message,
          });
    const failed = createEvent(
      "SendFailed",
      {
        ...identity(first),
        error: failure,
        ...failedTemplateOfAttempt(failure, a, lf !== undefined),
        phase: "async",
        wamid: event.data.wamid,
        statusAt: event.occurredAt,
        attempts: a.calls,
        ...(lf
          ? {
              fallbackAfter: {
                wamid: lf.failedWamid,
                code: lf.code,
                ...(lf.title !== undefined ? { title: lf.title } : {}),
              },
            }
          : {}),
      },
      meta(first, event.eventId),
    );
    if (
      await attempts.failAsync(a.requestId, event.data.wamid, failed, event.eventId, outlet.origin)
    ) {
      logger?.warn(
        { requestId: a.requestId, businessNumber: a.number, code: error?.code },
        "Meta failed an accepted message: SendFailed (async) is the request's outcome",
      );
      await published(outlet, a.requestId, failed);
    }
  }

  async function fallback(
    a: StoredAttempt,
    event: EventOf<"StatusUpdated">,
    outlet: OutcomeOutlet,
  ): Promise<void> {
    const original = a.dispatch;
    const template = original?.data.templateFallback;
    if (!original || !template) return;
    const error = event.data.errors?.[0];
    const { templateFallback: _sent, ...data } = original.data;
    const dispatch = createEvent(
      "DispatchMessage",
      {
        ...data,
        content: { type: "template", template },
        usedTemplateFallback: true,
      },
      {
        correlationId: original.correlationId,
        causationId: event.eventId,
        ...(original.businessNumber !== undefined
          ? { businessNumber: original.businessNumber }
          : {}),
        now: new Date(clock()),
      },
    );
    const owed = {
      dispatchId: dispatch.eventId,
      failedWamid: event.data.wamid,
      code: error?.code ?? 131047,
      ...(error?.title !== undefined ? { title: error.title } : {}),
    };
    if (
      await attempts.oweFallback(
        a.requestId,
        event.data.wamid,
        owed,
        dispatch,
        event.eventId,
        outlet.origin,
      )
    ) {
      logger?.info(
        { requestId: a.requestId, businessNumber: a.number },
        "Meta failed a free-form message with 131047: its template fallback goes once instead",
      );
      await outlet.publish(a.requestId, [dispatch]);
    }
  }

  return {
    status,

    /** Resolves a request just marked in doubt from a status webhook that came first, if any. */
    async settlePending(requestId: string, outlet: OutcomeOutlet): Promise<void> {
      const a = await attempts.get(requestId);
      if (a?.state === "in_doubt" && a.pendingStatus) await status(a.pendingStatus, outlet);
    },

    /**
     * In-doubt requests with no status after `timeoutMs` fail as unknown, through the outlet
     * `outletOf` gives (the outbox of the number's dispatch partition, if this instance owns it;
     * undefined: another instance's to sweep).
     */
    async sweep(
      timeoutMs: number,
      outletOf: (a: StoredAttempt) => OutcomeOutlet | undefined,
      limit = 500,
    ): Promise<number> {
      const stale = await attempts.inDoubtBefore(new Date(clock() - timeoutMs), limit);
      for (const a of stale) {
        const outlet = outletOf(a);
        if (outlet === undefined) continue;
        const doubt = a.outcomes.findLast((o) => o.type === "SendInDoubt");
        if (doubt?.type !== "SendInDoubt") continue;
        const failed = createEvent(
          "SendFailed",
          {
            ...identity(doubt),
            error: {
              errorClass: "unknown",
              details: `in doubt since ${doubt.data.attemptedAt} (${doubt.data.reason}) and no status webhook within ${String(Math.round(timeoutMs / 1000))} s; not resent`,
              retriable: true,
              retryHint:
                "nobody knows whether Meta got the message: a new request may send it a second time",
            },
            phase: "sync",
            attempts: a.calls,
          },
          meta(doubt, doubt.eventId),
        );
        if (await attempts.resolveInDoubt(a.requestId, failed, a.wamid ?? "", outlet.origin))
          await published(outlet, a.requestId, failed);
      }
      // What is still in doubt once the timed-out ones failed (the alert's gauge).
      const oldest = await attempts.oldestInDoubt();
      onInDoubtAge?.(oldest === undefined ? 0 : Math.max(0, (clock() - oldest.getTime()) / 1_000));
      return stale.length;
    },
  };
}
