import type { EventOf } from "@parley/contracts";
import { requestFingerprint, sendRequestedEvent, type SendRequestData } from "./request.js";
import { StoreUnavailableError, type SendRecord, type SendRecordStore } from "./store.js";

/** What the use case reports: how long each publish took, and how it ended (metrics.ts implements it). */
export interface AcceptObserver {
  readonly publishSeconds: {
    startTimer(): (labels: { result: "ok" | "failed" }) => number;
  };
}

/** Appends one SendRequested to the contact-keyed send-requests topic; resolves on acks=all. */
export type PublishSendRequested = (event: EventOf<"SendRequested">) => Promise<void>;

export type AcceptResult =
  /** A new request: stored, then published (answered 202). */
  | { readonly kind: "accepted"; readonly record: SendRecord }
  /** The key was used before with the same request: the original (answered 200). */
  | { readonly kind: "replayed"; readonly record: SendRecord }
  /** The key was used before with a different request (409). */
  | { readonly kind: "conflict"; readonly requestId: string }
  /** MongoDB or Kafka could not take it; a retry with the same key is safe (503). */
  | {
      readonly kind: "unavailable";
      readonly dependency: "store" | "kafka";
      readonly detail: string;
      readonly cause: unknown;
      /** When the key is stored (Kafka failed): the id a retry with the key will return. */
      readonly requestId?: string;
    };

export interface AcceptSendOptions {
  readonly store: SendRecordStore;
  readonly publish: PublishSendRequested;
  readonly metrics: AcceptObserver;
  readonly publishTimeoutMs?: number;
  readonly now?: () => Date;
  readonly newId?: () => string;
  readonly onBackgroundError?: (error: unknown, record: SendRecord) => void;
}

export type AcceptSend = (input: {
  readonly principal: string;
  readonly data: SendRequestData;
}) => Promise<AcceptResult>;

/**
 * The send API's one use case. The key→request mapping (with the exact event) is stored before
 * anything is published, so after a failed publish or a crash in between, a retry with the same
 * key re-publishes the same event (same eventId and requestId): harmless, since the router
 * dedupes on the idempotency key. Once an event was acknowledged, a repeat publishes nothing.
 */
export function createAcceptSend({
  store,
  publish,
  metrics,
  publishTimeoutMs = 5_000,
  now = () => new Date(),
  newId = () => globalThis.crypto.randomUUID(),
  onBackgroundError = () => undefined,
}: AcceptSendOptions): AcceptSend {
  if (!Number.isInteger(publishTimeoutMs) || publishTimeoutMs < 1) {
    throw new RangeError(`createAcceptSend: publishTimeoutMs must be a positive integer`);
  }

  /** Publishes in flight by `<principal>/<key>`: a retry joins one rather than adding a copy. */
  const inFlight = new Map<string, Promise<void>>();
  const keyOf = (record: SendRecord): string => `${record.principal}/${record.idempotencyKey}`;

  const startPublish = (record: SendRecord): Promise<void> => {
    const id = keyOf(record);
    const running = inFlight.get(id);
    if (running !== undefined) return running;
    const event = JSON.parse(record.eventJson) as EventOf<"SendRequested">;
    const stopTimer = metrics.publishSeconds.startTimer();
    const publishing = publish(event).then(
      async () => {
        stopTimer({ result: "ok" });
        await store
          .markPublished(record.principal, record.idempotencyKey, now())
          .catch((error: unknown) => {
            onBackgroundError(error, record);
          });
      },
      (error: unknown) => {
        stopTimer({ result: "failed" });
        throw error;
      },
    );
    inFlight.set(id, publishing);
    // A late failure of a publish nobody waits for any more has nobody left to tell.
    publishing
      .finally(() => {
        inFlight.delete(id);
      })
      .catch(() => undefined);
    return publishing;
  };

  /**
   * Publishes within the timeout. A publish that lands later is still recorded as published;
   * until it settles, a retry of the key waits for it instead of publishing a second copy.
   */
  const publishRecord = async (record: SendRecord): Promise<AcceptResult | undefined> => {
    const publishing = startPublish(record);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        publishing,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            reject(new Error(`not acknowledged within ${publishTimeoutMs} ms`));
          }, publishTimeoutMs);
        }),
      ]);
      return undefined;
    } catch (error) {
      return {
        kind: "unavailable",
        dependency: "kafka",
        requestId: record.requestId,
        detail: `Kafka did not acknowledge request ${record.requestId} (${error instanceof Error ? error.message : String(error)}); retry with the same Idempotency-Key`,
        cause: error,
      };
    } finally {
      clearTimeout(timer);
    }
  };

  /**
   * The store said "not published yet", but a publish of the key in this process may have been
   * acknowledged and recorded since it answered: its in-flight entry goes only after the record
   * is marked, so with none in flight the record is read again before publishing a second copy.
   * (A publish by another instance in that gap still repeats the event, with the same ids.)
   */
  const reread = async (existing: SendRecord): Promise<SendRecord> => {
    if (inFlight.has(keyOf(existing))) return existing;
    const latest = await store
      .findByRequestId(existing.principal, existing.requestId)
      .catch(() => undefined);
    return latest ?? existing;
  };

  return async ({ principal, data }) => {
    const requestId = newId();
    const at = now();
    const event = sendRequestedEvent(data, { requestId, eventId: newId(), now: at });
    const record: SendRecord = {
      principal,
      idempotencyKey: data.idempotencyKey,
      requestId,
      eventId: event.eventId,
      fingerprint: requestFingerprint(data),
      contactId: data.contactId,
      requester: data.requester ?? principal,
      eventJson: JSON.stringify(event),
      acceptedAt: at,
    };
    let claim;
    try {
      claim = await store.claim(record);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      return {
        kind: "unavailable",
        dependency: "store",
        detail: "the idempotency store is not answering; nothing was published, retry",
        cause: error,
      };
    }
    if (claim.claimed) return (await publishRecord(record)) ?? { kind: "accepted", record };
    const { existing } = claim;
    if (existing.fingerprint !== record.fingerprint) {
      return { kind: "conflict", requestId: existing.requestId };
    }
    const latest = existing.publishedAt === undefined ? await reread(existing) : existing;
    if (latest.publishedAt === undefined) {
      const failed = await publishRecord(latest);
      if (failed !== undefined) return failed;
    }
    return { kind: "replayed", record: latest };
  };
}
