import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { reconcileResult } from "../domain/attempt.js";
import { errorClassOf } from "../domain/failure.js";
import type { AttemptStore, StoredAttempt } from "../adapters/store/attempt-store.js";

export interface ReconcileDeps {
  readonly attempts: AttemptStore;
  readonly publish: (events: readonly AnyEvent[]) => Promise<void>;
  readonly clock: () => number;
  readonly onOutcome?: (type: string) => void;
}

const requestEnvelope = (a: StoredAttempt): EventOf<"SendInDoubt"> | undefined => {
  for (const o of a.outcomes) if (o.type === "SendInDoubt") return o;
  return undefined;
};

/**
 * Resolves in-doubt requests: a status webhook echoing the request id in
 * biz_opaque_callback_data gives SendReconciled; none within the timeout gives SendFailed.
 */
export function createReconciler({ attempts, publish, clock, onOutcome }: ReconcileDeps) {
  const settle = async (a: StoredAttempt, event: AnyEvent): Promise<void> => {
    if (await attempts.resolveInDoubt(a.requestId, event)) {
      await publish([event]);
      onOutcome?.(event.type);
    }
  };

  /** A StatusUpdated from the statuses topic (only in-doubt requests are touched). */
  const status = async (event: EventOf<"StatusUpdated">): Promise<void> => {
    const requestId = event.data.bizOpaqueCallbackData;
    if (requestId === undefined) return;
    const a = await attempts.get(requestId);
    if (a?.state === "done" && a.outcomes[0]?.type === "SendInDoubt" && a.outcomes.length > 1) {
      // Resolved before a crash cut the publish short: publish the same event again.
      await publish(a.outcomes.slice(1));
      return;
    }
    if (a?.state === "calling") {
      // The call's result is not recorded (in flight, or its sender died): keep the status, so
      // that marking the request in doubt later resolves it at once. The note is made first
      // and the state read again, so a doubt recorded meanwhile is not missed.
      const now = await attempts.noteStatus(requestId, event);
      if (now?.state === "in_doubt") await status(event);
      return;
    }
    if (a?.state !== "in_doubt") return;
    const doubt = requestEnvelope(a);
    if (!doubt) return;
    const result = reconcileResult(event.data.status);
    const firstError = event.data.errors?.[0];
    const reconciled = createEvent(
      "SendReconciled",
      {
        requestId: doubt.data.requestId,
        idempotencyKey: doubt.data.idempotencyKey,
        contactId: doubt.data.contactId,
        ...(doubt.data.consentEventId === undefined
          ? {}
          : { consentEventId: doubt.data.consentEventId }),
        wamid: event.data.wamid,
        status: event.data.status,
        result,
        ...(result === "failed" && firstError
          ? {
              error: {
                errorClass: errorClassOf(firstError.code),
                code: firstError.code,
                ...(firstError.title !== undefined ? { title: firstError.title } : {}),
                retriable: false,
              },
            }
          : {}),
      },
      {
        correlationId: doubt.correlationId,
        causationId: event.eventId,
        ...(doubt.businessNumber !== undefined ? { businessNumber: doubt.businessNumber } : {}),
        now: new Date(clock()),
      },
    );
    await settle(a, reconciled);
  };

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
        const doubt = requestEnvelope(a);
        if (!doubt) continue;
        const failed = createEvent(
          "SendFailed",
          {
            requestId: doubt.data.requestId,
            idempotencyKey: doubt.data.idempotencyKey,
            contactId: doubt.data.contactId,
            ...(doubt.data.consentEventId === undefined
              ? {}
              : { consentEventId: doubt.data.consentEventId }),
            error: {
              errorClass: "unknown",
              details: `in doubt since ${doubt.data.attemptedAt} (${doubt.data.reason}) and no status webhook within ${Math.round(timeoutMs / 1000)} s; not resent`,
              retriable: false,
            },
            phase: "sync",
            attempts: a.calls,
          },
          {
            correlationId: doubt.correlationId,
            causationId: doubt.eventId,
            ...(doubt.businessNumber !== undefined ? { businessNumber: doubt.businessNumber } : {}),
            now: new Date(clock()),
          },
        );
        await settle(a, failed);
      }
      return stale.length;
    },
  };
}
