import { buildEvent, type TopicSpec } from "@parley/contracts";
import type { EncodedEvent, EventProducer, OutgoingEvent } from "@parley/kafka";
import { recordKeyOf } from "../../webhooks/routing.js";
import {
  AppendFailedError,
  type RawWebhookAppender,
  type RawWebhookReceipt,
} from "../../webhooks/appender.js";

type Publisher = Pick<EventProducer, "encode" | "publishEncoded">;

export interface RawWebhookAppenderOptions {
  /**
   * One producer, or several to keep that many produce requests in flight at once (each
   * idempotent producer allows only one): while one batch waits for the brokers' acknowledgement,
   * the next is already on its way.
   */
  readonly producer: Publisher | readonly Publisher[];
  /** The catalog's raw-webhooks topic. */
  readonly topic: TopicSpec;
  readonly timeoutMs?: number;
  /** Most records in one produce request. */
  readonly maxBatchRecords?: number;
  /**
   * Most encoded bytes (roughly) in one produce request; a larger single record goes alone.
   * Kept well under the broker's default 1 MB record-batch limit so that small webhooks batched
   * together never fail as a whole for their combined size.
   */
  readonly maxBatchBytes?: number;
  /**
   * While one produce request is in flight, how long (ms) waiting receipts may wait for it to
   * come back (and go together in the next request) before another producer is used. 0 uses any
   * idle producer at once. Fewer, larger requests cost much less CPU per receipt.
   */
  readonly lingerMs?: number;
}

/**
 * Builds the RawWebhookReceived event of a receipt (pure; the event id is random). Not validated
 * here: the producer's serde validates it against the topic's registered contract when the
 * appender encodes it, the one check on this path.
 */
export function rawWebhookEvent(receipt: RawWebhookReceipt) {
  const { routing } = receipt;
  const firstNumber = routing.phoneNumberIds[0];
  return buildEvent(
    "RawWebhookReceived",
    {
      deliveryId: receipt.deliveryId,
      bodyBase64: receipt.body.toString("base64"),
      signature: receipt.signature,
      sizeBytes: receipt.body.length,
      phoneNumberIds: [...routing.phoneNumberIds],
      wabaIds: [...routing.wabaIds],
      ...(receipt.contentType === undefined ? {} : { contentType: receipt.contentType }),
      ...(receipt.sourceIp === undefined ? {} : { sourceIp: receipt.sourceIp }),
      ...(receipt.userAgent === undefined ? {} : { userAgent: receipt.userAgent }),
    },
    {
      correlationId: receipt.deliveryId,
      now: receipt.receivedAt,
      ...(firstNumber === undefined ? {} : { businessNumber: firstNumber }),
    },
  );
}

interface Pending {
  readonly record: OutgoingEvent;
  /** When it began waiting (performance.now()). */
  readonly since: number;
  readonly bytes: number;
  readonly succeed: () => void;
  readonly fail: (cause: unknown) => void;
}

/** The envelope, headers and registry framing around the base64 body, roughly. */
const RECORD_OVERHEAD_BYTES = 1_024;

/**
 * Appends receipts to the raw-webhooks topic through idempotent acks=all producers, by group
 * commit: each producer (a lane) has at most one produce request in flight, and the receipts
 * that arrive while every lane is busy wait and go together in the next free lane's request.
 * With a request in flight, receipts wait up to `lingerMs` for a lane already busy before another
 * one is used, so a steady rate goes in a few larger requests rather than one request each
 * (which cost several times the CPU per receipt); with no request in flight, a receipt goes at
 * once, and a full batch never lingers.
 * A receipt is answered only with its own request's outcome: success once all in-sync replicas
 * have it, AppendFailedError("rejected") when that request failed (every receipt in it fails).
 * A receipt not acknowledged within `timeoutMs` fails with AppendFailedError("timeout"): if it
 * was still waiting it is withdrawn and never sent; if it was already sent it may still land,
 * which is a duplicate the router dedupes when Meta retries.
 */
export function createRawWebhookAppender({
  producer,
  topic,
  timeoutMs = 5_000,
  maxBatchRecords = 500,
  maxBatchBytes = 512 * 1024,
  lingerMs = 1,
}: RawWebhookAppenderOptions): RawWebhookAppender {
  if (!topic.events.includes("RawWebhookReceived")) {
    throw new RangeError(
      `createRawWebhookAppender: topic ${topic.name} does not carry RawWebhookReceived; pass catalog.topic("raw-webhooks")`,
    );
  }
  for (const [name, value] of Object.entries({ timeoutMs, maxBatchRecords, maxBatchBytes })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `createRawWebhookAppender: ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  if (!Number.isFinite(lingerMs) || lingerMs < 0) {
    throw new RangeError(
      `createRawWebhookAppender: lingerMs must be a non-negative number, got ${lingerMs}`,
    );
  }
  const idleLanes: Publisher[] = "publishEncoded" in producer ? [producer] : [...producer];
  const laneCount = idleLanes.length;
  if (laneCount === 0) {
    throw new RangeError("createRawWebhookAppender: pass at least one producer");
  }
  const waiting: Pending[] = [];
  let waitingBytes = 0;
  let scheduled = false;
  let lingering: NodeJS.Timeout | undefined;

  const takeBatch = (): Pending[] => {
    const batch: Pending[] = [];
    let bytes = 0;
    while (waiting.length > 0 && batch.length < maxBatchRecords) {
      const next = waiting[0];
      if (next === undefined || (batch.length > 0 && bytes + next.bytes > maxBatchBytes)) break;
      waiting.shift();
      waitingBytes -= next.bytes;
      batch.push(next);
      bytes += next.bytes;
    }
    return batch;
  };

  const send = async (lane: Publisher, batch: readonly Pending[]): Promise<void> => {
    try {
      // Each record is validated and encoded on its own (the one contract check on this path),
      // so a record that fails it fails alone; the others go in one produce request.
      const encoded = await Promise.allSettled(batch.map((p) => lane.encode(topic, p.record)));
      const ready: { pending: Pending; record: EncodedEvent }[] = [];
      encoded.forEach((outcome, i) => {
        const pending = batch[i];
        if (pending === undefined) return;
        if (outcome.status === "fulfilled") ready.push({ pending, record: outcome.value });
        else pending.fail(outcome.reason);
      });
      try {
        await lane.publishEncoded(
          topic,
          ready.map((r) => r.record),
        );
        for (const r of ready) r.pending.succeed();
      } catch (error) {
        for (const r of ready) r.pending.fail(error);
      }
    } finally {
      idleLanes.push(lane);
      schedule();
    }
  };

  /** True when the waiting receipts should wait for a busy lane rather than take an idle one. */
  const shouldLinger = (oldest: Pending): number | undefined => {
    if (lingerMs === 0 || idleLanes.length === laneCount) return undefined;
    if (waiting.length >= maxBatchRecords || waitingBytes >= maxBatchBytes) return undefined;
    const left = oldest.since + lingerMs - performance.now();
    return left > 0 ? left : undefined;
  };

  const pump = (): void => {
    scheduled = false;
    while (waiting.length > 0) {
      if (idleLanes.length === 0) return;
      const oldest = waiting[0];
      const left = oldest === undefined ? undefined : shouldLinger(oldest);
      if (left !== undefined) {
        lingering ??= setTimeout(
          () => {
            lingering = undefined;
            pump();
          },
          Math.max(1, Math.ceil(left)),
        );
        return;
      }
      const lane = idleLanes.pop();
      if (lane === undefined) return;
      void send(lane, takeBatch());
    }
  };

  const schedule = (): void => {
    if (scheduled || waiting.length === 0 || idleLanes.length === 0) return;
    scheduled = true;
    // Lets the requests that arrive in the same turn of the event loop join the batch.
    setImmediate(pump);
  };

  return {
    async append(receipt) {
      const event = rawWebhookEvent(receipt);
      let timer: NodeJS.Timeout | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          const entry: Pending = {
            record: { key: recordKeyOf(receipt.routing), event },
            since: performance.now(),
            bytes: event.data.bodyBase64.length + RECORD_OVERHEAD_BYTES,
            succeed: resolve,
            fail: (cause: unknown) => {
              const reason = cause instanceof Error ? cause.message : "unknown error";
              reject(
                new AppendFailedError("rejected", `append to ${topic.name} failed: ${reason}`, {
                  cause,
                }),
              );
            },
          };
          timer = setTimeout(() => {
            const queued = waiting.indexOf(entry);
            if (queued >= 0) {
              waiting.splice(queued, 1);
              waitingBytes -= entry.bytes;
            }
            reject(
              new AppendFailedError(
                "timeout",
                `append to ${topic.name} not acknowledged within ${timeoutMs} ms${queued >= 0 ? " (withdrawn before sending)" : ""}`,
              ),
            );
          }, timeoutMs);
          waiting.push(entry);
          waitingBytes += entry.bytes;
          schedule();
        });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
