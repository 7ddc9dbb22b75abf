// Fixtures shared by the parser's unit specs: a raw event, webhook envelopes, Meta-shaped items.
import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { expect } from "vitest";
import { parseWebhook } from "./parse.js";

export const WABA = "102290129340398";
export const PNID = "106540352242922";
export const WA = "16505551234";
export const BSUID = "US.13491208655302741918";
export const NOW = new Date("2026-03-01T12:00:00.000Z");
export const TS = "1772359200"; // 2026-03-01T10:00:00Z
export const TS_ISO = "2026-03-01T10:00:00.000Z";

export function rawEvent(deliveryId = "delivery-1"): EventOf<"RawWebhookReceived"> {
  return createEvent(
    "RawWebhookReceived",
    {
      deliveryId,
      bodyBase64: "",
      signature: "sha256=00",
      sizeBytes: 0,
      phoneNumberIds: [PNID],
      wabaIds: [WABA],
    },
    { correlationId: deliveryId, now: NOW },
  );
}

export const parse = (payload: unknown, raw = rawEvent()) =>
  parseWebhook({ raw, body: JSON.stringify(payload), now: NOW }).events;

export const envelope = (changes: readonly unknown[], id = WABA) => ({
  object: "whatsapp_business_account",
  entry: [{ id, changes }],
});

export const messagesChange = (value: Record<string, unknown>, pnid = PNID) => ({
  field: "messages",
  value: {
    messaging_product: "whatsapp",
    metadata: { display_phone_number: "15550783881", phone_number_id: pnid },
    ...value,
  },
});

export const contact = {
  profile: { name: "Sheena" },
  wa_id: WA,
  user_id: "US.13491208655302741918",
};
export const message = (m: Record<string, unknown>) =>
  envelope([
    messagesChange({
      contacts: [contact],
      messages: [{ from: WA, id: "wamid.IN1", timestamp: TS, ...m }],
    }),
  ]);

export function only<T extends AnyEvent["type"]>(events: readonly AnyEvent[], type: T) {
  expect(events).toHaveLength(1);
  const [event] = events;
  expect(event?.type).toBe(type);
  return event as Extract<AnyEvent, { type: T }>;
}
