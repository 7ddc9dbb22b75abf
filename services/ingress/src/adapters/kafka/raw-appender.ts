import { buildEvent, type TopicSpec } from "@parley/contracts";
import type { EncodedEvent, EventProducer, OutgoingEvent } from "@parley/kafka";
import { recordKeyOf, type Routing } from "../../webhooks/routing.js";
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
  /**
   * The catalog's two raw topics, one per lane (ADR 0004, "Two raw lanes"): raw-webhooks, and
   * raw-status-webhooks for webhooks of receipts only.
   */
  readonly topics: { readonly webhooks: TopicSpec; readonly statuses: TopicSpec };
  /**
   * Whether receipts-only webhooks take their own lane (default true). Off, every webhook goes to
   * raw-webhooks: for a router older than the lane, until it is upgraded (`WEBHOOK_STATUS_LANE`).
   */
  readonly statusLane?: boolean;
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
 * Builds the raw event of a receipt for its lane: RawWebhookReceived, or RawStatusWebhookReceived
 * for a webhook of receipts only (pure; the event id is random). Not validated here: the
 * producer's serde validates it against the topic's registered contract when the appender
 * encodes it, the one check on this path.
 */
export function rawWebhookEvent(
  receipt: RawWebhookReceipt,
  lane: Routing["lane"] = receipt.routing.lane,
) {
  const { routing } = receipt;
  const firstNumber = routing.phoneNumberIds[0];
  return buildEvent(
    lane === "statuses" ? "RawStatusWebhookReceived" : "RawWebhookReceived",
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
  readonly topic: TopicSpec;
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
  topics,
  statusLane = true,
  timeoutMs = 5_000,
  maxBatchRecords = 500,
  maxBatchBytes = 512 * 1024,
  lingerMs = 1,
}: RawWebhookAppenderOptions): RawWebhookAppender {
  for (const [lane, type, id] of [
    ["webhooks", "RawWebhookReceived", "raw-webhooks"],
    ["statuses", "RawStatusWebhookReceived", "raw-status-webhooks"],
  ] as const) {
    const topic = topics[lane];
    if (!(topic.events as readonly string[]).includes(type)) {
      throw new RangeError(
        `createRawWebhookAppender: topics.${lane} (${topic.name}) does not carry ${type}; pass catalog.topic("${id}")`,
      );
    }
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
    let settled: { readonly pending: readonly Pending[]; readonly failure?: { cause: unknown } }[] =
      [];
    try {
      // Each record is validated and encoded on its own (the one contract check on this path),
      // so a record that fails it fails alone; the others go in one produce request (the
      // producer's batcher joins the two lanes' calls made in the same turn).
      const encoded = await Promise.allSettled(batch.map((p) => lane.encode(p.topic, p.record)));
      const ready = new Map<TopicSpec, { pending: Pending[]; records: EncodedEvent[] }>();
      encoded.forEach((outcome, i) => {
        const pending = batch[i];
        if (pending === undefined) return;
        if (outcome.status === "rejected") {
          pending.fail(outcome.reason);
          return;
        }
        const group = ready.get(pending.topic) ?? { pending: [], records: [] };
        ready.set(pending.topic, group);
        group.pending.push(pending);
        group.records.push(outcome.value);
      });
      settled = await Promise.all(
        [...ready].map(([topic, group]) =>
          lane.publishEncoded(topic, group.records).then(
            () => ({ pending: group.pending }),
            (cause: unknown) => ({ pending: group.pending, failure: { cause } }),
          ),
        ),
      );
    } finally {
      // The lane is free before its receipts are answered, so the next batch is on its way.
      idleLanes.push(lane);
      schedule();
    }
    for (const { pending, failure } of settled) {
      for (const p of pending) {
        if (failure === undefined) p.succeed();
        else p.fail(failure.cause);
      }
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
      const lane = statusLane ? receipt.routing.lane : "webhooks";
      const event = rawWebhookEvent(receipt, lane);
      const topic = lane === "statuses" ? topics.statuses : topics.webhooks;
      let timer: NodeJS.Timeout | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          const entry: Pending = {
            topic,
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
