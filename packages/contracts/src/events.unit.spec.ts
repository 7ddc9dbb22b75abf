import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createEvent,
  eventNames,
  events,
  InvalidEventError,
  parseEvent,
  schemaVersions,
  type EventName,
} from "./events.js";
import type { InboundMessageContent } from "./events/inbound.js";
import type { OutboundContent } from "./events/outbound.js";
import { exampleData, exampleEvent } from "./examples.js";

const now = new Date("2026-03-01T10:15:00.000Z");
const meta = { correlationId: "req-1", now };

describe("every event", () => {
  it.each(eventNames.map((n) => [n]))(
    "%s: the example is valid and round-trips through JSON",
    (name) => {
      const event = exampleEvent(name);
      expect(event.type).toBe(name);
      expect(parseEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
    },
  );

  it.each(eventNames.map((n) => [n]))(
    "%s: is rejected without data, with a wrong type or a bad envelope",
    (name) => {
      const schema: z.ZodType = events[name];
      const good = exampleEvent(name);
      expect(schema.safeParse({ ...good, data: {} }).success).toBe(false);
      expect(schema.safeParse({ ...good, type: "SomethingElse" }).success).toBe(false);
      expect(schema.safeParse({ ...good, eventId: "not-a-uuid" }).success).toBe(false);
      expect(schema.safeParse({ ...good, occurredAt: "yesterday" }).success).toBe(false);
      expect(schema.safeParse({ ...good, schemaVersion: 0 }).success).toBe(false);
      const { correlationId: _dropped, ...withoutCorrelation } = good;
      expect(schema.safeParse(withoutCorrelation).success).toBe(false);
    },
  );

  it("names are PascalCase, past tense for facts and imperative for the one command", () => {
    const commands = new Set<EventName>(["DispatchMessage"]);
    // A state reached rather than a deed, named so by the design brief.
    const states = new Set<EventName>(["SendInDoubt"]);
    for (const name of eventNames) {
      expect(name).toMatch(/^[A-Z][a-zA-Z]+$/);
      if (commands.has(name)) expect(name).not.toMatch(/ed$/);
      else if (!states.has(name)) expect(name).toMatch(/ed$/);
    }
  });

  it("timestamps end in At", () => {
    const offenders: string[] = [];
    const walk = (schema: unknown, path: string) => {
      if (typeof schema !== "object" || schema === null) return;
      const s = schema as Record<string, unknown>;
      if (s["format"] === "date-time" && !/At$/.test(path) && !/validUntil$/.test(path))
        offenders.push(path);
      for (const [k, v] of Object.entries(s))
        walk(v, k === "properties" || k === "items" ? path : `${path}.${k}`);
      const props = s["properties"];
      if (typeof props === "object" && props !== null) {
        for (const [k, v] of Object.entries(props)) walk(v, `${path}.${k}`);
      }
    };
    for (const name of eventNames) walk(z.toJSONSchema(events[name], { target: "draft-7" }), name);
    expect(offenders).toEqual([]);
  });
});

describe("InboundMessageReceived", () => {
  const base = exampleData.InboundMessageReceived;
  const media = { id: "1037543291543636", mimeType: "image/jpeg", sha256: "abc=" };
  const samples = {
    text: { type: "text", text: { body: "hi" } },
    image: { type: "image", image: { ...media, caption: "look" } },
    video: { type: "video", video: { ...media, mimeType: "video/mp4" } },
    audio: { type: "audio", audio: { ...media, mimeType: "audio/ogg; codecs=opus", voice: true } },
    document: { type: "document", document: { ...media, filename: "a.pdf" } },
    sticker: { type: "sticker", sticker: { ...media, mimeType: "image/webp", animated: false } },
    location: { type: "location", location: { latitude: 37.75, longitude: -122.42, name: "HQ" } },
    contacts: {
      type: "contacts",
      contacts: [
        {
          name: { formattedName: "Jane Roe" },
          phones: [{ phone: "+1 650 555 1234", waId: "16505551234" }],
        },
      ],
    },
    button: { type: "button", button: { text: "Yes", payload: "YES_42" } },
    interactiveButton: {
      type: "interactive",
      interactive: { type: "button_reply", id: "b1", title: "Yes" },
    },
    interactiveList: {
      type: "interactive",
      interactive: { type: "list_reply", id: "r1", title: "Row" },
    },
    interactiveFlow: {
      type: "interactive",
      interactive: {
        type: "nfm_reply",
        name: "flow",
        body: "Sent",
        responseJson: '{"flow_token":"t"}',
      },
    },
    interactiveUnknown: {
      type: "interactive",
      interactive: { type: "unknown", originalType: "poll_reply", payload: { a: 1 } },
    },
    reaction: { type: "reaction", reaction: { messageId: "wamid.X" } },
    order: {
      type: "order",
      order: {
        catalogId: "c1",
        productItems: [{ productRetailerId: "p1", quantity: 2, itemPrice: 9.5, currency: "EUR" }],
      },
    },
    system: {
      type: "system",
      system: { systemType: "user_changed_number", body: "changed", waId: "16505550000" },
    },
    unsupported: { type: "unsupported", unsupported: { unsupportedType: "poll" } },
    requestWelcome: { type: "request_welcome" },
    revoke: { type: "revoke", revoke: { originalMessageId: "wamid.X" } },
    edit: {
      type: "edit",
      edit: { originalMessageId: "wamid.X", message: { type: "text", text: { body: "fixed" } } },
    },
  } satisfies Record<string, InboundMessageContent>;

  it.each(Object.entries(samples))("accepts a %s message", (_kind, message) => {
    const event = createEvent("InboundMessageReceived", { ...base, message }, meta);
    expect(event.data.message).toEqual(message);
  });

  it("keeps an unknown message type with its whole payload", () => {
    const payload = {
      from: "16505551234",
      id: "wamid.Y",
      timestamp: "1750030073",
      type: "poll",
      poll: { question: "?", options: ["a", "b"] },
    };
    const event = createEvent(
      "InboundMessageReceived",
      { ...base, message: { type: "unknown", originalType: "poll", payload } },
      meta,
    );
    const parsed = parseEvent(JSON.parse(JSON.stringify(event)));
    expect(parsed.type === "InboundMessageReceived" && parsed.data.message).toEqual({
      type: "unknown",
      originalType: "poll",
      payload,
    });
  });

  it("rejects a known type with the wrong content and an unknown type without payload", () => {
    const bad = (message: unknown) => () =>
      createEvent("InboundMessageReceived", { ...base, message } as never, meta);
    expect(bad({ type: "text", text: {} })).toThrow(InvalidEventError);
    expect(bad({ type: "image", image: { caption: "no id" } })).toThrow(InvalidEventError);
    expect(bad({ type: "poll" })).toThrow(InvalidEventError);
    expect(bad({ type: "unknown", originalType: "poll" })).toThrow(InvalidEventError);
  });
});

describe("StatusUpdated", () => {
  const base = exampleData.StatusUpdated;
  it("carries errors, pricing and biz_opaque_callback_data", () => {
    const failed = createEvent(
      "StatusUpdated",
      {
        ...base,
        status: "failed",
        errors: [
          {
            code: 131047,
            title: "Re-engagement message",
            details: "More than 24 hours have passed",
          },
        ],
      },
      meta,
    );
    expect(failed.data.errors?.[0]?.code).toBe(131047);
    const sent = createEvent(
      "StatusUpdated",
      {
        ...base,
        status: "sent",
        pricing: { pricingModel: "PMP", type: "free_entry_point", category: "referral_conversion" },
      },
      meta,
    );
    expect(sent.data.bizOpaqueCallbackData).toBe("req-42");
  });
  it("rejects an unknown status and a non-integer error code", () => {
    expect(() =>
      createEvent("StatusUpdated", { ...base, status: "deleted" } as never, meta),
    ).toThrow(InvalidEventError);
    expect(() => createEvent("StatusUpdated", { ...base, errors: [{ code: 1.5 }] }, meta)).toThrow(
      InvalidEventError,
    );
  });
});

describe("SendRequested", () => {
  const base = exampleData.SendRequested;
  const contents = {
    text: { type: "text", text: { body: "hi", previewUrl: true } },
    imageById: { type: "image", image: { id: "1037543291543636", caption: "c" } },
    documentByLink: {
      type: "document",
      document: { link: "https://ex.com/a.pdf", filename: "a.pdf" },
    },
    audio: { type: "audio", audio: { id: "1" } },
    video: { type: "video", video: { id: "1" } },
    sticker: { type: "sticker", sticker: { link: "https://ex.com/s.webp" } },
    location: { type: "location", location: { latitude: 1, longitude: 2 } },
    contacts: { type: "contacts", contacts: [{ name: { formattedName: "Jane" } }] },
    reaction: { type: "reaction", reaction: { messageId: "wamid.X", emoji: "😀" } },
    buttons: {
      type: "interactive",
      interactive: {
        type: "button",
        body: { text: "Pick" },
        buttons: [
          { id: "y", title: "Yes" },
          { id: "n", title: "No" },
        ],
      },
    },
    list: {
      type: "interactive",
      interactive: {
        type: "list",
        body: { text: "Pick" },
        button: "Choose",
        sections: [{ title: "S", rows: [{ id: "r1", title: "Row" }] }],
      },
    },
    ctaUrl: {
      type: "interactive",
      interactive: {
        type: "cta_url",
        body: { text: "Open" },
        displayText: "Open",
        url: "https://ex.com",
      },
    },
    flow: {
      type: "interactive",
      interactive: {
        type: "flow",
        body: { text: "Book" },
        flowMessageVersion: "3",
        flowId: "123",
        flowCta: "Book",
      },
    },
    locationRequest: {
      type: "interactive",
      interactive: { type: "location_request_message", body: { text: "Where?" } },
    },
    template: base.content,
  } satisfies Record<string, OutboundContent>;

  it.each(Object.entries(contents))("accepts %s content", (_kind, content) => {
    expect(createEvent("SendRequested", { ...base, content }, meta).data.content).toEqual(content);
  });

  it("accepts a sender by business number and a template fallback", () => {
    const event = createEvent(
      "SendRequested",
      {
        ...base,
        sender: { kind: "businessNumber", phoneNumberId: "106540352242922" },
        content: { type: "text", text: { body: "hi" } },
        category: "service",
        templateFallback: { name: "reopen", language: { code: "en_US" } },
      },
      meta,
    );
    expect(event.data.templateFallback?.name).toBe("reopen");
  });

  it.each([
    ["an empty idempotency key", { idempotencyKey: "" }],
    [
      "four reply buttons",
      {
        content: {
          type: "interactive",
          interactive: {
            type: "button",
            buttons: [1, 2, 3, 4].map((i) => ({ id: `b${i}`, title: "t" })),
          },
        },
      },
    ],
    [
      "a text over 4096 characters",
      { content: { type: "text", text: { body: "x".repeat(4097) } } },
    ],
    [
      "a non-http media link",
      { content: { type: "image", image: { link: "ftp://ex.com/a.png" } } },
    ],
    ["an unknown category", { category: "promotional" }],
    [
      "a template name with capitals",
      { content: { type: "template", template: { name: "Order", language: { code: "en" } } } },
    ],
    ["a validUntil that is not an instant", { validUntil: "tomorrow" }],
  ])("rejects %s", (_what, patch) => {
    expect(() => createEvent("SendRequested", { ...base, ...patch } as never, meta)).toThrow(
      InvalidEventError,
    );
  });
});

describe("createEvent", () => {
  it("fills the envelope from meta, with an injected id and clock", () => {
    const event = createEvent("ConversationWindowOpened", exampleData.ConversationWindowOpened, {
      correlationId: "d-1",
      causationId: "5b0c7a3e-1f2d-4c6b-9a8e-000000000001",
      businessNumber: "106540352242922",
      occurredAt: "2026-03-01T10:14:59.000Z",
      now,
      eventId: "5b0c7a3e-1f2d-4c6b-9a8e-0000000000aa",
    });
    expect(event).toEqual({
      eventId: "5b0c7a3e-1f2d-4c6b-9a8e-0000000000aa",
      type: "ConversationWindowOpened",
      schemaVersion: schemaVersions.ConversationWindowOpened,
      occurredAt: "2026-03-01T10:14:59.000Z",
      recordedAt: "2026-03-01T10:15:00.000Z",
      correlationId: "d-1",
      causationId: "5b0c7a3e-1f2d-4c6b-9a8e-000000000001",
      businessNumber: "106540352242922",
      data: exampleData.ConversationWindowOpened,
    });
  });

  it("defaults occurredAt to now, causationId to null, and draws a fresh uuid", () => {
    const a = createEvent("ConsentRevoked", exampleData.ConsentRevoked, meta);
    const b = createEvent("ConsentRevoked", exampleData.ConsentRevoked, meta);
    expect(a.occurredAt).toBe(now.toISOString());
    expect(a.causationId).toBeNull();
    expect(a).not.toHaveProperty("businessNumber");
    expect(a.eventId).not.toBe(b.eventId);
    expect(z.uuid().safeParse(a.eventId).success).toBe(true);
  });

  it("uses an injected id generator", () => {
    const event = createEvent("ConsentRevoked", exampleData.ConsentRevoked, {
      ...meta,
      generateId: () => "5b0c7a3e-1f2d-4c6b-9a8e-0000000000bb",
    });
    expect(event.eventId).toBe("5b0c7a3e-1f2d-4c6b-9a8e-0000000000bb");
  });

  it("throws a non-retriable InvalidEventError naming the event and the field", () => {
    const attempt = () =>
      createEvent("MediaStored", { ...exampleData.MediaStored, sizeBytes: -1 }, meta);
    expect(attempt).toThrow(InvalidEventError);
    expect(attempt).toThrow(/MediaStored[\s\S]*sizeBytes/);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ retriable: false, eventType: "MediaStored" });
    }
  });

  it("parseEvent refuses unknown event types", () => {
    expect(() => parseEvent({ ...exampleEvent("MediaStored"), type: "MediaEaten" })).toThrow(
      /unknown event type "MediaEaten"/,
    );
    expect(() => parseEvent(null)).toThrow(InvalidEventError);
  });
});
