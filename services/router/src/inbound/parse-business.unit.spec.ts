import { describe, expect, it } from "vitest";
import {
  contact,
  envelope,
  messagesChange,
  only,
  parse,
  PNID,
  TS_ISO,
  WA,
  WABA,
} from "./parse.unit-helpers.js";

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
