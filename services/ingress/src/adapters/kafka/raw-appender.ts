import { createEvent, type TopicSpec } from "@parley/contracts";
import type { EventProducer } from "@parley/kafka";
import { recordKeyOf, type Routing } from "../../domain/routing.js";

/** One signed webhook POST as received: what goes on the raw topic. */
export interface RawWebhookReceipt {
  readonly deliveryId: string;
  readonly body: Buffer;
  readonly signature: string;
  readonly receivedAt: Date;
  readonly contentType?: string | undefined;
  readonly sourceIp?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly routing: Routing;
}

/** The port the HTTP adapter appends through; resolves only once the append is durable. */
export interface RawWebhookAppender {
  append(receipt: RawWebhookReceipt): Promise<void>;
}

/** The append did not complete: Kafka refused it or did not answer in time. Meta should retry. */
export class AppendFailedError extends Error {
  override readonly name = "AppendFailedError";
  readonly retriable = true;
  constructor(
    readonly reason: "timeout" | "rejected",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RawWebhookAppenderOptions {
  readonly producer: Pick<EventProducer, "publish">;
  /** The catalog's raw-webhooks topic. */
  readonly topic: TopicSpec;
  readonly timeoutMs?: number;
}

/** Builds the RawWebhookReceived event of a receipt (pure; the event id is random). */
export function rawWebhookEvent(receipt: RawWebhookReceipt) {
  const { routing } = receipt;
  const firstNumber = routing.phoneNumberIds[0];
  return createEvent(
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

/**
 * Appends receipts to the raw-webhooks topic through the idempotent acks=all producer. A receipt
 * that is not acknowledged within `timeoutMs` fails with AppendFailedError("timeout"); the
 * send may still land later, which only produces a duplicate the router dedupes when Meta retries.
 */
export function createRawWebhookAppender({
  producer,
  topic,
  timeoutMs = 5_000,
}: RawWebhookAppenderOptions): RawWebhookAppender {
  if (!topic.events.includes("RawWebhookReceived")) {
    throw new RangeError(
      `createRawWebhookAppender: topic ${topic.name} does not carry RawWebhookReceived; pass catalog.topic("raw-webhooks")`,
    );
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new RangeError(
      `createRawWebhookAppender: timeoutMs must be a positive integer, got ${timeoutMs}`,
    );
  }
  return {
    async append(receipt) {
      const event = rawWebhookEvent(receipt);
      const sent = producer.publish(topic, [{ key: recordKeyOf(receipt.routing), event }]);
      // A late rejection after the deadline must not surface as an unhandled rejection.
      sent.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => {
          resolve("timeout");
        }, timeoutMs);
      });
      try {
        const result = await Promise.race([sent, deadline]);
        if (result === "timeout") {
          throw new AppendFailedError(
            "timeout",
            `append to ${topic.name} not acknowledged within ${timeoutMs} ms`,
          );
        }
      } catch (error) {
        if (error instanceof AppendFailedError) throw error;
        throw new AppendFailedError(
          "rejected",
          `append to ${topic.name} failed: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
