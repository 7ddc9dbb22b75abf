import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { extractRouting, recordKeyOf, UNROUTED_KEY } from "./routing.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const json = (value: unknown): Uint8Array => bytes(JSON.stringify(value));

const messagesChange = (phoneNumberId: string) => ({
  field: "messages",
  value: {
    messaging_product: "whatsapp",
    metadata: { display_phone_number: "15550783881", phone_number_id: phoneNumberId },
    messages: [{ from: "16505551234", id: "wamid.x", timestamp: "1750030073", type: "text" }],
  },
});

describe("extractRouting", () => {
  it("finds the business number and WABA of a messages webhook", () => {
    const routing = extractRouting(
      json({
        object: "whatsapp_business_account",
        entry: [{ id: "102290129340398", changes: [messagesChange("106540352242922")] }],
      }),
    );
    expect(routing).toEqual({
      phoneNumberIds: ["106540352242922"],
      wabaIds: ["102290129340398"],
      lane: "webhooks",
    });
    expect(recordKeyOf(routing)).toBe("106540352242922");
  });

  it("keeps every number of a batch in order of first appearance, without duplicates", () => {
    const routing = extractRouting(
      json({
        object: "whatsapp_business_account",
        entry: [
          { id: "w1", changes: [messagesChange("p2"), messagesChange("p1")] },
          { id: "w2", changes: [messagesChange("p2"), messagesChange("p3")] },
          { id: "w1", changes: [] },
        ],
      }),
    );
    expect(routing).toEqual({
      phoneNumberIds: ["p2", "p1", "p3"],
      wabaIds: ["w1", "w2"],
      lane: "webhooks",
    });
    expect(recordKeyOf(routing)).toBe("p2");
  });

  it("keys an account-level webhook (no metadata) by its WABA id", () => {
    const routing = extractRouting(
      json({
        object: "whatsapp_business_account",
        entry: [
          {
            id: "102290129340398",
            time: 1750030073,
            changes: [
              {
                field: "message_template_status_update",
                value: {
                  event: "APPROVED",
                  message_template_id: 12345,
                  message_template_name: "x",
                },
              },
            ],
          },
        ],
      }),
    );
    expect(routing).toEqual({ phoneNumberIds: [], wabaIds: ["102290129340398"], lane: "webhooks" });
    expect(recordKeyOf(routing)).toBe("102290129340398");
  });

  it("reads Meta's \\u-escaped form and numeric ids", () => {
    const body = String.raw`{"entry":[{"id":102290129340398,"changes":[{"value":{"metadata":{"phone_number_id":"106540352242922"},"messages":[{"text":{"body":"Ol\u00e1 \ud83d\ude00 a\/b \u0040"}}]}}]}]}`;
    expect(extractRouting(bytes(body))).toEqual({
      phoneNumberIds: ["106540352242922"],
      wabaIds: ["102290129340398"],
      lane: "webhooks",
    });
  });

  it.each([
    ["not JSON", bytes("hello=world&a=1")],
    ["empty", bytes("")],
    ["invalid UTF-8", Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])],
    ["a JSON string", json("entry")],
    ["a JSON array", json([{ entry: [] }])],
    ["null", json(null)],
    ["entry not an array", json({ entry: { id: "w1" } })],
    ["entries of the wrong types", json({ entry: [null, 3, "x", [], { changes: "no" }] })],
    [
      "changes of the wrong types",
      json({ entry: [{ changes: [null, { value: 1 }, { value: { metadata: [] } }] }] }),
    ],
    [
      "ids of the wrong types",
      json({
        entry: [{ id: { a: 1 }, changes: [{ value: { metadata: { phone_number_id: true } } }] }],
      }),
    ],
    ["truncated JSON", bytes('{"entry":[{"id":"w1","changes":[')],
  ])("tolerates a body that is %s", (_label, body) => {
    const routing = extractRouting(body);
    expect(routing.phoneNumberIds).toEqual([]);
    expect(routing.wabaIds).toEqual([]);
    expect(recordKeyOf(routing)).toBe(UNROUTED_KEY);
  });

  it("ignores empty, negative, fractional and absurdly long ids", () => {
    const routing = extractRouting(
      json({
        entry: [
          { id: "", changes: [{ value: { metadata: { phone_number_id: "x".repeat(65) } } }] },
          { id: -1, changes: [{ value: { metadata: { phone_number_id: 1.5 } } }] },
          { id: "  w9  ", changes: [{ value: { metadata: { phone_number_id: 42 } } }] },
        ],
      }),
    );
    expect(routing).toEqual({ phoneNumberIds: ["42"], wabaIds: ["w9"], lane: "webhooks" });
  });
});

const statusesChange = (phoneNumberId: string, statuses: readonly unknown[]) => ({
  field: "messages",
  value: {
    messaging_product: "whatsapp",
    metadata: { display_phone_number: "15550783881", phone_number_id: phoneNumberId },
    statuses,
  },
});
const status = (value: string) => ({
  id: "wamid.out",
  status: value,
  timestamp: "1750030073",
  recipient_id: "16505551234",
});
const account = (changes: readonly unknown[]) =>
  json({ object: "whatsapp_business_account", entry: [{ id: "102290129340398", changes }] });

describe("the lane of a webhook (ADR 0004, two raw lanes)", () => {
  it("sends a webhook of receipts only, in one or several changes, to the statuses lane", () => {
    const one = extractRouting(
      account([statusesChange("1065", [status("sent"), status("delivered"), status("read")])]),
    );
    expect(one).toEqual({
      phoneNumberIds: ["1065"],
      wabaIds: ["102290129340398"],
      lane: "statuses",
    });
    const two = extractRouting(
      account([
        statusesChange("1065", [status("played")]),
        statusesChange("1066", [status("read")]),
      ]),
    );
    expect(two.lane).toBe("statuses");
    // As Meta posts receipts since the BSUID change (and the simulator does): with contacts[].
    const withContacts = extractRouting(
      account([
        {
          field: "messages",
          value: {
            ...statusesChange("1065", [status("delivered")]).value,
            contacts: [{ wa_id: "16505551234", user_id: "US.13491208655302741918" }],
          },
        },
      ]),
    );
    expect(withContacts.lane).toBe("statuses");
    // Same key as any webhook of that number: one number's receipts stay in order in their lane.
    expect(recordKeyOf(one)).toBe("1065");
  });

  it("keeps a failure, a message, user_preferences and anything unknown in the main lane", () => {
    const main = [
      account([statusesChange("1065", [status("delivered"), status("failed")])]),
      account([statusesChange("1065", [status("read")]), messagesChange("1065")]),
      account([
        {
          field: "messages",
          value: { ...statusesChange("1065", [status("read")]).value, messages: [] },
        },
      ]),
      account([
        {
          field: "messages",
          value: { ...statusesChange("1065", [status("read")]).value, errors: [{ code: 131000 }] },
        },
      ]),
      account([{ field: "user_preferences", value: { user_preferences: [] } }]),
      account([statusesChange("1065", [])]),
      account([statusesChange("1065", [{ id: "wamid.out" }])]),
      account([statusesChange("1065", ["read"])]),
      account([{ field: "message_template_status_update", value: { event: "APPROVED" } }]),
      account([]),
      json({
        object: "page",
        entry: [{ id: "1", changes: [statusesChange("1065", [status("read")])] }],
      }),
      json({ entry: [{ id: "1", changes: [statusesChange("1065", [status("read")])] }] }),
      bytes("not json"),
    ];
    for (const body of main) expect(extractRouting(body).lane).toBe("webhooks");
  });

  it("puts a body in the statuses lane only when every change is receipts without a failure (property)", () => {
    const statusValue = fc.constantFrom("sent", "delivered", "read", "played", "failed", "deleted");
    const change = fc.oneof(
      fc
        .array(statusValue.map(status), { maxLength: 4 })
        .map((list) => statusesChange("1065", list)),
      fc.array(statusValue.map(status), { maxLength: 4 }).map((list) => ({
        field: "messages",
        value: { ...statusesChange("1065", list).value, contacts: [{ wa_id: "16505551234" }] },
      })),
      fc.constant(messagesChange("1065")),
      fc.anything(),
    );
    fc.assert(
      fc.property(fc.array(change, { maxLength: 5 }), fc.boolean(), (changes, wellFormed) => {
        const body = wellFormed ? account(changes) : json({ entry: [{ id: "1", changes }] });
        const lane = extractRouting(body).lane;
        const receiptsOnly =
          wellFormed &&
          changes.length > 0 &&
          changes.every((c) => {
            if (typeof c !== "object" || c === null || !("field" in c) || c.field !== "messages")
              return false;
            const value = (c as { value?: unknown }).value;
            if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
            const keys = Object.keys(value);
            const list = (value as { statuses?: unknown }).statuses;
            return (
              keys.every((k) =>
                ["messaging_product", "metadata", "statuses", "contacts"].includes(k),
              ) &&
              Array.isArray(list) &&
              list.length > 0 &&
              list.every(
                (x: unknown) =>
                  typeof x === "object" &&
                  x !== null &&
                  typeof (x as { status?: unknown }).status === "string" &&
                  (x as { status: string }).status !== "failed",
              )
            );
          });
        expect(lane).toBe(receiptsOnly ? "statuses" : "webhooks");
      }),
      { numRuns: 300 },
    );
  });
});
