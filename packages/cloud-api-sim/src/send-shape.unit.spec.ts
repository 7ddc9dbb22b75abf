// Property: whatever JSON a client posts, the simulator answers like Meta: a valid send is
// accepted, a wrongly typed or malformed one gets a 4xx Graph error with a code clients do not
// retry and a detail, never a 5xx or code 1 (which clients retry forever), and nothing throws.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { harness, USER } from "./harness.unit-helpers.js";

/** Codes a client retries: a malformed request must never get one. */
const RETRIED = new Set([1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057]);

function validBodies(inbound: string): Record<string, unknown>[] {
  const base = { messaging_product: "whatsapp", to: USER };
  const media = { link: "https://ex.com/a.jpg", caption: "c" };
  return [
    {
      ...base,
      type: "text",
      text: { body: "hi", preview_url: false },
      biz_opaque_callback_data: "cb",
    },
    { ...base, type: "text", text: { body: "re" }, context: { message_id: inbound } },
    { ...base, type: "image", image: media },
    { ...base, type: "video", video: media },
    { ...base, type: "document", document: { link: "https://ex.com/a.pdf", filename: "a.pdf" } },
    { ...base, type: "audio", audio: { link: "https://ex.com/a.ogg" } },
    { ...base, type: "sticker", sticker: { link: "https://ex.com/s.webp" } },
    {
      ...base,
      type: "location",
      location: { latitude: 1.5, longitude: 2.5, name: "HQ", address: "1 Way" },
    },
    {
      ...base,
      type: "contacts",
      contacts: [
        {
          name: { formatted_name: "Jane Roe", first_name: "Jane" },
          phones: [{ phone: "+1 650 555 1234", type: "WORK", wa_id: "16505551234" }],
          emails: [{ email: "j@ex.com", type: "WORK" }],
          birthday: "1990-01-02",
          org: { company: "Acme" },
        },
      ],
    },
    { ...base, type: "reaction", reaction: { message_id: inbound, emoji: "👍" } },
    {
      ...base,
      type: "interactive",
      interactive: {
        type: "button",
        header: { type: "text", text: "H" },
        body: { text: "Confirm?" },
        footer: { text: "F" },
        action: { buttons: [{ type: "reply", reply: { id: "y", title: "Yes" } }] },
      },
    },
    {
      ...base,
      type: "interactive",
      interactive: {
        type: "list",
        body: { text: "Pick" },
        action: {
          button: "Choose",
          sections: [{ title: "S", rows: [{ id: "r", title: "R", description: "d" }] }],
        },
      },
    },
    {
      ...base,
      type: "interactive",
      interactive: {
        type: "flow",
        body: { text: "Book" },
        action: {
          name: "flow",
          parameters: {
            flow_message_version: "3",
            flow_id: "1",
            flow_cta: "Book",
            flow_token: "t",
            flow_action: "navigate",
            flow_action_payload: { screen: "S", data: { a: 1 } },
          },
        },
      },
    },
    {
      ...base,
      type: "template",
      template: {
        name: "order_update",
        language: { code: "en_US", policy: "deterministic" },
        components: [
          {
            type: "body",
            parameters: [
              { type: "text", text: "Jess" },
              {
                type: "currency",
                currency: { fallback_value: "$1", code: "USD", amount_1000: 1000 },
              },
            ],
          },
          {
            type: "button",
            sub_type: "quick_reply",
            index: "0",
            parameters: [{ type: "payload", payload: "Y" }],
          },
        ],
      },
    },
    {
      messaging_product: "whatsapp",
      status: "read",
      message_id: inbound,
      typing_indicator: { type: "text" },
    },
  ];
}

/** Every path to a value inside `v` (object keys and array indexes), the root excluded. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...prefix, i], ...paths(x, [...prefix, i])]);
  if (typeof v === "object" && v !== null)
    return Object.entries(v).flatMap(([k, x]) => [[...prefix, k], ...paths(x, [...prefix, k])]);
  return [];
}

function replaced(v: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const copy: unknown = structuredClone(v);
  let at = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (last !== undefined) {
    if (value === undefined) Reflect.deleteProperty(at, last);
    else at[last] = value;
  }
  return copy;
}

const hostileValue = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);

function check(body: unknown): { status: number; code: number | undefined } {
  const h = harness();
  h.sim.addTemplate({ name: "order_update", language: "en_US", body: "Hi {{1}}, {{2}}" });
  const { wamid } = h.sim.userSends(USER, { type: "text", body: "hi" });
  const resolved = typeof body === "function" ? (body as (w: string) => unknown)(wamid) : body;
  const r = h.send(resolved);
  expect(r.status).toBeLessThan(500);
  if (r.status === 200) return { status: 200, code: undefined };
  const error = r.json["error"] as {
    code: number;
    type: string;
    fbtrace_id: string;
    error_data: { details: string };
  };
  expect(RETRIED.has(error.code)).toBe(false);
  expect(typeof error.type).toBe("string");
  expect(error.fbtrace_id.length).toBeGreaterThan(0);
  expect(error.error_data.details.length).toBeGreaterThan(0);
  return { status: r.status, code: error.code };
}

describe("send bodies, valid and hostile", () => {
  it("accepts every valid body exactly once", () => {
    for (let i = 0; i < validBodies("x").length; i++) {
      const h = harness();
      h.sim.addTemplate({ name: "order_update", language: "en_US", body: "Hi {{1}}, {{2}}" });
      const { wamid } = h.sim.userSends(USER, { type: "text", body: "hi" });
      const body = validBodies(wamid)[i];
      const r = h.send(body);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      if (body?.["status"] === undefined) expect(h.sim.received(USER)).toHaveLength(1);
    }
  });

  it("answers a body with one field replaced by any JSON value with 200 or a 4xx refusal naming a cause, never a 5xx", () => {
    const count = validBodies("x").length;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: count - 1 }),
        fc.nat(),
        hostileValue,
        (which, pick, value) => {
          const template = validBodies("wamid.placeholder")[which];
          const all = paths(template);
          const path = all[pick % all.length] ?? [];
          const { status } = check((wamid: string) =>
            replaced(validBodies(wamid)[which], path, value),
          );
          expect([200, 400, 404]).toContain(status);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("answers arbitrary JSON with a 4xx Graph error, never a 5xx", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.record(
            {
              messaging_product: fc.constant("whatsapp"),
              to: fc.oneof(fc.constant(USER), fc.jsonValue({ maxDepth: 1 })),
              type: fc.oneof(
                fc.constantFrom(
                  "text",
                  "image",
                  "template",
                  "interactive",
                  "contacts",
                  "location",
                  "reaction",
                ),
                fc.jsonValue({ maxDepth: 1 }),
              ),
              text: fc.jsonValue({ maxDepth: 2 }),
              image: fc.jsonValue({ maxDepth: 2 }),
              template: fc.jsonValue({ maxDepth: 3 }),
              interactive: fc.jsonValue({ maxDepth: 3 }),
              contacts: fc.jsonValue({ maxDepth: 3 }),
              location: fc.jsonValue({ maxDepth: 2 }),
              reaction: fc.jsonValue({ maxDepth: 2 }),
              context: fc.jsonValue({ maxDepth: 1 }),
              recipient_type: fc.jsonValue({ maxDepth: 1 }),
            },
            { requiredKeys: ["messaging_product", "to", "type"] },
          ),
        ),
        (body) => {
          const { status } = check(body);
          expect([200, 400, 404]).toContain(status);
        },
      ),
      { numRuns: 400 },
    );
  });
});
