import type { EventOf } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { parseWebhook, UnparseableWebhookError } from "./parse.js";
import {
  contact,
  envelope,
  message,
  messagesChange,
  NOW,
  parse,
  rawEvent,
  TS,
  WA,
  WABA,
} from "./parse.unit-helpers.js";

describe("parseWebhook: batches, identity and failures", () => {
  it("iterates every entry, change, message and status: 1,000 updates over three business numbers", () => {
    const numbers = ["1001", "1002", "1003"];
    const entry = numbers.map((pnid, n) => ({
      id: `waba-${n}`,
      changes: [
        messagesChange(
          {
            contacts: [contact],
            messages: Array.from({ length: 200 }, (_, i) => ({
              from: `1650555${String(i % 50).padStart(4, "0")}`,
              id: `wamid.${pnid}.${i}`,
              timestamp: TS,
              type: "text",
              text: { body: `m${i}` },
            })),
          },
          pnid,
        ),
        messagesChange(
          {
            statuses: Array.from({ length: n === 0 ? 134 : 133 }, (_, i) => ({
              id: `wamid.out.${pnid}.${i}`,
              status: "delivered",
              timestamp: TS,
              recipient_id: WA,
            })),
          },
          pnid,
        ),
      ],
    }));
    const events = parse({ object: "whatsapp_business_account", entry });
    expect(events).toHaveLength(1000);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(1000);
    expect(events.filter((e) => e.type === "InboundMessageReceived")).toHaveLength(600);
    expect(new Set(events.map((e) => e.businessNumber))).toEqual(new Set(numbers));
    const first = events[0] as EventOf<"InboundMessageReceived">;
    expect(first.data.wamid).toBe("wamid.1001.0");
  });

  it("re-parsing the same content (a Meta retry with a new delivery) gives the same event ids", () => {
    const payload = message({ type: "text", text: { body: "hi" } });
    const a = parse(payload, rawEvent("delivery-1"));
    const b = parse(payload, rawEvent("delivery-2"));
    expect(b.map((e) => e.eventId)).toEqual(a.map((e) => e.eventId));
    expect(b[0]?.correlationId).toBe("delivery-2");
  });

  it("links every event to its webhook: correlation = delivery id, causation = raw event id", () => {
    const raw = rawEvent("delivery-9");
    const [event] = parse(message({ type: "text", text: { body: "hi" } }), raw);
    expect(event?.correlationId).toBe("delivery-9");
    expect(event?.causationId).toBe(raw.eventId);
    expect(event?.recordedAt).toBe(NOW.toISOString());
  });

  it("an inbound message and a status for the same wamid get different ids", () => {
    const events = parse(
      envelope([
        messagesChange({
          messages: [{ from: WA, id: "wamid.X", timestamp: TS, type: "text", text: { body: "a" } }],
          statuses: [{ id: "wamid.X", status: "read", timestamp: TS, recipient_id: WA }],
        }),
      ]),
    );
    expect(events[0]?.eventId).not.toBe(events[1]?.eventId);
  });

  it.each([
    ["not JSON", "{not json"],
    ["JSON without entries", '{"object":"whatsapp_business_account"}'],
    ["a JSON array", "[]"],
  ])("%s is unparseable and not retriable", (_name, body) => {
    const attempt = () => parseWebhook({ raw: rawEvent(), body, now: NOW });
    expect(attempt).toThrow(UnparseableWebhookError);
    try {
      attempt();
    } catch (error) {
      expect((error as UnparseableWebhookError).retriable).toBe(false);
    }
  });

  it("a malformed entry among good ones is kept as unknown; the rest still parse", () => {
    const payload = {
      entry: [
        42,
        {
          id: WABA,
          changes: [
            messagesChange({
              messages: [
                { from: WA, id: "wamid.ok", timestamp: TS, type: "text", text: { body: "a" } },
              ],
            }),
          ],
        },
      ],
    };
    expect(parse(payload).map((e) => e.type)).toEqual([
      "UnknownWebhookFieldReceived",
      "InboundMessageReceived",
    ]);
  });
});
