import {
  InvalidEventError,
  type AnyEvent,
  type EventName,
  type Truncation,
} from "@parley/contracts";
import { contentDigest } from "./event-id.js";
import { compact, int, obj, objects, str, unixToIso, type Json } from "./json.js";
import { build, contactKeyOf, opaque, unknownField, type ChangeScope } from "./parse-scope.js";

/** The contact of a user_preferences item: its wa_id or BSUID, else the change's first contact. */
function preferenceContact(scope: ChangeScope, p: Json): string | undefined {
  return contactKeyOf([
    ["wa_id", p["wa_id"]],
    ["user_id", p["user_id"]],
    ["contacts[].wa_id", scope.contacts[0]?.["wa_id"]],
    ["contacts[].user_id", scope.contacts[0]?.["user_id"]],
  ]);
}

/** One `user_preferences` item (a contact stopped or resumed marketing messages) as an event. */
export function userPreference(scope: ChangeScope, p: Json): AnyEvent {
  const contactId = preferenceContact(scope, p);
  const category = str(p["category"]);
  const choice = str(p["value"]);
  if (contactId === undefined || category === undefined || choice === undefined) {
    return unknownField(scope, "user_preferences", scope.wabaId, p);
  }
  const occurredAt = unixToIso(p["timestamp"]) ?? scope.entryTime ?? scope.receivedAt;
  return build(
    "UserPreferencesUpdated",
    {
      wabaId: scope.wabaId,
      deliveryId: scope.deliveryId,
      contactId,
      category,
      value: choice,
      ...compact({ detail: str(p["detail"]) }),
    },
    scope,
    `user_preferences:${contactId}:${category}:${choice}:${occurredAt}`,
    occurredAt,
  );
}

/** The items of a `user_preferences` change: its list, or the value itself in the older shape. */
export const userPreferenceItems = (value: Json): readonly Json[] =>
  Array.isArray(value["user_preferences"]) ? objects(value["user_preferences"]) : [value];

export const businessEventTypes = {
  message_template_status_update: "TemplateStatusUpdated",
  message_template_quality_update: "TemplateQualityUpdated",
  template_category_update: "TemplateCategoryUpdated",
  phone_number_quality_update: "PhoneNumberQualityUpdated",
  account_update: "AccountUpdated",
  business_capability_update: "BusinessCapabilityUpdated",
} as const satisfies Record<string, EventName>;

export type BusinessField = keyof typeof businessEventTypes;

export const isBusinessField = (field: string): field is BusinessField =>
  Object.hasOwn(businessEventTypes, field);

/**
 * A template, number quality, account or capability webhook as its event. A phone number quality
 * update names only the display number: the number directory resolves its phone_number_id, which
 * then keys the event (business-events is keyed by number, else by WABA).
 */
export function businessEvent(scope: ChangeScope, field: BusinessField, value: Json): AnyEvent {
  const cuts: Truncation[] = [];
  const v = opaque(scope, value, "/value", cuts) as Json;
  const common = { wabaId: scope.wabaId, deliveryId: scope.deliveryId };
  const template = {
    templateId: str(v["message_template_id"]),
    templateName: str(v["message_template_name"]),
    language: str(v["message_template_language"]),
  };
  let phoneNumberId: string | undefined;
  const data: Record<string, unknown> = (() => {
    switch (field) {
      case "message_template_status_update": {
        const rejection = obj(v["rejection_info"]);
        const other = obj(v["other_info"]);
        return {
          ...common,
          ...template,
          event: str(v["event"]),
          category: str(v["message_template_category"]),
          reason: str(v["reason"]),
          rejectionInfo:
            rejection &&
            compact({
              reason: str(rejection["reason"]),
              recommendation: str(rejection["recommendation"]),
            }),
          otherInfo:
            other &&
            compact({ title: str(other["title"]), description: str(other["description"]) }),
        };
      }
      case "message_template_quality_update":
        return {
          ...common,
          ...template,
          previousQualityScore: str(v["previous_quality_score"]),
          newQualityScore: str(v["new_quality_score"]),
        };
      case "template_category_update":
        return {
          ...common,
          ...template,
          previousCategory: str(v["previous_category"]),
          newCategory: str(v["new_category"]),
          correctCategory: str(v["correct_category"]),
        };
      case "phone_number_quality_update": {
        const display = str(v["display_phone_number"]);
        phoneNumberId = display && scope.phoneNumberIdOf(scope.wabaId, display);
        return {
          ...common,
          displayPhoneNumber: display,
          phoneNumberId,
          event: str(v["event"]),
          currentLimit: str(v["current_limit"]),
          oldLimit: str(v["old_limit"]),
          maxDailyConversationsPerBusiness: str(v["max_daily_conversations_per_business"]),
        };
      }
      case "account_update":
        return { ...common, event: str(v["event"]), value: v };
      case "business_capability_update":
        return {
          ...common,
          maxDailyConversationsPerBusiness: int(
            v["max_daily_conversations_per_business"] ?? v["max_daily_conversation_per_phone"],
          ),
          maxPhoneNumbersPerBusiness: int(v["max_phone_numbers_per_business"]),
          value: v,
        };
    }
  })();
  // Only values kept whole carry the depth cuts; the others read scalars out of them.
  const kept = field === "account_update" || field === "business_capability_update" ? cuts : [];
  const name = `${field}:${scope.wabaId}:${scope.entryTime ?? ""}:${contentDigest(v)}`;
  try {
    return build(
      businessEventTypes[field],
      compact(data),
      scope,
      name,
      scope.entryTime ?? scope.receivedAt,
      {
        cuts: kept,
        ...compact({ businessNumber: phoneNumberId }),
      },
    );
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return unknownField(scope, field, scope.wabaId, value);
  }
}

/**
 * The phone_number_id of a business number by its WABA and display number, from the number
 * directory (Meta's phone_number_quality_update names only the display number). Display numbers
 * compare by their digits ("+1 555-078-3881" is "15550783881").
 */
export function displayNumberResolver(
  numbers: readonly {
    readonly phoneNumberId: string;
    readonly wabaId: string;
    readonly displayPhoneNumber: string | undefined;
  }[],
): (wabaId: string, displayPhoneNumber: string) => string | undefined {
  const digits = (s: string) => s.replace(/\D/g, "");
  const byNumber = new Map<string, string>();
  for (const n of numbers) {
    if (n.displayPhoneNumber !== undefined) {
      byNumber.set(`${n.wabaId}:${digits(n.displayPhoneNumber)}`, n.phoneNumberId);
    }
  }
  return (wabaId, display) => byNumber.get(`${wabaId}:${digits(display)}`);
}
