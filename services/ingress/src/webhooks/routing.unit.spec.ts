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
    expect(routing).toEqual({ phoneNumberIds: ["106540352242922"], wabaIds: ["102290129340398"] });
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
    expect(routing).toEqual({ phoneNumberIds: ["p2", "p1", "p3"], wabaIds: ["w1", "w2"] });
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
    expect(routing).toEqual({ phoneNumberIds: [], wabaIds: ["102290129340398"] });
    expect(recordKeyOf(routing)).toBe("102290129340398");
  });

  it("reads Meta's \\u-escaped form and numeric ids", () => {
    const body = String.raw`{"entry":[{"id":102290129340398,"changes":[{"value":{"metadata":{"phone_number_id":"106540352242922"},"messages":[{"text":{"body":"Ol\u00e1 \ud83d\ude00 a\/b \u0040"}}]}}]}]}`;
    expect(extractRouting(bytes(body))).toEqual({
      phoneNumberIds: ["106540352242922"],
      wabaIds: ["102290129340398"],
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
    expect(routing).toEqual({ phoneNumberIds: ["42"], wabaIds: ["w9"] });
  });
});
