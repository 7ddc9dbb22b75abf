import { describe, expect, it } from "vitest";
import {
  BSUID,
  contact,
  envelope,
  message,
  messagesChange,
  only,
  parse,
  PNID,
  TS,
  TS_ISO,
  WA,
  WABA,
} from "./parse.unit-helpers.js";

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
          flowToken: "t",
          response: { flow_token: "t" },
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
        contacts: [{ profile: { name: "U", username: "@u" }, user_id: BSUID }],
        messages: [
          { from_user_id: BSUID, id: "wamid.U", timestamp: TS, type: "text", text: { body: "x" } },
        ],
      }),
    ]);
    const event = only(parse(payload), "InboundMessageReceived");
    expect(event.data.contactId).toBe(BSUID);
    expect(event.data.contact).toEqual({ userId: BSUID, profileName: "U", username: "@u" });
  });
});
