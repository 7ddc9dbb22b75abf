import { describe, expect, it } from "vitest";
import {
  contact,
  envelope,
  messagesChange,
  only,
  parse,
  TS,
  TS_ISO,
  WA,
  WABA,
} from "./parse.unit-helpers.js";

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
          statuses: ["16505551111", "16505552222"].map((p) => ({
            id: "wamid.G",
            status: "delivered",
            timestamp: TS,
            recipient_id: "120363044387891234ZD",
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
                recipient_user_id: "US.90000000000000000009",
                parent_recipient_user_id: "US.ENT.11815799212886844830",
              },
            ],
          }),
        ]),
      ),
      "StatusUpdated",
    );
    expect(event.data.contactId).toBe("US.90000000000000000009");
    expect(event.data.parentRecipientUserId).toBe("US.ENT.11815799212886844830");
  });

  it("an unknown status value is kept as an unknown field event", () => {
    const event = only(parse(statusPayload({ status: "deleted" })), "UnknownWebhookFieldReceived");
    expect(event.data.field).toBe("messages.statuses");
    expect(event.data.value).toEqual({
      status: { id: "wamid.OUT", recipient_id: WA, timestamp: TS, status: "deleted" },
    });
  });
});
