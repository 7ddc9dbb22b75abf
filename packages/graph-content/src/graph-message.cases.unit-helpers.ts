import type { OutboundContent } from "@parley/contracts";

// Every content type and every interactive type as SendRequested has it and as Graph takes it
// (reference §1): the cases graph-message.unit.spec.ts runs.

export const WAMID = "wamid.HBgLMTU1NTEyMzAwMDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";

export type Case = readonly [name: string, content: OutboundContent, wire: Record<string, unknown>];

export const contentCases: readonly Case[] = [
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

export const header = { type: "text", text: "Order 42" } as const;
export const body = { text: "What next?" };
export const footer = { text: "Ex Store" };

export const interactiveCases: readonly Case[] = [
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
