import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { sendErrorOf } from "../domain/failure.js";
import type { AttemptStore, StoredAttempt } from "../domain/ports.js";
import { decideStatus, type StatusRecord } from "../domain/status.js";
import { sleep } from "./sleep.js";

export interface ReconcileDeps {
  readonly attempts: AttemptStore;
  readonly publish: (events: readonly AnyEvent[]) => Promise<void>;
  readonly clock: () => number;
  readonly onOutcome?: (type: string) => void;
  /** How long a status waits for a call still out to record its result (the call's bound). */
  readonly callBoundMs?: number;
  readonly logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
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
 */
export function createReconciler({
  attempts,
  publish,
  clock,
  onOutcome,
  callBoundMs = 15_000,
  logger,
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

  const published = async (event: AnyEvent): Promise<void> => {
    await publish([event]);
    onOutcome?.(event.type);
  };

  /** A StatusUpdated from the statuses topic (a request id in biz_opaque_callback_data, or a wamid). */
  async function status(event: EventOf<"StatusUpdated">, signal?: AbortSignal): Promise<void> {
    const requestId = event.data.bizOpaqueCallbackData;
    let a =
      requestId !== undefined
        ? await attempts.get(requestId)
        : event.data.status === "failed"
          ? await attempts.byWamid(event.data.wamid)
          : undefined;
    if (a === undefined) return;
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
        return republish(a, event);
      case "reconcile":
        return reconcile(a, event, decision.result);
      case "fail-async":
        return failAsync(a, event);
      case "fallback":
        return fallback(a, event);
    }
  }

  /** The same status again after a crash cut its publish short: the same events, same ids. */
  async function republish(a: StoredAttempt, event: EventOf<"StatusUpdated">): Promise<void> {
    if (
      a.state === "claimed" &&
      a.lateFallback &&
      a.dispatch?.eventId === a.lateFallback.dispatchId
    )
      await publish([a.dispatch]);
    else {
      const last = a.outcomes.at(-1);
      if (last?.causationId === event.eventId) await publish([last]);
    }
  }

  async function reconcile(
    a: StoredAttempt,
    event: EventOf<"StatusUpdated">,
    result: "sent" | "failed",
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
    if (await attempts.resolveInDoubt(a.requestId, reconciled, event.data.wamid))
      await published(reconciled);
  }

  async function failAsync(a: StoredAttempt, event: EventOf<"StatusUpdated">): Promise<void> {
    const first = envelopeOf(a);
    if (!first) return;
    const error = event.data.errors?.[0];
    const lf = a.lateFallback;
    const failed = createEvent(
      "SendFailed",
      {
        ...identity(first),
        error:
          error === undefined
            ? {
                errorClass: "unknown",
                retriable: false,
                retryHint: "Meta reported the message failed without an error code",
              }
            : sendErrorOf(error.code, {
                title: error.title,
                details: error.details ?? error.message,
              }),
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
    if (await attempts.failAsync(a.requestId, event.data.wamid, failed, event.eventId)) {
      logger?.warn(
        { requestId: a.requestId, businessNumber: a.number, code: error?.code },
        "Meta failed an accepted message: SendFailed (async) is the request's outcome",
      );
      await published(failed);
    }
  }

  async function fallback(a: StoredAttempt, event: EventOf<"StatusUpdated">): Promise<void> {
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
    if (await attempts.oweFallback(a.requestId, event.data.wamid, owed, dispatch, event.eventId)) {
      logger?.info(
        { requestId: a.requestId, businessNumber: a.number },
        "Meta failed a free-form message with 131047: its template fallback goes once instead",
      );
      await publish([dispatch]);
    }
  }

  return {
    status,

    /** Resolves a request just marked in doubt from a status webhook that came first, if any. */
    async settlePending(requestId: string): Promise<void> {
      const a = await attempts.get(requestId);
      if (a?.state === "in_doubt" && a.pendingStatus) await status(a.pendingStatus);
    },

    /** In-doubt requests with no status after `timeoutMs` fail as unknown. */
    async sweep(timeoutMs: number, limit = 500): Promise<number> {
      const stale = await attempts.inDoubtBefore(new Date(clock() - timeoutMs), limit);
      for (const a of stale) {
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
        if (await attempts.resolveInDoubt(a.requestId, failed, a.wamid ?? ""))
          await published(failed);
      }
      return stale.length;
    },
  };
}
