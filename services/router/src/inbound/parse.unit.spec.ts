import { createEvent, type AnyEvent, type EventOf } from "@parley/contracts";
import { describe, expect, it } from "vitest";
import { parseWebhook, UnparseableWebhookError } from "./parse.js";

const WABA = "102290129340398";
const PNID = "106540352242922";
const WA = "16505551234";
const NOW = new Date("2026-03-01T12:00:00.000Z");
const TS = "1772359200"; // 2026-03-01T10:00:00Z
const TS_ISO = "2026-03-01T10:00:00.000Z";

function rawEvent(deliveryId = "delivery-1"): EventOf<"RawWebhookReceived"> {
  return createEvent(
    "RawWebhookReceived",
    {
      deliveryId,
      bodyBase64: "",
      signature: "sha256=00",
      sizeBytes: 0,
      phoneNumberIds: [PNID],
      wabaIds: [WABA],
    },
    { correlationId: deliveryId, now: NOW },
  );
}

const parse = (payload: unknown, raw = rawEvent()) =>
  parseWebhook({ raw, body: JSON.stringify(payload), now: NOW });

const envelope = (changes: readonly unknown[], id = WABA) => ({
  object: "whatsapp_business_account",
  entry: [{ id, changes }],
});

const messagesChange = (value: Record<string, unknown>, pnid = PNID) => ({
  field: "messages",
  value: {
    messaging_product: "whatsapp",
    metadata: { display_phone_number: "15550783881", phone_number_id: pnid },
    ...value,
  },
});

const contact = { profile: { name: "Sheena" }, wa_id: WA, user_id: "US.13491208655302741918" };
const message = (m: Record<string, unknown>) =>
  envelope([
    messagesChange({
      contacts: [contact],
      messages: [{ from: WA, id: "wamid.IN1", timestamp: TS, ...m }],
    }),
  ]);

function only<T extends AnyEvent["type"]>(events: readonly AnyEvent[], type: T) {
  expect(events).toHaveLength(1);
  const [event] = events;
  expect(event?.type).toBe(type);
  return event as Extract<AnyEvent, { type: T }>;
}

const media = { id: "1166", mime_type: "image/jpeg", sha256: "b64sha==", url: "https://x/y" };

describe("parseWebhook: every inbound message type", () => {
  it.each([
    [
      "text",
      { type: "text", text: { body: "hi there" } },
      { type: "text", text: { body: "hi there" } },
    ],
    [
      "image",
      { type: "image", image: { ...media, caption: "look" } },
      {
        type: "image",
        image: {
          id: "1166",
          mimeType: "image/jpeg",
          sha256: "b64sha==",
          url: "https://x/y",
          caption: "look",
        },
      },
    ],
    [
      "video",
      { type: "video", video: { ...media, mime_type: "video/mp4" } },
      {
        type: "video",
        video: { id: "1166", mimeType: "video/mp4", sha256: "b64sha==", url: "https://x/y" },
      },
    ],
    [
      "audio (voice note)",
      {
        type: "audio",
        audio: { id: "a1", mime_type: "audio/ogg; codecs=opus", sha256: "s", voice: true },
      },
      {
        type: "audio",
        audio: { id: "a1", mimeType: "audio/ogg; codecs=opus", sha256: "s", voice: true },
      },
    ],
    [
      "document",
      {
        type: "document",
        document: {
          id: "d1",
          mime_type: "application/pdf",
          sha256: "s",
          filename: "inv.pdf",
          caption: "invoice",
        },
      },
      {
        type: "document",
        document: {
          id: "d1",
          mimeType: "application/pdf",
          sha256: "s",
          filename: "inv.pdf",
          caption: "invoice",
        },
      },
    ],
    [
      "sticker",
      {
        type: "sticker",
        sticker: { id: "s1", mime_type: "image/webp", sha256: "s", animated: false },
      },
      {
        type: "sticker",
        sticker: { id: "s1", mimeType: "image/webp", sha256: "s", animated: false },
      },
    ],
    [
      "location",
      {
        type: "location",
        location: { latitude: 38.9, longitude: -77.03, name: "Office", address: "1 Main St" },
      },
      {
        type: "location",
        location: { latitude: 38.9, longitude: -77.03, name: "Office", address: "1 Main St" },
      },
    ],
    [
      "contacts",
      {
        type: "contacts",
        contacts: [
          {
            name: { formatted_name: "Ana Diaz", first_name: "Ana" },
            phones: [{ phone: "+1 650 555 0000", wa_id: "16505550000", type: "CELL" }],
            emails: [{ email: "ana@example.com", type: "WORK" }],
            org: { company: "Acme" },
            birthday: "1990-01-31",
          },
        ],
      },
      {
        type: "contacts",
        contacts: [
          {
            name: { formattedName: "Ana Diaz", firstName: "Ana" },
            phones: [{ phone: "+1 650 555 0000", waId: "16505550000", type: "CELL" }],
            emails: [{ email: "ana@example.com", type: "WORK" }],
            org: { company: "Acme" },
            birthday: "1990-01-31",
          },
        ],
      },
    ],
    [
      "button",
      {
        type: "button",
        button: { text: "Yes", payload: "CONFIRM" },
        context: { from: "15550783881", id: "wamid.T" },
      },
      { type: "button", button: { text: "Yes", payload: "CONFIRM" } },
    ],
    [
      "interactive button_reply",
      {
        type: "interactive",
        interactive: { type: "button_reply", button_reply: { id: "b1", title: "Yes" } },
      },
      { type: "interactive", interactive: { type: "button_reply", id: "b1", title: "Yes" } },
    ],
    [
      "interactive list_reply",
      {
        type: "interactive",
        interactive: {
          type: "list_reply",
          list_reply: { id: "r1", title: "Row", description: "d" },
        },
      },
      {
        type: "interactive",
        interactive: { type: "list_reply", id: "r1", title: "Row", description: "d" },
      },
    ],
    [
      "interactive nfm_reply (flow)",
      {
        type: "interactive",
        interactive: {
          type: "nfm_reply",
          nfm_reply: { name: "flow", body: "Sent", response_json: '{"flow_token":"t"}' },
        },
      },
      {
        type: "interactive",
        interactive: {
          type: "nfm_reply",
          name: "flow",
          body: "Sent",
          responseJson: '{"flow_token":"t"}',
        },
      },
    ],
    [
      "interactive call_permission_reply",
      {
        type: "interactive",
        interactive: {
          type: "call_permission_reply",
          call_permission_reply: {
            response: "accept",
            is_permanent: false,
            expiration_timestamp: 1772445600,
          },
        },
      },
      {
        type: "interactive",
        interactive: {
          type: "call_permission_reply",
          response: "accept",
          isPermanent: false,
          expiresAt: "2026-03-02T10:00:00.000Z",
        },
      },
    ],
    [
      "interactive of an unknown kind (kept)",
      { type: "interactive", interactive: { type: "poll_reply", poll_reply: { option: 2 } } },
      {
        type: "interactive",
        interactive: {
          type: "unknown",
          originalType: "poll_reply",
          payload: { type: "poll_reply", poll_reply: { option: 2 } },
        },
      },
    ],
    [
      "reaction",
      { type: "reaction", reaction: { message_id: "wamid.OUT", emoji: "👍" } },
      { type: "reaction", reaction: { messageId: "wamid.OUT", emoji: "👍" } },
    ],
    [
      "reaction removed",
      { type: "reaction", reaction: { message_id: "wamid.OUT" } },
      { type: "reaction", reaction: { messageId: "wamid.OUT" } },
    ],
    [
      "order",
      {
        type: "order",
        order: {
          catalog_id: "cat1",
          text: "please",
          product_items: [
            { product_retailer_id: "sku1", quantity: 2, item_price: 9.5, currency: "USD" },
          ],
        },
      },
      {
        type: "order",
        order: {
          catalogId: "cat1",
          text: "please",
          productItems: [
            { productRetailerId: "sku1", quantity: 2, itemPrice: 9.5, currency: "USD" },
          ],
        },
      },
    ],
    [
      "system: user_changed_number",
      {
        type: "system",
        system: { body: "changed", type: "user_changed_number", wa_id: "16505559999" },
      },
      {
        type: "system",
        system: { body: "changed", systemType: "user_changed_number", waId: "16505559999" },
      },
    ],
    [
      "system: customer_identity_changed",
      {
        type: "system",
        system: { body: "identity", type: "customer_identity_changed", customer: WA },
        identity: { acknowledged: true, created_timestamp: 1772359200, hash: "h" },
      },
      {
        type: "system",
        system: { body: "identity", systemType: "customer_identity_changed", customer: WA },
        identity: { acknowledged: true, createdAt: TS_ISO, hash: "h" },
      },
    ],
    [
      "unsupported",
      {
        type: "unsupported",
        unsupported: { type: "poll" },
        errors: [{ code: 131051, title: "Message type unknown", error_data: { details: "polls" } }],
      },
      { type: "unsupported", unsupported: { unsupportedType: "poll" } },
    ],
    ["request_welcome", { type: "request_welcome" }, { type: "request_welcome" }],
    [
      "revoke",
      { type: "revoke", revoke: { original_message_id: "wamid.OLD" } },
      { type: "revoke", revoke: { originalMessageId: "wamid.OLD" } },
    ],
    [
      "edit",
      {
        type: "edit",
        edit: { original_message_id: "wamid.OLD", message: { type: "text", text: { body: "v2" } } },
      },
      {
        type: "edit",
        edit: { originalMessageId: "wamid.OLD", message: { type: "text", text: { body: "v2" } } },
      },
    ],
  ])("%s", (_name, m, expected) => {
    const event = only(parse(message(m)), "InboundMessageReceived");
    expect(event.data.message).toEqual(expected);
    expect(event.data.contactId).toBe(WA);
    expect(event.data.wamid).toBe("wamid.IN1");
    expect(event.occurredAt).toBe(TS_ISO);
    expect(event.businessNumber).toBe(PNID);
    expect(event.data.origin).toEqual({
      deliveryId: "delivery-1",
      wabaId: WABA,
      displayPhoneNumber: "15550783881",
    });
    expect(event.data.contact).toEqual({
      waId: WA,
      userId: "US.13491208655302741918",
      profileName: "Sheena",
    });
  });

  it("keeps an unknown message type whole, flagged as unknown", () => {
    const m = {
      from: WA,
      id: "wamid.IN1",
      timestamp: TS,
      type: "hologram",
      hologram: { depth: 3 },
    };
    const event = only(
      parse(envelope([messagesChange({ contacts: [contact], messages: [m] })])),
      "InboundMessageReceived",
    );
    expect(event.data.message).toEqual({ type: "unknown", originalType: "hologram", payload: m });
  });

  it("keeps a known type whose shape it cannot read as unknown, never dropping it", () => {
    const m = {
      from: WA,
      id: "wamid.IN1",
      timestamp: TS,
      type: "location",
      location: { latitude: "north" },
    };
    const event = only(
      parse(envelope([messagesChange({ messages: [m] })])),
      "InboundMessageReceived",
    );
    expect(event.data.message).toEqual({ type: "unknown", originalType: "location", payload: m });
  });

  it("reads context, referral, group id and message errors; ignores unknown fields", () => {
    const event = only(
      parse(
        message({
          type: "text",
          text: { body: "from the ad", future_field: 1 },
          brand_new_field: { x: 1 },
          group_id: "g1",
          context: {
            from: "15550783881",
            id: "wamid.Q",
            forwarded: true,
            referred_product: { catalog_id: "c", product_retailer_id: "p" },
          },
          referral: {
            source_url: "https://fb.me/x",
            source_id: "ad1",
            source_type: "ad",
            headline: "Sale",
            media_type: "image",
            image_url: "https://x/i",
            ctwa_clid: "clid",
            welcome_message: { text: "Hi!" },
          },
          errors: [{ code: 131051, title: "Unsupported" }],
        }),
      ),
      "InboundMessageReceived",
    );
    expect(event.data.context).toEqual({
      from: "15550783881",
      id: "wamid.Q",
      forwarded: true,
      referredProduct: { catalogId: "c", productRetailerId: "p" },
    });
    expect(event.data.referral).toEqual({
      sourceUrl: "https://fb.me/x",
      sourceId: "ad1",
      sourceType: "ad",
      headline: "Sale",
      mediaType: "image",
      imageUrl: "https://x/i",
      ctwaClid: "clid",
      welcomeMessageText: "Hi!",
    });
    expect(event.data.groupId).toBe("g1");
    expect(event.data.errors).toEqual([{ code: 131051, title: "Unsupported" }]);
  });

  it("a username user with no wa_id is keyed by their BSUID", () => {
    const payload = envelope([
      messagesChange({
        contacts: [{ profile: { name: "U", username: "@u" }, user_id: "US.1" }],
        messages: [
          { from_user_id: "US.1", id: "wamid.U", timestamp: TS, type: "text", text: { body: "x" } },
        ],
      }),
    ]);
    const event = only(parse(payload), "InboundMessageReceived");
    expect(event.data.contactId).toBe("US.1");
    expect(event.data.contact).toEqual({ userId: "US.1", profileName: "U", username: "@u" });
  });
});

describe("parseWebhook: statuses", () => {
  const statusPayload = (s: Record<string, unknown>, contacts?: unknown[]) =>
    envelope([
      messagesChange({
        ...(contacts ? { contacts } : {}),
        statuses: [{ id: "wamid.OUT", recipient_id: WA, timestamp: TS, ...s }],
      }),
    ]);

  it("sent, with conversation, pricing and biz_opaque_callback_data", () => {
    const event = only(
      parse(
        statusPayload(
          {
            status: "sent",
            biz_opaque_callback_data: "order-42",
            conversation: {
              id: "c1",
              expiration_timestamp: "1772445600",
              origin: { type: "marketing" },
            },
            pricing: {
              billable: true,
              pricing_model: "PMP",
              type: "regular",
              category: "marketing",
            },
          },
          [contact],
        ),
      ),
      "StatusUpdated",
    );
    expect(event.data).toEqual({
      contactId: WA,
      wamid: "wamid.OUT",
      status: "sent",
      origin: { deliveryId: "delivery-1", wabaId: WABA, displayPhoneNumber: "15550783881" },
      recipientId: WA,
      contact: { waId: WA, userId: "US.13491208655302741918", profileName: "Sheena" },
      bizOpaqueCallbackData: "order-42",
      conversation: { id: "c1", expiresAt: "2026-03-02T10:00:00.000Z", originType: "marketing" },
      pricing: { pricingModel: "PMP", type: "regular", category: "marketing", billable: true },
    });
    expect(event.occurredAt).toBe(TS_ISO);
  });

  it.each(["delivered", "read", "played"])("%s", (status) => {
    expect(only(parse(statusPayload({ status })), "StatusUpdated").data.status).toBe(status);
  });

  it("failed, with errors and no pricing or contacts", () => {
    const event = only(
      parse(
        statusPayload({
          status: "failed",
          errors: [
            {
              code: 131047,
              title: "Re-engagement message",
              message: "Re-engagement message",
              error_data: { details: "More than 24 hours have passed" },
              href: "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            },
          ],
        }),
      ),
      "StatusUpdated",
    );
    expect(event.data.errors).toEqual([
      {
        code: 131047,
        title: "Re-engagement message",
        message: "Re-engagement message",
        details: "More than 24 hours have passed",
        href: "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
      },
    ]);
  });

  it("a group send names the group and the participant; participants get distinct ids", () => {
    const events = parse(
      envelope([
        messagesChange({
          statuses: ["p1", "p2"].map((p) => ({
            id: "wamid.G",
            status: "delivered",
            timestamp: TS,
            recipient_id: "group-1",
            recipient_type: "group",
            recipient_participant_id: p,
          })),
        }),
      ]),
    );
    expect(events.map((e) => e.type)).toEqual(["StatusUpdated", "StatusUpdated"]);
    expect(events[0]?.eventId).not.toBe(events[1]?.eventId);
  });

  it("sent by BSUID: keyed by recipient_user_id", () => {
    const event = only(
      parse(
        envelope([
          messagesChange({
            statuses: [
              {
                id: "wamid.B",
                status: "read",
                timestamp: TS,
                recipient_user_id: "US.9",
                parent_recipient_user_id: "US.P",
              },
            ],
          }),
        ]),
      ),
      "StatusUpdated",
    );
    expect(event.data.contactId).toBe("US.9");
    expect(event.data.parentRecipientUserId).toBe("US.P");
  });

  it("an unknown status value is kept as an unknown field event", () => {
    const event = only(parse(statusPayload({ status: "deleted" })), "UnknownWebhookFieldReceived");
    expect(event.data.field).toBe("messages.statuses");
    expect(event.data.value).toEqual({
      status: { id: "wamid.OUT", recipient_id: WA, timestamp: TS, status: "deleted" },
    });
  });
});

describe("parseWebhook: errors and other fields", () => {
  it("value.errors[] becomes WebhookErrorsReceived for the business number", () => {
    const event = only(
      parse(
        envelope([
          messagesChange({
            errors: [{ code: 131000, title: "Something went wrong", error_data: { details: "x" } }],
          }),
        ]),
      ),
      "WebhookErrorsReceived",
    );
    expect(event.data).toEqual({
      wabaId: WABA,
      deliveryId: "delivery-1",
      phoneNumberId: PNID,
      errors: [{ code: 131000, title: "Something went wrong", details: "x" }],
    });
    expect(event.businessNumber).toBe(PNID);
  });

  it("user_preferences: marketing stop", () => {
    const event = only(
      parse(
        envelope([
          {
            field: "user_preferences",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: PNID },
              contacts: [contact],
              user_preferences: [
                {
                  wa_id: WA,
                  detail: "User requested to stop marketing messages",
                  category: "marketing_messages",
                  value: "stop",
                  timestamp: 1772359200,
                },
              ],
            },
          },
        ]),
      ),
      "UserPreferencesUpdated",
    );
    expect(event.data).toEqual({
      wabaId: WABA,
      deliveryId: "delivery-1",
      contactId: WA,
      category: "marketing_messages",
      value: "stop",
      detail: "User requested to stop marketing messages",
    });
    expect(event.occurredAt).toBe(TS_ISO);
  });

  const field = (name: string, value: Record<string, unknown>) => ({
    object: "whatsapp_business_account",
    entry: [{ id: WABA, time: 1772359200, changes: [{ field: name, value }] }],
  });

  it.each([
    [
      "message_template_status_update",
      {
        event: "REJECTED",
        message_template_id: 123456,
        message_template_name: "order_update",
        message_template_language: "en_US",
        reason: "INVALID_FORMAT",
        rejection_info: { reason: "bad", recommendation: "fix" },
      },
      "TemplateStatusUpdated",
      {
        templateId: "123456",
        templateName: "order_update",
        language: "en_US",
        event: "REJECTED",
        reason: "INVALID_FORMAT",
        rejectionInfo: { reason: "bad", recommendation: "fix" },
      },
    ],
    [
      "message_template_quality_update",
      {
        previous_quality_score: "GREEN",
        new_quality_score: "YELLOW",
        message_template_id: 1,
        message_template_name: "t",
        message_template_language: "es",
      },
      "TemplateQualityUpdated",
      {
        templateId: "1",
        templateName: "t",
        language: "es",
        previousQualityScore: "GREEN",
        newQualityScore: "YELLOW",
      },
    ],
    [
      "template_category_update",
      {
        message_template_id: 2,
        message_template_name: "t",
        message_template_language: "en",
        previous_category: "UTILITY",
        new_category: "MARKETING",
      },
      "TemplateCategoryUpdated",
      {
        templateId: "2",
        templateName: "t",
        language: "en",
        previousCategory: "UTILITY",
        newCategory: "MARKETING",
      },
    ],
    [
      "phone_number_quality_update",
      {
        display_phone_number: "15550783881",
        event: "UPGRADE",
        current_limit: "TIER_10K",
        old_limit: "TIER_1K",
      },
      "PhoneNumberQualityUpdated",
      {
        displayPhoneNumber: "15550783881",
        event: "UPGRADE",
        currentLimit: "TIER_10K",
        oldLimit: "TIER_1K",
      },
    ],
    [
      "account_update",
      {
        event: "ACCOUNT_RESTRICTION",
        restriction_info: [
          { restriction_type: "RESTRICTED_ADD_PHONE_NUMBER_ACTION", expiration: 1772445600 },
        ],
      },
      "AccountUpdated",
      {
        event: "ACCOUNT_RESTRICTION",
        value: {
          event: "ACCOUNT_RESTRICTION",
          restriction_info: [
            { restriction_type: "RESTRICTED_ADD_PHONE_NUMBER_ACTION", expiration: 1772445600 },
          ],
        },
      },
    ],
    [
      "business_capability_update",
      { max_daily_conversations_per_business: 1000, max_phone_numbers_per_business: 2 },
      "BusinessCapabilityUpdated",
      {
        maxDailyConversationsPerBusiness: 1000,
        maxPhoneNumbersPerBusiness: 2,
        value: { max_daily_conversations_per_business: 1000, max_phone_numbers_per_business: 2 },
      },
    ],
  ] as const)("%s", (name, value, type, expected) => {
    const event = only(parse(field(name, value)), type);
    expect(event.data).toEqual({ wabaId: WABA, deliveryId: "delivery-1", ...expected });
    expect(event.occurredAt).toBe(TS_ISO);
  });

  it("an unknown field is kept whole as UnknownWebhookFieldReceived", () => {
    const value = { call_id: "c1", whatever: [1, 2] };
    const event = only(parse(field("calls", value)), "UnknownWebhookFieldReceived");
    expect(event.data).toEqual({ wabaId: WABA, deliveryId: "delivery-1", field: "calls", value });
  });

  it("a messages change with nothing we know is kept too", () => {
    const event = only(
      parse(envelope([messagesChange({ message_echoes: [{ id: "e" }] })])),
      "UnknownWebhookFieldReceived",
    );
    expect(event.data.field).toBe("messages");
  });
});

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
