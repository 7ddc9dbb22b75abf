import { createHash } from "node:crypto";
import { createEvent, type EventOf, type Truncation } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import {
  EventTooLargeError,
  fitEvent,
  jsonShape,
  jsonText,
  limitDepth,
  MAX_JSON_DEPTH,
} from "./fit.js";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

const inbound = (message: unknown) =>
  createEvent(
    "InboundMessageReceived",
    {
      contactId: "16505551234",
      wamid: "wamid.1",
      contact: { waId: "16505551234" },
      origin: { deliveryId: "d-1", wabaId: "w" },
      message: message as EventOf<"InboundMessageReceived">["data"]["message"],
    },
    { correlationId: "d-1", now: NOW, businessNumber: "1" },
  );

/** JSON nested `levels` deep, built without recursion. */
function nested(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 0; i < levels; i++) {
    const next: Record<string, unknown> = {};
    node["next"] = next;
    node = next;
  }
  node["leaf"] = true;
  return root;
}

describe("fitEvent", () => {
  it("leaves an event that fits as it is", () => {
    const event = inbound({ type: "text", text: { body: "hi" } });
    expect(fitEvent(event, 10_000)).toBe(event);
  });

  it("cuts a 2.5 MB text to a prefix that fits, saying what, where, how much and the original's sha256", () => {
    const body = "é".repeat(1_250_000);
    const event = inbound({ type: "text", text: { body } });
    const fitted = fitEvent(event, 1_000_000);
    expect(bytes(fitted)).toBeLessThanOrEqual(1_000_000);
    const kept = fitted.data.message.type === "text" ? fitted.data.message.text.body : "";
    expect(body.startsWith(kept)).toBe(true);
    expect(bytes(fitted)).toBeGreaterThan(990_000);
    expect(fitted.data.truncated).toEqual([
      {
        path: "/message/text/body",
        reason: "too_large",
        originalBytes: 2_500_000,
        keptBytes: Buffer.byteLength(kept),
        sha256: sha(body),
      },
    ]);
    expect(fitted.eventId).toBe(event.eventId);
    // Deterministic: a Meta retry of the same message fits to the same event.
    expect(fitEvent(event, 1_000_000)).toEqual(fitted);
  });

  it("never splits a character, even one of four bytes", () => {
    const body = "😀".repeat(400_000);
    const fitted = fitEvent(inbound({ type: "text", text: { body } }), 500_000);
    const kept = fitted.data.message.type === "text" ? fitted.data.message.text.body : "";
    expect(body.startsWith(kept)).toBe(true);
    expect(kept.endsWith("😀")).toBe(true);
  });

  it("cuts the largest value of an unknown payload, keeping its shape", () => {
    const payload = {
      id: "wamid.1",
      type: "hologram",
      hologram: { script: "x".repeat(2_000_000) },
    };
    const fitted = fitEvent(
      inbound({ type: "unknown", originalType: "hologram", payload }),
      1_000_000,
    );
    expect(fitted.data.truncated?.[0]).toMatchObject({
      path: "/message/payload/hologram/script",
      reason: "too_large",
      originalBytes: 2_000_000,
    });
    const kept = fitted.data.message.type === "unknown" ? fitted.data.message.payload : {};
    expect(kept["type"]).toBe("hologram");
  });

  it("cuts a list of many small items to its first items, counting them", () => {
    const payload = { items: Array.from({ length: 100_000 }, (_, i) => ({ n: i })) };
    const event = inbound({ type: "unknown", originalType: "list", payload });
    const fitted = fitEvent(event, 500_000);
    expect(bytes(fitted)).toBeLessThanOrEqual(500_000);
    const [cut] = fitted.data.truncated ?? [];
    expect(cut).toMatchObject({
      path: "/message/payload/items",
      reason: "too_large",
      originalItems: 100_000,
      originalBytes: bytes(payload.items),
      sha256: sha(JSON.stringify(payload.items)),
    });
    const kept = fitted.data.message.type === "unknown" ? fitted.data.message.payload : {};
    expect((kept["items"] as unknown[]).length).toBe(cut?.keptItems);
    expect(kept["items"]).toEqual(payload.items.slice(0, cut?.keptItems));
  });

  it("cuts an object of many keys to its first keys", () => {
    const value: Record<string, number> = {};
    for (let i = 0; i < 60_000; i++) value[`key${String(i)}`] = i;
    const event = createEvent(
      "UnknownWebhookFieldReceived",
      { wabaId: "w", deliveryId: "d", field: "calls", value },
      { correlationId: "d", now: NOW },
    );
    const fitted = fitEvent(event, 200_000);
    expect(bytes(fitted)).toBeLessThanOrEqual(200_000);
    expect(fitted.data.truncated?.[0]).toMatchObject({ path: "/value", originalItems: 60_000 });
  });

  it("keeps one contact card at least, and cuts inside it", () => {
    const card = (n: number) => ({
      name: { formattedName: "x".repeat(n) },
    });
    const event = inbound({ type: "contacts", contacts: [card(900_000), card(10)] });
    const fitted = fitEvent(event, 500_000);
    expect(bytes(fitted)).toBeLessThanOrEqual(500_000);
    expect(fitted.data.truncated?.map((t) => t.path)).toEqual([
      "/message/contacts/0/name/formattedName",
    ]);
  });

  it("throws EventTooLargeError (never retried) when nothing can be cut enough", () => {
    const event = inbound({ type: "text", text: { body: "hi" } });
    expect(() => fitEvent(event, 100)).toThrow(EventTooLargeError);
    try {
      fitEvent(event, 100);
    } catch (error) {
      expect(error).toMatchObject({ retry: "never" });
      expect((error as Error).message).toMatch(
        /InboundMessageReceived .* no value in it can be cut/,
      );
    }
  });
});

describe("limitDepth", () => {
  it("keeps a value nested past the limit as its JSON text, with the reason", () => {
    const deep = nested(10_000);
    const cuts: Truncation[] = [];
    const limited = limitDepth(deep, "/message/payload", cuts) as Record<string, unknown>;
    expect(cuts).toHaveLength(1);
    const [cut] = cuts;
    const text = jsonText(nested(10_000 - (MAX_JSON_DEPTH - 2)));
    expect(cut).toEqual({
      path: `/message/payload${"/next".repeat(MAX_JSON_DEPTH - 2)}`,
      reason: "too_deep",
      originalBytes: Buffer.byteLength(text),
      keptBytes: Buffer.byteLength(text),
      sha256: sha(text),
    });
    // What is left is shallow enough for MongoDB (100 levels, 4 above data) and JSON.stringify.
    let node: unknown = limited;
    let depth = 2;
    while (typeof node === "object" && node !== null) {
      node = (node as Record<string, unknown>)["next"];
      depth++;
    }
    expect(typeof node).toBe("string");
    expect(depth).toBe(MAX_JSON_DEPTH);
    expect(JSON.parse(node as string)).toBeTypeOf("object");
  });

  it("returns a value within the limit unchanged (the same object)", () => {
    const value = nested(10);
    expect(limitDepth(value, "/value", [])).toBe(value);
  });

  it("writes JSON text of any depth without overflowing the stack", () => {
    const text = jsonText(nested(200_000));
    expect(text.length).toBe('{"next":'.length * 200_000 + '{"leaf":true}'.length + 200_000);
    expect(jsonText({ a: [1, "x", null, true, { b: [] }] })).toBe(
      JSON.stringify({ a: [1, "x", null, true, { b: [] }] }),
    );
  });
});

describe("jsonShape", () => {
  it.each([
    ["1", 0, 1],
    ["[]", 1, 1],
    ["[{},{}]", 2, 3],
    ['{"a":1,"b":[1,2]}', 2, 5],
    ['{ "a" : "x,[{" , "b" : [ ] }', 2, 3],
    ['["\\"]", {"k": "\\\\"}]', 2, 4],
  ])("%s nests %i levels and holds %i values", (text, depth, values) => {
    expect(jsonShape(text)).toEqual({ depth, values });
  });
});
