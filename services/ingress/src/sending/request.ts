import { createHash } from "node:crypto";
import {
  createEvent,
  sendRequestFingerprint,
  type EventData,
  type EventOf,
} from "@parley/contracts";

export type SendRequestData = EventData<"SendRequested">;

/**
 * What makes two requests under one idempotency key "the same": the SHA-256 of
 * `sendRequestFingerprint` (@parley/contracts, the rule the router applies to repeats over
 * Kafka), so key order, whitespace and metadata in the body do not matter.
 */
export function requestFingerprint(data: SendRequestData): string {
  return createHash("sha256").update(sendRequestFingerprint(data), "utf8").digest("hex");
}

/**
 * The SendRequested event: the request id is the correlation id (outcomes carry it back as
 * `requestId`); a business-number sender is also named in the envelope's `businessNumber`.
 */
export function sendRequestedEvent(
  data: SendRequestData,
  { requestId, eventId, now }: { requestId: string; eventId: string; now: Date },
): EventOf<"SendRequested"> {
  return createEvent("SendRequested", data, {
    correlationId: requestId,
    eventId,
    now,
    ...(data.sender.kind === "businessNumber" ? { businessNumber: data.sender.phoneNumberId } : {}),
  });
}
