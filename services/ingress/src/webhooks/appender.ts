import { ParleyError } from "@parley/errors";
import type { Routing } from "./routing.js";

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

/** What the HTTP adapter appends through; resolves only once the append is durable. */
export interface RawWebhookAppender {
  append(receipt: RawWebhookReceipt): Promise<void>;
}

/** The append did not complete: Kafka refused it or did not answer in time. Meta should retry. */
export class AppendFailedError extends ParleyError {
  override readonly name = "AppendFailedError";
  constructor(
    readonly reason: "timeout" | "rejected",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, { retry: "bounded", ...options });
  }
}
