import { createHash } from "node:crypto";
import type { AnyEvent, EventOf } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "./fit.js";
import { parseWebhook, WebhookLimitError, type ParsedWebhook } from "./parse.js";
import {
  contact,
  envelope,
  messagesChange,
  NOW,
  only,
  PNID,
  rawEvent,
  TS,
  WA,
  WABA,
} from "./parse.unit-helpers.js";

// Webhooks no honest Meta sends, and the shapes that broke the router (issue 32): each is either
// parsed (what was cut and why in the event) or rejected with a reason, item by item where it can
// be, and never costs more than its JSON parse when it is far larger than Meta's batches.

const parseBody = (body: string, limits?: Parameters<typeof parseWebhook>[0]["limits"]) =>
  parseWebhook({ raw: rawEvent(), body, now: NOW, ...(limits ? { limits } : {}) });
const parsed = (payload: unknown): ParsedWebhook => parseBody(JSON.stringify(payload));

const text = (from: string, id: string, body = "hi") => ({
  from,
  id,
  timestamp: TS,
  type: "text",
  text: { body },
});

/** JSON text nested `levels` deep, written out (JSON.stringify overflows on it). */
const nestedJson = (levels: number) =>
  `${'{"next":'.repeat(levels)}{"leaf":true}${"}".repeat(levels)}`;

const inboundOf = (events: readonly AnyEvent[]) =>
  events.filter((e): e is EventOf<"InboundMessageReceived"> => e.type === "InboundMessageReceived");

describe("parseWebhook: work per webhook is bounded before any fact is built", () => {
  it("rejects 200,000 entries (600 KB) before even parsing them, naming the limit", () => {
    const body = JSON.stringify({
      object: "whatsapp_business_account",
      entry: Array.from({ length: 200_000 }, () => ({})),
    });
    const started = performance.now();
    const attempt = () => parseBody(body);
    expect(attempt).toThrow(WebhookLimitError);
    expect(attempt).toThrow(/200003 JSON values; at most 60000/);
    // Before: 200,003 facts and 2.4 s of one blocked event loop (issue 32).
    console.info(
      `200,000-entry webhook (${String(body.length)} bytes) rejected in ${(performance.now() - started).toFixed(1)} ms (two scans)`,
    );
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ retry: "never", deliveryId: "delivery-1" });
    }
  });

  it("counts changes and items (messages, statuses, contacts, cards and order lines) across entries", () => {
    const limits = { maxEntries: 10, maxChanges: 3, maxItems: 5, maxValues: 1_000 };
    const change = messagesChange({ contacts: [contact], messages: [text(WA, "w.1")] });
    expect(() => parsed(envelope([change, change, change, change]))).not.toThrow();
    expect(() =>
      parseBody(JSON.stringify(envelope([change, change, change, change])), limits),
    ).toThrow(/4 changes; at most 3/);
    const card = { name: { formatted_name: "A" }, phones: [{ phone: "1" }, { phone: "2" }] };
    const cards = messagesChange({
      contacts: [contact],
      messages: [{ ...text(WA, "w.c"), type: "contacts", contacts: [card, card] }],
    });
    // 1 message + 1 contact + 2 cards + 4 phones.
    expect(() => parseBody(JSON.stringify(envelope([cards])), limits)).toThrow(
      /8 items; at most 5/,
    );
    const entries = JSON.stringify({ entry: Array.from({ length: 11 }, () => ({})) });
    expect(() => parseBody(entries, limits)).toThrow(/11 entries; at most 10/);
    // Values kept as Meta sent them (an unknown field) count too, before the body is parsed.
    const wide = JSON.stringify(
      envelope([{ field: "calls", value: { list: Array.from({ length: 2_000 }, (_, i) => i) } }]),
    );
    expect(() => parseBody(wide, limits)).toThrow(/about 20\d\d JSON values; at most 1000/);
  });

  it("takes Meta's largest batch with room to spare: 1,000 statuses, each with its contact", () => {
    const statuses = Array.from({ length: 1_000 }, (_, i) => ({
      id: `wamid.s.${String(i)}`,
      status: "delivered",
      timestamp: TS,
      recipient_id: `1650555${String(i).padStart(4, "0")}`,
    }));
    const contacts = statuses.map((s) => ({ wa_id: s.recipient_id, profile: { name: "x" } }));
    const started = performance.now();
    const result = parsed(envelope([messagesChange({ contacts, statuses })]));
    console.info(`1,000-status webhook parsed in ${(performance.now() - started).toFixed(1)} ms`);
    expect(result.events).toHaveLength(1_000);
    expect(result.rejected).toEqual([]);
  });
});

describe("parseWebhook: contact ids are validated and canonical", () => {
  it("keeps the valid items and rejects, by pointer and reason, those whose contact is no wa_id or BSUID", () => {
    const body = JSON.stringify(
      envelope([
        messagesChange({
          messages: [
            text(WA, "w.good"),
            text("1650555abc", "w.letters"),
            text("INVALID_UTF8", "w.utf8"),
            text("123", "w.short"),
          ],
          statuses: [
            { id: "w.out", status: "read", timestamp: TS, recipient_id: "+1 (650) 555-9999" },
            { id: "w.out2", status: "read", timestamp: TS, recipient_id: "not-a-number" },
          ],
        }),
        {
          field: "user_preferences",
          value: {
            user_preferences: [
              { wa_id: "🙂", category: "marketing_messages", value: "stop", timestamp: 1 },
            ],
          },
        },
      ]),
    );
    // Invalid UTF-8 in the raw bytes reaches the parser as U+FFFD after decoding.
    const bytes = Buffer.from(body, "utf8");
    const at = bytes.indexOf("INVALID_UTF8");
    const raw = Buffer.concat([
      bytes.subarray(0, at),
      Buffer.from([0x31, 0x36, 0xff, 0xfe]),
      bytes.subarray(at + "INVALID_UTF8".length),
    ]).toString("utf8");
    const result = parseBody(raw);
    expect(inboundOf(result.events).map((e) => e.data.wamid)).toEqual(["w.good"]);
    const statuses = result.events.filter((e) => e.type === "StatusUpdated");
    expect(statuses.map((e) => e.data.contactId)).toEqual(["16505559999"]);
    expect(result.rejected).toEqual([
      {
        item: "/entry/0/changes/0/value/messages/1",
        reason: expect.stringMatching(/^from: not a wa_id/) as unknown,
      },
      {
        item: "/entry/0/changes/0/value/messages/2",
        reason: expect.stringMatching(/^from: /) as unknown,
      },
      {
        item: "/entry/0/changes/0/value/messages/3",
        reason:
          "from: has 3 digits; a wa_id or an international number has 6 to 15, with its country code",
      },
      {
        item: "/entry/0/changes/0/value/statuses/1",
        reason: expect.stringMatching(/^recipient_id: not a wa_id/) as unknown,
      },
      {
        item: "/entry/0/changes/1/value/user_preferences/0",
        reason: expect.stringMatching(/^wa_id: not a wa_id/) as unknown,
      },
    ]);
    expect(result.items).toBe(7);
    // The rejected ids themselves never reach a reason (they may be phone numbers).
    expect(JSON.stringify(result.rejected)).not.toContain("1650555abc");
  });

  it.each([
    ["Brazil, an older account without the ninth digit", "556181234567", "5561981234567"],
    ["Mexico, the 521 form Meta sends", "5215512345678", "525512345678"],
    ["Argentina, without the 9", "541123456789", "5491123456789"],
  ])(
    "keys %s by the canonical contact id, keeping Meta's form beside it",
    (_name, metaForm, canonical) => {
      const result = parsed(
        envelope([
          messagesChange({
            contacts: [{ wa_id: metaForm, profile: { name: "c" } }],
            messages: [text(metaForm, "w.in")],
            statuses: [{ id: "w.out", status: "read", timestamp: TS, recipient_id: metaForm }],
          }),
          {
            field: "user_preferences",
            value: {
              user_preferences: [
                { wa_id: metaForm, category: "marketing_messages", value: "stop", timestamp: 1 },
              ],
            },
          },
        ]),
      );
      expect(result.rejected).toEqual([]);
      expect(result.events.map((e) => (e.data as { contactId: string }).contactId)).toEqual([
        canonical,
        canonical,
        canonical,
      ]);
      const [message, status] = result.events as [
        EventOf<"InboundMessageReceived">,
        EventOf<"StatusUpdated">,
      ];
      expect(message.data.contact.waId).toBe(metaForm);
      expect(status.data.recipientId).toBe(metaForm);
    },
  );

  it("keys a group status by its participant, and keeps one naming no participant as an unknown field", () => {
    const group = {
      id: "w.g",
      status: "read",
      timestamp: TS,
      recipient_id: "120363044387891234ZD",
      recipient_type: "group",
    };
    const result = parsed(
      envelope([
        messagesChange({
          statuses: [{ ...group, recipient_participant_id: "5215512345678" }, group],
        }),
      ]),
    );
    expect(result.events.map((e) => e.type)).toEqual([
      "StatusUpdated",
      "UnknownWebhookFieldReceived",
    ]);
    expect((result.events[0] as EventOf<"StatusUpdated">).data.contactId).toBe("525512345678");
  });
});

describe("parseWebhook: values too deep or too large are cut, with the reason", () => {
  it("keeps an unknown type nested 10,000 levels, cut at the depth MongoDB takes (before: the state save overflowed the stack, retried forever)", () => {
    const message = JSON.stringify(text(WA, "w.deep"))
      .replace('"text":{"body":"hi"}', `"text":"x","hologram":${nestedJson(10_000)}`)
      .replace('"type":"text"', '"type":"hologram"');
    const body = JSON.stringify(
      envelope([messagesChange({ contacts: [contact], messages: ["M"] })]),
    ).replace('"M"', message);
    const result = parseBody(body);
    const event = only(result.events, "InboundMessageReceived");
    expect(event.data.message.type).toBe("unknown");
    expect(event.data.truncated).toEqual([
      expect.objectContaining({
        reason: "too_deep",
        path: `/message/payload/hologram${"/next".repeat(MAX_JSON_DEPTH - 3)}`,
      }),
    ]);
    // Everything downstream (BSON, the serde) can now serialise it.
    expect(() => JSON.stringify(event)).not.toThrow();
    // A Meta retry of it is the same event.
    const idAndData = (events: readonly AnyEvent[]) => events.map((e) => [e.eventId, e.data]);
    expect(idAndData(parseBody(body).events)).toEqual(idAndData(result.events));
  });

  it("keeps an unknown field and value.errors nested 10,000 levels (content ids of cut values)", () => {
    const body = JSON.stringify(
      envelope([
        { field: "calls", value: { call: "DEEP" } },
        messagesChange({
          errors: [{ code: 131000, title: "x", error_data: { details: "y", more: "DEEP" } }],
        }),
      ]),
    ).replaceAll('"DEEP"', nestedJson(10_000));
    const result = parseBody(body);
    expect(result.events.map((e) => e.type)).toEqual([
      "UnknownWebhookFieldReceived",
      "WebhookErrorsReceived",
    ]);
    expect(result.events[0]?.data).toMatchObject({ truncated: [{ reason: "too_deep" }] });
  });

  it("fits a 2.5 MB text under its topic's limit, and a STOP buried in it opens no opt-out", () => {
    const big = `STOP${" ".repeat(2_500_000)}`;
    const result = parsed(
      envelope([messagesChange({ contacts: [contact], messages: [text(WA, "w.big", big)] })]),
    );
    const event = only(result.events, "InboundMessageReceived");
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThanOrEqual(1024 * 1024 + 12 - 4096);
    expect(event.data.truncated).toEqual([
      {
        path: "/message/text/body",
        reason: "too_large",
        originalBytes: big.length,
        keptBytes: expect.any(Number) as unknown,
        sha256: createHash("sha256").update(big).digest("hex"),
      },
    ]);
  });

  it("rejects an item no cut can fit, keeping the others", () => {
    const result = parseWebhook({
      raw: rawEvent(),
      body: JSON.stringify(
        envelope([messagesChange({ messages: [text(WA, "w.a"), text("16505550002", "w.b")] })]),
      ),
      now: NOW,
      budgetOf: () => 500,
    });
    expect(result.events).toEqual([]);
    expect(result.rejected.map((r) => r.item)).toEqual([
      "/entry/0/changes/0/value/messages/0",
      "/entry/0/changes/0/value/messages/1",
    ]);
    expect(result.rejected[0]?.reason).toMatch(
      /InboundMessageReceived .* bytes and no value in it can be cut to fit 500/,
    );
  });
});

describe("parseWebhook: what Meta says about a number or a flow", () => {
  it("a phone number quality update carries, and is keyed by, the phone_number_id the directory knows", () => {
    const body = JSON.stringify({
      entry: [
        {
          id: WABA,
          time: 1772359200,
          changes: [
            {
              field: "phone_number_quality_update",
              value: {
                display_phone_number: "+1 555-078-3881",
                event: "THROUGHPUT_UPGRADE",
                current_limit: "TIER_UNLIMITED",
              },
            },
          ],
        },
      ],
    });
    const resolved = parseWebhook({
      raw: rawEvent(),
      body,
      now: NOW,
      phoneNumberIdOf: (waba, display) =>
        waba === WABA && display.replace(/\D/g, "") === "15550783881" ? PNID : undefined,
    });
    const event = only(resolved.events, "PhoneNumberQualityUpdated");
    expect(event.data.phoneNumberId).toBe(PNID);
    expect(event.businessNumber).toBe(PNID);
    const unknown = only(parseBody(body).events, "PhoneNumberQualityUpdated");
    expect(unknown.data.phoneNumberId).toBeUndefined();
    expect(unknown.businessNumber).toBeUndefined();
    expect(unknown.eventId).toBe(event.eventId);
  });

  it.each([
    ["not JSON", "{flow_token", undefined],
    ["a JSON array", '["flow_token"]', undefined],
    ["a JSON object without a token", '{"screen":"A"}', { screen: "A" }],
  ])("an nfm_reply whose response_json is %s keeps it as the string", (_name, json, response) => {
    const result = parsed(
      envelope([
        messagesChange({
          contacts: [contact],
          messages: [
            {
              ...text(WA, "w.nfm"),
              type: "interactive",
              interactive: {
                type: "nfm_reply",
                nfm_reply: { name: "flow", body: "Sent", response_json: json },
              },
            },
          ],
        }),
      ]),
    );
    const event = only(result.events, "InboundMessageReceived");
    expect(event.data.message).toEqual({
      type: "interactive",
      interactive: {
        type: "nfm_reply",
        name: "flow",
        body: "Sent",
        responseJson: json,
        ...(response === undefined ? {} : { response }),
      },
    });
  });
});
