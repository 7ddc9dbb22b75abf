import { describe, expect, it } from "vitest";
import { MessageValidationError, validateMessage } from "@parley/cloud-api";
import { outboundContent, type OutboundContent } from "@parley/contracts";
import { checkGraphMessage, checkedGraphMessage, graphMessageOf } from "./index.js";

const TO = "+15551230001";
const WAMID = "wamid.HBgLMTU1NTEyMzAwMDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
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

type Case = readonly [name: string, content: OutboundContent, wire: Record<string, unknown>];

const contentCases: readonly Case[] = [
  [
    "text",
    { type: "text", text: { body: "Your order shipped: https://ex.com/t/42", previewUrl: true } },
    { type: "text", text: { body: "Your order shipped: https://ex.com/t/42", preview_url: true } },
  ],
  [
    "image by id",
    { type: "image", image: { id: "1037543291543636", caption: "Receipt" } },
    { type: "image", image: { id: "1037543291543636", caption: "Receipt" } },
  ],
  [
    "video by link",
    { type: "video", video: { link: "https://ex.com/v.mp4", caption: "How to" } },
    { type: "video", video: { link: "https://ex.com/v.mp4", caption: "How to" } },
  ],
  ["audio", { type: "audio", audio: { id: "1166" } }, { type: "audio", audio: { id: "1166" } }],
  [
    "document",
    {
      type: "document",
      document: { link: "https://ex.com/a.pdf", filename: "a.pdf", caption: "Invoice" },
    },
    {
      type: "document",
      document: { link: "https://ex.com/a.pdf", filename: "a.pdf", caption: "Invoice" },
    },
  ],
  [
    "sticker",
    { type: "sticker", sticker: { link: "https://ex.com/s.webp" } },
    { type: "sticker", sticker: { link: "https://ex.com/s.webp" } },
  ],
  [
    "location",
    {
      type: "location",
      location: {
        latitude: 37.758056,
        longitude: -122.425332,
        name: "HQ",
        address: "1 Hacker Way",
      },
    },
    {
      type: "location",
      location: {
        latitude: 37.758056,
        longitude: -122.425332,
        name: "HQ",
        address: "1 Hacker Way",
      },
    },
  ],
  [
    "contacts",
    {
      type: "contacts",
      contacts: [
        {
          name: { formattedName: "Jane Roe", firstName: "Jane", lastName: "Roe" },
          phones: [{ phone: "+1 650 555 1234", type: "WORK", waId: "16505551234" }],
          emails: [{ email: "j@ex.com", type: "WORK" }],
          urls: [{ url: "https://ex.com" }],
          addresses: [{ street: "1 Hacker Way", city: "Menlo Park", countryCode: "US" }],
          org: { company: "Ex", title: "CTO" },
          birthday: "1990-02-25",
        },
      ],
    },
    {
      type: "contacts",
      contacts: [
        {
          name: { formatted_name: "Jane Roe", first_name: "Jane", last_name: "Roe" },
          phones: [{ phone: "+1 650 555 1234", type: "WORK", wa_id: "16505551234" }],
          emails: [{ email: "j@ex.com", type: "WORK" }],
          urls: [{ url: "https://ex.com" }],
          addresses: [{ street: "1 Hacker Way", city: "Menlo Park", country_code: "US" }],
          org: { company: "Ex", title: "CTO" },
          birthday: "1990-02-25",
        },
      ],
    },
  ],
  [
    "reaction",
    { type: "reaction", reaction: { messageId: WAMID, emoji: "😀" } },
    { type: "reaction", reaction: { message_id: WAMID, emoji: "😀" } },
  ],
  [
    "template (every parameter kind)",
    {
      type: "template",
      template: {
        name: "order_update",
        language: { code: "en_US", policy: "deterministic" },
        components: [
          { type: "header", parameters: [{ type: "image", image: { id: "123" } }] },
          {
            type: "body",
            parameters: [
              { type: "text", text: "Jess", parameterName: "first_name" },
              {
                type: "currency",
                currency: { fallbackValue: "$10.99", code: "USD", amount1000: 10990 },
                parameterName: "total",
              },
              {
                type: "date_time",
                dateTime: { fallbackValue: "Feb 25, 2026" },
                parameterName: "eta",
              },
            ],
          },
          {
            type: "button",
            subType: "quick_reply",
            index: 0,
            parameters: [{ type: "payload", payload: "YES_42" }],
          },
          {
            type: "button",
            subType: "url",
            index: 1,
            parameters: [{ type: "text", text: "track/42" }],
          },
          {
            type: "button",
            subType: "copy_code",
            index: 2,
            parameters: [{ type: "coupon_code", couponCode: "SAVE10" }],
          },
          {
            type: "button",
            subType: "flow",
            index: 3,
            parameters: [
              {
                type: "action",
                action: { flowToken: "ft-1", flowActionData: { orderId: "42", nested: { aB: 1 } } },
              },
            ],
          },
        ],
      },
    },
    {
      type: "template",
      template: {
        name: "order_update",
        language: { code: "en_US", policy: "deterministic" },
        components: [
          { type: "header", parameters: [{ type: "image", image: { id: "123" } }] },
          {
            type: "body",
            parameters: [
              { type: "text", text: "Jess", parameter_name: "first_name" },
              {
                type: "currency",
                currency: { fallback_value: "$10.99", code: "USD", amount_1000: 10990 },
                parameter_name: "total",
              },
              {
                type: "date_time",
                date_time: { fallback_value: "Feb 25, 2026" },
                parameter_name: "eta",
              },
            ],
          },
          {
            type: "button",
            sub_type: "quick_reply",
            index: "0",
            parameters: [{ type: "payload", payload: "YES_42" }],
          },
          {
            type: "button",
            sub_type: "url",
            index: "1",
            parameters: [{ type: "text", text: "track/42" }],
          },
          {
            type: "button",
            sub_type: "copy_code",
            index: "2",
            parameters: [{ type: "coupon_code", coupon_code: "SAVE10" }],
          },
          {
            type: "button",
            sub_type: "flow",
            index: "3",
            parameters: [
              {
                type: "action",
                // Flow data is the flow's own JSON: its keys are not renamed.
                action: {
                  flow_token: "ft-1",
                  flow_action_data: { orderId: "42", nested: { aB: 1 } },
                },
              },
            ],
          },
        ],
      },
    },
  ],
  [
    "template with media and location headers",
    {
      type: "template",
      template: {
        name: "visit",
        language: { code: "pt_BR" },
        components: [
          {
            type: "header",
            parameters: [
              { type: "document", document: { link: "https://ex.com/a.pdf", filename: "a.pdf" } },
            ],
          },
        ],
      },
    },
    {
      type: "template",
      template: {
        name: "visit",
        language: { code: "pt_BR" },
        components: [
          {
            type: "header",
            parameters: [
              { type: "document", document: { link: "https://ex.com/a.pdf", filename: "a.pdf" } },
            ],
          },
        ],
      },
    },
  ],
];

const header = { type: "text", text: "Order 42" } as const;
const body = { text: "What next?" };
const footer = { text: "Ex Store" };

const interactiveCases: readonly Case[] = [
  [
    "button",
    {
      type: "interactive",
      interactive: {
        type: "button",
        header,
        body,
        footer,
        buttons: [
          { id: "yes-42", title: "Yes" },
          { id: "no-42", title: "No" },
        ],
      },
    },
    {
      type: "button",
      header,
      body,
      footer,
      action: {
        buttons: [
          { type: "reply", reply: { id: "yes-42", title: "Yes" } },
          { type: "reply", reply: { id: "no-42", title: "No" } },
        ],
      },
    },
  ],
  [
    "list",
    {
      type: "interactive",
      interactive: {
        type: "list",
        header,
        body,
        button: "Choose",
        sections: [
          {
            title: "Delivery",
            rows: [
              { id: "d1", title: "Tomorrow", description: "Before noon" },
              { id: "d2", title: "Next week" },
            ],
          },
          { title: "Pickup", rows: [{ id: "p1", title: "In store" }] },
        ],
      },
    },
    {
      type: "list",
      header,
      body,
      action: {
        button: "Choose",
        sections: [
          {
            title: "Delivery",
            rows: [
              { id: "d1", title: "Tomorrow", description: "Before noon" },
              { id: "d2", title: "Next week" },
            ],
          },
          { title: "Pickup", rows: [{ id: "p1", title: "In store" }] },
        ],
      },
    },
  ],
  [
    "cta_url with an image header",
    {
      type: "interactive",
      interactive: {
        type: "cta_url",
        header: { type: "image", image: { link: "https://ex.com/p.png" } },
        body,
        displayText: "Track",
        url: "https://ex.com/t/42",
      },
    },
    {
      type: "cta_url",
      header: { type: "image", image: { link: "https://ex.com/p.png" } },
      body,
      action: {
        name: "cta_url",
        parameters: { display_text: "Track", url: "https://ex.com/t/42" },
      },
    },
  ],
  [
    "flow",
    {
      type: "interactive",
      interactive: {
        type: "flow",
        header: { type: "document", document: { id: "77", filename: "menu.pdf" } },
        body,
        flowMessageVersion: "3",
        flowId: "1234567890",
        flowCta: "Book",
        flowToken: "tok-42",
        mode: "published",
        flowAction: "navigate",
        flowActionPayload: { screen: "WELCOME", data: { customerName: "Jess", slotIds: [1, 2] } },
      },
    },
    {
      type: "flow",
      header: { type: "document", document: { id: "77", filename: "menu.pdf" } },
      body,
      action: {
        name: "flow",
        parameters: {
          flow_message_version: "3",
          flow_id: "1234567890",
          flow_cta: "Book",
          flow_token: "tok-42",
          mode: "published",
          flow_action: "navigate",
          flow_action_payload: {
            screen: "WELCOME",
            data: { customerName: "Jess", slotIds: [1, 2] },
          },
        },
      },
    },
  ],
  [
    "location_request_message",
    {
      type: "interactive",
      interactive: { type: "location_request_message", body: { text: "Where should we deliver?" } },
    },
    {
      type: "location_request_message",
      body: { text: "Where should we deliver?" },
      action: { name: "send_location" },
    },
  ],
  [
    "call_permission_request",
    {
      type: "interactive",
      interactive: { type: "call_permission_request", body: { text: "May we call you?" } },
    },
    {
      type: "call_permission_request",
      body: { text: "May we call you?" },
      action: { name: "call_permission_request" },
    },
  ],
  [
    "product",
    {
      type: "interactive",
      interactive: {
        type: "product",
        body: { text: "Back in stock" },
        footer,
        catalogId: "194836987003835",
        productRetailerId: "sku-42",
      },
    },
    {
      type: "product",
      body: { text: "Back in stock" },
      footer,
      action: { catalog_id: "194836987003835", product_retailer_id: "sku-42" },
    },
  ],
  [
    "product_list",
    {
      type: "interactive",
      interactive: {
        type: "product_list",
        header: { type: "text", text: "Summer" },
        body: { text: "Picked for you" },
        catalogId: "194836987003835",
        sections: [
          {
            title: "Shirts",
            productItems: [{ productRetailerId: "sku-1" }, { productRetailerId: "sku-2" }],
          },
          { title: "Hats", productItems: [{ productRetailerId: "sku-3" }] },
        ],
      },
    },
    {
      type: "product_list",
      header: { type: "text", text: "Summer" },
      body: { text: "Picked for you" },
      action: {
        catalog_id: "194836987003835",
        sections: [
          {
            title: "Shirts",
            product_items: [{ product_retailer_id: "sku-1" }, { product_retailer_id: "sku-2" }],
          },
          { title: "Hats", product_items: [{ product_retailer_id: "sku-3" }] },
        ],
      },
    },
  ],
  [
    "catalog_message",
    {
      type: "interactive",
      interactive: {
        type: "catalog_message",
        body: { text: "Browse our catalog" },
        thumbnailProductRetailerId: "sku-1",
      },
    },
    {
      type: "catalog_message",
      body: { text: "Browse our catalog" },
      action: { name: "catalog_message", parameters: { thumbnail_product_retailer_id: "sku-1" } },
    },
  ],
];

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
