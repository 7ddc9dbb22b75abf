import { describe, expect, it } from "vitest";
import { MessageValidationError, validateMessage } from "@parley/cloud-api";
import { outboundContent, type OutboundContent } from "@parley/contracts";
import { checkGraphMessage, checkedGraphMessage, graphMessageOf } from "./index.js";
import {
  body,
  contentCases,
  footer,
  header,
  interactiveCases,
  WAMID,
} from "./graph-message.cases.unit-helpers.js";

const TO = "+15551230001";
const send = (content: OutboundContent, replyTo?: string) =>
  graphMessageOf({
    to: TO,
    toKind: "phone",
    content,
    ...(replyTo === undefined ? {} : { replyTo }),
    bizOpaqueCallbackData: "req-42",
  });
const envelope = {
  messaging_product: "whatsapp",
  recipient_type: "individual",
  to: TO,
  biz_opaque_callback_data: "req-42",
};

/** The field a MessageValidationError names, or undefined when the message passes. */
function refusal(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    if (error instanceof MessageValidationError) return error.field;
    throw error;
  }
}

describe("graphMessageOf: every content type as Graph takes it (reference §1)", () => {
  it.each(contentCases)("%s", (_name, content, wire) => {
    const m = send(content);
    expect(m).toStrictEqual({ ...envelope, ...wire });
    expect(
      refusal(() => {
        validateMessage(m);
      }),
    ).toBeUndefined();
    expect(
      refusal(() => {
        checkGraphMessage(m);
      }),
    ).toBeUndefined();
  });
});

describe("graphMessageOf: coverage", () => {
  it("has a case for every content type the contract has", () => {
    expect(new Set([...contentCases, ...interactiveCases].map(([, c]) => c.type))).toEqual(
      new Set(outboundContent.options.map((o) => o.shape.type.value)),
    );
  });
});

describe("graphMessageOf: every interactive type, nested under action (reference §1.6)", () => {
  it.each(interactiveCases)("%s", (_name, content, interactive) => {
    const m = send(content);
    expect(m).toStrictEqual({ ...envelope, type: "interactive", interactive });
    expect(JSON.parse(JSON.stringify(m))).toStrictEqual(m);
    expect(
      refusal(() => {
        validateMessage(m);
      }),
    ).toBeUndefined();
    expect(
      refusal(() => {
        checkGraphMessage(m);
      }),
    ).toBeUndefined();
  });

  it("covers every kind the contract has", () => {
    const kinds = interactiveCases.map(([, c]) =>
      c.type === "interactive" ? c.interactive.type : "",
    );
    expect(new Set(kinds)).toEqual(
      new Set([
        "button",
        "list",
        "cta_url",
        "flow",
        "location_request_message",
        "call_permission_request",
        "product",
        "product_list",
        "catalog_message",
      ]),
    );
  });
});

describe("graphMessageOf: the envelope", () => {
  it("quotes a message through context.message_id", () => {
    expect(send({ type: "text", text: { body: "Sure" } }, WAMID)).toStrictEqual({
      ...envelope,
      context: { message_id: WAMID },
      type: "text",
      text: { body: "Sure" },
    });
  });

  it("sends to a BSUID in `recipient` instead of `to` (reference 1.1), and the check accepts it", () => {
    const m = graphMessageOf({
      to: "US.13491208655302741918",
      toKind: "userId",
      content: { type: "text", text: { body: "hi" } },
      bizOpaqueCallbackData: "req-43",
    });
    expect(m).toStrictEqual({
      messaging_product: "whatsapp",
      recipient_type: "individual",
      recipient: "US.13491208655302741918",
      biz_opaque_callback_data: "req-43",
      type: "text",
      text: { body: "hi" },
    });
  });

  it("takes a DispatchMessage's data as it is (extra fields are not copied)", () => {
    const m = graphMessageOf({
      requestId: "req-44",
      to: TO,
      toKind: "phone",
      content: { type: "audio", audio: { id: "9" } },
      replyTo: undefined,
      bizOpaqueCallbackData: "req-44",
      category: "service",
    } as Parameters<typeof graphMessageOf>[0]);
    expect(m).toStrictEqual({
      ...envelope,
      biz_opaque_callback_data: "req-44",
      type: "audio",
      audio: { id: "9" },
    });
  });
});

describe("checkGraphMessage: broken content is refused naming the field", () => {
  const cases: readonly (readonly [string, OutboundContent, string])[] = [
    [
      "media with both id and link",
      { type: "image", image: { id: "1", link: "https://ex.com/i.png" } },
      "image",
    ],
    ["media with neither", { type: "sticker", sticker: {} }, "sticker"],
    [
      "a too long caption",
      { type: "video", video: { id: "1", caption: "x".repeat(1025) } },
      "video.caption",
    ],
    ["a blank text", { type: "text", text: { body: "  " } }, "text.body"],
    [
      "a latitude out of range",
      { type: "location", location: { latitude: 91, longitude: 0 } },
      "location.latitude",
    ],
    [
      "a contact birthday in another format",
      { type: "contacts", contacts: [{ name: { formattedName: "J" }, birthday: "25/02/1990" }] },
      "contacts[0].birthday",
    ],
    [
      "a reaction without a message id",
      { type: "reaction", reaction: { messageId: " ", emoji: "😀" } },
      "reaction.message_id",
    ],
    [
      "a template parameter name with capitals",
      {
        type: "template",
        template: {
          name: "t",
          language: { code: "en" },
          components: [
            { type: "body", parameters: [{ type: "text", text: "a", parameterName: "A" }] },
          ],
        },
      },
      "template.components[0].parameters[0].parameter_name",
    ],
    [
      "a currency code that is not ISO 4217",
      {
        type: "template",
        template: {
          name: "t",
          language: { code: "en" },
          components: [
            {
              type: "body",
              parameters: [
                {
                  type: "currency",
                  currency: { fallbackValue: "$1", code: "usd", amount1000: 1000 },
                },
              ],
            },
          ],
        },
      },
      "template.components[0].parameters[0].currency.code",
    ],
    [
      "duplicate reply button titles",
      {
        type: "interactive",
        interactive: {
          type: "button",
          body,
          buttons: [
            { id: "a", title: "Yes" },
            { id: "b", title: "Yes" },
          ],
        },
      },
      "interactive.action.buttons[1]",
    ],
    [
      "a list with 11 rows in total",
      {
        type: "interactive",
        interactive: {
          type: "list",
          body,
          button: "Pick",
          sections: [
            { rows: Array.from({ length: 11 }, (_, n) => ({ id: `r${n}`, title: `R${n}` })) },
          ],
        },
      },
      "interactive.action.sections",
    ],
    [
      "a flow with both flow_id and flow_name",
      {
        type: "interactive",
        interactive: {
          type: "flow",
          body,
          flowMessageVersion: "3",
          flowId: "1",
          flowName: "book",
          flowCta: "Book",
        },
      },
      "interactive.action.parameters",
    ],
    [
      "a cta_url that is not http(s)",
      {
        type: "interactive",
        interactive: { type: "cta_url", body, displayText: "Open", url: "ftp://ex.com/x" },
      },
      "interactive.action.parameters.url",
    ],
    [
      "a button message without a body",
      {
        type: "interactive",
        interactive: { type: "button", buttons: [{ id: "a", title: "A" }] },
      },
      "interactive.body.text",
    ],
    [
      "a product without a body (the Graph client's validator needs one)",
      {
        type: "interactive",
        interactive: { type: "product", catalogId: "1", productRetailerId: "sku" },
      },
      "interactive.body.text",
    ],
    [
      "a location request with a header",
      {
        type: "interactive",
        interactive: { type: "location_request_message", header, body },
      },
      "interactive.header",
    ],
    [
      "a location request with a footer",
      {
        type: "interactive",
        interactive: { type: "location_request_message", body, footer },
      },
      "interactive.footer",
    ],
    [
      "a catalog message footer over 60 characters",
      {
        type: "interactive",
        interactive: { type: "catalog_message", body, footer: { text: "f".repeat(61) } },
      },
      "interactive.footer.text",
    ],
    [
      "a product list with a blank catalog id",
      {
        type: "interactive",
        interactive: {
          type: "product_list",
          header,
          body,
          catalogId: "",
          sections: [{ productItems: [{ productRetailerId: "sku" }] }],
        },
      },
      "interactive.action.catalog_id",
    ],
    [
      "a product list item with a blank retailer id",
      {
        type: "interactive",
        interactive: {
          type: "product_list",
          header,
          body,
          catalogId: "1",
          sections: [{ productItems: [{ productRetailerId: "sku" }, { productRetailerId: " " }] }],
        },
      },
      "interactive.action.sections[0].product_items[1].product_retailer_id",
    ],
    [
      "a single product with a blank retailer id",
      {
        type: "interactive",
        interactive: { type: "product", body, catalogId: "1", productRetailerId: "" },
      },
      "interactive.action.product_retailer_id",
    ],
  ];

  it.each(cases)("%s", (_name, content, field) => {
    expect(
      refusal(() => {
        checkGraphMessage(send(content));
      }),
    ).toBe(field);
  });

  it("refuses the envelope's faults too: callback data over 512 bytes, a blank reply id", () => {
    const content: OutboundContent = { type: "text", text: { body: "hi" } };
    expect(
      refusal(() =>
        checkedGraphMessage({ to: TO, content, bizOpaqueCallbackData: "é".repeat(257) }),
      ),
    ).toBe("biz_opaque_callback_data");
    expect(
      refusal(() =>
        checkedGraphMessage({ to: TO, content, replyTo: " ", bizOpaqueCallbackData: "r" }),
      ),
    ).toBe("context.message_id");
  });

  it("returns the very body it checked", () => {
    const input = {
      to: TO,
      content: { type: "text", text: { body: "hi" } } as const,
      bizOpaqueCallbackData: "r",
    };
    expect(checkedGraphMessage(input)).toStrictEqual(graphMessageOf(input));
  });
});
