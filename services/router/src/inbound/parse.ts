import {
  createEvent,
  InvalidEventError,
  type AnyEvent,
  type EventData,
  type EventName,
  type EventOf,
} from "@parley/contracts";
import { contentDigest, eventIdOf } from "./event-id.js";
import { inboundIdentity, statusIdentity } from "./identity.js";
import {
  bool,
  compact,
  int,
  isObject,
  num,
  obj,
  objects,
  str,
  text,
  unixToIso,
  type Json,
} from "./json.js";

/** The raw body is not a webhook at all (bad JSON, no `entry` list): retrying cannot help. */
export class UnparseableWebhookError extends Error {
  override readonly name = "UnparseableWebhookError";
  readonly retriable = false;
  constructor(
    message: string,
    readonly deliveryId: string,
    options?: { cause?: unknown },
  ) {
    super(`webhook ${deliveryId}: ${message}`, options);
  }
}

export interface ParseInput {
  /** The raw webhook's envelope: its delivery id correlates, its event id causes. */
  readonly raw: Pick<EventOf<"RawWebhookReceived">, "eventId" | "occurredAt" | "data">;
  /** The exact body text (the base64 of the raw event, decoded). */
  readonly body: string;
  readonly now: Date;
}

interface Scope {
  readonly deliveryId: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly receivedAt: string;
  readonly now: Date;
}

interface ChangeScope extends Scope {
  readonly wabaId: string;
  readonly entryTime: string | undefined;
  readonly phoneNumberId: string | undefined;
  readonly displayPhoneNumber: string | undefined;
  readonly contacts: readonly Json[];
}

/**
 * Turns one raw webhook into contract events, in the order Meta listed them: every entry, change,
 * message, status and error. Pure and deterministic: event ids derive from what Meta said (the
 * wamid, the (wamid, status) pair, or the content), never from the delivery, so parsing a retried,
 * replayed or re-driven webhook again yields the same ids. Nothing is dropped: an unknown message
 * type, a known type in a shape we cannot read, or an unknown field becomes an explicit unknown
 * event that keeps Meta's payload.
 */
export function parseWebhook({ raw, body, now }: ParseInput): AnyEvent[] {
  const { deliveryId } = raw.data;
  let root: unknown;
  try {
    root = JSON.parse(body);
  } catch (error) {
    throw new UnparseableWebhookError("body is not JSON", deliveryId, { cause: error });
  }
  if (!isObject(root) || !Array.isArray(root["entry"])) {
    throw new UnparseableWebhookError("body has no entry list", deliveryId);
  }
  const scope: Scope = {
    deliveryId,
    correlationId: deliveryId,
    causationId: raw.eventId,
    receivedAt: raw.occurredAt,
    now,
  };
  const out: AnyEvent[] = [];
  for (const entry of root["entry"] as unknown[]) {
    if (!isObject(entry) || !Array.isArray(entry["changes"])) {
      out.push(unknownField(scope, "(entry)", wabaOf(entry), { entry }));
      continue;
    }
    const wabaId = wabaOf(entry);
    for (const change of entry["changes"] as unknown[]) {
      const field = isObject(change) ? text(change["field"]) : undefined;
      const value = isObject(change) ? obj(change["value"]) : undefined;
      if (field === undefined || value === undefined) {
        out.push(unknownField(scope, field ?? "(change)", wabaId, { change }));
        continue;
      }
      const metadata = obj(value["metadata"]);
      const changeScope: ChangeScope = {
        ...scope,
        wabaId,
        entryTime: unixToIso(entry["time"]),
        phoneNumberId: text(metadata?.["phone_number_id"]),
        displayPhoneNumber: text(metadata?.["display_phone_number"]),
        contacts: objects(value["contacts"]),
      };
      out.push(...parseChange(changeScope, field, value));
    }
  }
  return out;
}

const wabaOf = (entry: unknown): string =>
  (isObject(entry) ? text(entry["id"]) : undefined) ?? "unknown";

function parseChange(scope: ChangeScope, field: string, value: Json): AnyEvent[] {
  switch (field) {
    case "messages":
      return parseMessagesValue(scope, value);
    case "user_preferences":
      return parseUserPreferences(scope, value);
    case "message_template_status_update":
    case "message_template_quality_update":
    case "template_category_update":
    case "phone_number_quality_update":
    case "account_update":
    case "business_capability_update":
      return [businessEvent(scope, field, value)];
    default:
      return [unknownField(scope, field, scope.wabaId, value)];
  }
}

function parseMessagesValue(scope: ChangeScope, value: Json): AnyEvent[] {
  const out: AnyEvent[] = [];
  const messages = objects(value["messages"]);
  messages.forEach((m, i) => {
    out.push(inboundMessage(scope, m, contactFor(scope.contacts, i, messages.length, m)));
  });
  for (const s of objects(value["statuses"])) out.push(statusUpdate(scope, s));
  const errors = webhookErrors(value["errors"]);
  if (errors.length > 0) {
    out.push(
      build(
        "WebhookErrorsReceived",
        {
          wabaId: scope.wabaId,
          deliveryId: scope.deliveryId,
          ...compact({ phoneNumberId: scope.phoneNumberId }),
          errors,
        },
        scope,
        `errors:${scope.wabaId}:${scope.phoneNumberId ?? ""}:${contentDigest(value["errors"])}`,
        scope.receivedAt,
      ),
    );
  }
  // Neither messages, statuses nor errors: a shape we do not know yet, kept whole.
  if (
    messages.length === 0 &&
    !Array.isArray(value["statuses"]) &&
    !Array.isArray(value["errors"])
  ) {
    out.push(unknownField(scope, "messages", scope.wabaId, value));
  }
  return out;
}

/** The `contacts[]` item that belongs to a message: by wa_id or BSUID, else by position. */
function contactFor(
  contacts: readonly Json[],
  index: number,
  count: number,
  m: Json,
): Json | undefined {
  const from = text(m["from"]);
  const fromUser = text(m["from_user_id"]);
  const match = contacts.find(
    (c) =>
      (from !== undefined && text(c["wa_id"]) === from) ||
      (fromUser !== undefined && text(c["user_id"]) === fromUser),
  );
  if (match) return match;
  if (contacts.length === 1) return contacts[0];
  return contacts.length === count ? contacts[index] : undefined;
}

function profileOf(c: Json | undefined) {
  if (c === undefined) return {};
  const profile = obj(c["profile"]);
  return compact({
    waId: text(c["wa_id"]),
    userId: text(c["user_id"]),
    parentUserId: text(c["parent_user_id"]),
    profileName: str(profile?.["name"]),
    username: text(profile?.["username"]),
    identityKeyHash: text(c["identity_key_hash"]),
  });
}

function originOf(scope: ChangeScope) {
  return {
    deliveryId: scope.deliveryId,
    wabaId: scope.wabaId,
    ...compact({ displayPhoneNumber: scope.displayPhoneNumber }),
  };
}

function inboundMessage(scope: ChangeScope, m: Json, contact: Json | undefined): AnyEvent {
  const wamid = text(m["id"]);
  const contactId =
    text(m["from"]) ??
    text(m["from_user_id"]) ??
    text(contact?.["wa_id"]) ??
    text(contact?.["user_id"]);
  const type = text(m["type"]) ?? "(none)";
  if (wamid === undefined || contactId === undefined) {
    return unknownField(scope, "messages", scope.wabaId, { message: m, contact });
  }
  const base = compact({
    contactId,
    wamid,
    contact: profileOf(contact),
    origin: originOf(scope),
    context: contextOf(m["context"]),
    referral: referralOf(m["referral"]),
    groupId: text(m["group_id"]),
    errors: optionalErrors(m["errors"]),
  });
  const occurredAt = unixToIso(m["timestamp"]) ?? scope.receivedAt;
  const name = inboundIdentity(wamid);
  const content = messageContent(type, m);
  if (content !== undefined) {
    try {
      return build(
        "InboundMessageReceived",
        { ...base, message: content },
        scope,
        name,
        occurredAt,
      );
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      // A known type in a shape we cannot read: kept whole as unknown rather than dropped.
    }
  }
  const unknown = { type: "unknown", originalType: type, payload: m };
  return build("InboundMessageReceived", { ...base, message: unknown }, scope, name, occurredAt);
}

function media(v: unknown, extra: (o: Json) => Record<string, unknown>) {
  const o = obj(v) ?? {};
  return compact({
    id: text(o["id"]),
    mimeType: text(o["mime_type"]),
    sha256: text(o["sha256"]),
    url: text(o["url"]),
    ...extra(o),
  });
}

/** Meta's snake_case message object to the contract's content; undefined for an unknown type. */
function messageContent(type: string, m: Json): unknown {
  const body = obj(m[type]) ?? {};
  switch (type) {
    case "text":
      return { type, text: { body: str(body["body"]) } };
    case "image":
    case "video":
      return { type, [type]: media(body, (o) => ({ caption: str(o["caption"]) })) };
    case "audio":
      return { type, audio: media(body, (o) => ({ voice: bool(o["voice"]) })) };
    case "document":
      return {
        type,
        document: media(body, (o) => ({
          caption: str(o["caption"]),
          filename: str(o["filename"]),
        })),
      };
    case "sticker":
      return { type, sticker: media(body, (o) => ({ animated: bool(o["animated"]) })) };
    case "location":
      return { type, location: locationOf(body) };
    case "contacts":
      return { type, contacts: objects(m["contacts"]).map(contactCardOf) };
    case "button":
      return { type, button: compact({ text: str(body["text"]), payload: str(body["payload"]) }) };
    case "interactive":
      return { type, interactive: interactiveReply(body) };
    case "reaction":
      return {
        type,
        reaction: compact({ messageId: text(body["message_id"]), emoji: str(body["emoji"]) }),
      };
    case "order":
      return {
        type,
        order: compact({
          catalogId: str(body["catalog_id"]),
          text: str(body["text"]),
          productItems: objects(body["product_items"]).map((p) =>
            compact({
              productRetailerId: str(p["product_retailer_id"]),
              quantity: num(p["quantity"]),
              itemPrice: num(p["item_price"]),
              currency: str(p["currency"]),
            }),
          ),
        }),
      };
    case "system": {
      const identity = obj(m["identity"]);
      return compact({
        type,
        system: compact({
          body: str(body["body"]),
          systemType: text(body["type"]),
          waId: text(body["wa_id"] ?? body["new_wa_id"]),
          userId: text(body["user_id"]),
          customer: text(body["customer"]),
        }),
        identity:
          identity === undefined
            ? undefined
            : compact({
                acknowledged: bool(identity["acknowledged"]),
                createdAt: unixToIso(identity["created_timestamp"]),
                hash: text(identity["hash"]),
              }),
      });
    }
    case "unsupported":
      return { type, unsupported: compact({ unsupportedType: text(body["type"]) }) };
    case "request_welcome":
      return { type };
    case "revoke":
      return { type, revoke: compact({ originalMessageId: text(body["original_message_id"]) }) };
    case "edit":
      return {
        type,
        edit: compact({
          originalMessageId: text(body["original_message_id"]),
          message: obj(body["message"]),
        }),
      };
    default:
      return undefined;
  }
}

function locationOf(o: Json) {
  return compact({
    latitude: num(o["latitude"]),
    longitude: num(o["longitude"]),
    name: str(o["name"]),
    address: str(o["address"]),
    url: str(o["url"]),
  });
}

function contactCardOf(c: Json) {
  const name = obj(c["name"]) ?? {};
  const org = obj(c["org"]);
  const list = <T>(v: unknown, f: (o: Json) => T): T[] | undefined =>
    Array.isArray(v) ? objects(v).map(f) : undefined;
  return compact({
    name: compact({
      formattedName: str(name["formatted_name"]),
      firstName: str(name["first_name"]),
      lastName: str(name["last_name"]),
      middleName: str(name["middle_name"]),
      prefix: str(name["prefix"]),
      suffix: str(name["suffix"]),
    }),
    phones: list(c["phones"], (p) =>
      compact({ phone: str(p["phone"]), waId: str(p["wa_id"]), type: str(p["type"]) }),
    ),
    emails: list(c["emails"], (e) => compact({ email: str(e["email"]), type: str(e["type"]) })),
    urls: list(c["urls"], (u) => compact({ url: str(u["url"]), type: str(u["type"]) })),
    addresses: list(c["addresses"], (a) =>
      compact({
        street: str(a["street"]),
        city: str(a["city"]),
        state: str(a["state"]),
        zip: str(a["zip"]),
        country: str(a["country"]),
        countryCode: str(a["country_code"]),
        type: str(a["type"]),
      }),
    ),
    org:
      org === undefined
        ? undefined
        : compact({
            company: str(org["company"]),
            department: str(org["department"]),
            title: str(org["title"]),
          }),
    birthday: text(c["birthday"]),
  });
}

function interactiveReply(i: Json): unknown {
  const kind = text(i["type"]) ?? "(none)";
  const reply = obj(i[kind]) ?? {};
  switch (kind) {
    case "button_reply":
      return { type: kind, id: str(reply["id"]), title: str(reply["title"]) };
    case "list_reply":
      return compact({
        type: kind,
        id: str(reply["id"]),
        title: str(reply["title"]),
        description: str(reply["description"]),
      });
    case "nfm_reply":
      return compact({
        type: kind,
        name: str(reply["name"]),
        body: str(reply["body"]),
        responseJson: str(reply["response_json"]),
      });
    case "call_permission_reply":
      return compact({
        type: kind,
        response: str(reply["response"]),
        isPermanent: bool(reply["is_permanent"]),
        expiresAt: unixToIso(reply["expiration_timestamp"]),
      });
    default:
      return { type: "unknown", originalType: kind, payload: i };
  }
}

function contextOf(v: unknown) {
  const c = obj(v);
  if (c === undefined) return undefined;
  const product = obj(c["referred_product"]);
  return compact({
    from: text(c["from"]),
    id: text(c["id"]),
    forwarded: bool(c["forwarded"]),
    frequentlyForwarded: bool(c["frequently_forwarded"]),
    referredProduct:
      product === undefined
        ? undefined
        : compact({
            catalogId: str(product["catalog_id"]),
            productRetailerId: str(product["product_retailer_id"]),
          }),
  });
}

function referralOf(v: unknown) {
  const r = obj(v);
  if (r === undefined) return undefined;
  return compact({
    sourceUrl: str(r["source_url"]),
    sourceId: str(r["source_id"]),
    sourceType: str(r["source_type"]),
    headline: str(r["headline"]),
    body: str(r["body"]),
    mediaType: str(r["media_type"]),
    imageUrl: str(r["image_url"]),
    videoUrl: str(r["video_url"]),
    thumbnailUrl: str(r["thumbnail_url"]),
    ctwaClid: str(r["ctwa_clid"]),
    welcomeMessageText: str(obj(r["welcome_message"])?.["text"]),
  });
}

function webhookErrors(v: unknown) {
  return objects(v).flatMap((e) => {
    const code = int(e["code"]);
    if (code === undefined) return [];
    return [
      compact({
        code,
        title: str(e["title"]),
        message: str(e["message"]),
        details: str(obj(e["error_data"])?.["details"]),
        href: str(e["href"]),
      }),
    ];
  });
}

function optionalErrors(v: unknown) {
  const errors = webhookErrors(v);
  return errors.length === 0 ? undefined : errors;
}

const STATUSES = new Set(["sent", "delivered", "read", "played", "failed"]);

function statusUpdate(scope: ChangeScope, s: Json): AnyEvent {
  const wamid = text(s["id"]);
  const status = text(s["status"]);
  const recipientId = text(s["recipient_id"]);
  const recipientUserId = text(s["recipient_user_id"]);
  const contact = scope.contacts.find(
    (c) =>
      (recipientId !== undefined && text(c["wa_id"]) === recipientId) ||
      (recipientUserId !== undefined && text(c["user_id"]) === recipientUserId),
  );
  const contactId =
    recipientId ?? recipientUserId ?? text(contact?.["wa_id"]) ?? text(contact?.["user_id"]);
  if (wamid === undefined || contactId === undefined || !STATUSES.has(status ?? "")) {
    // A status value Meta added after this parser, or one naming no message: kept whole.
    return unknownField(scope, "messages.statuses", scope.wabaId, { status: s });
  }
  const conversation = obj(s["conversation"]);
  const pricing = obj(s["pricing"]);
  const participant = text(s["recipient_participant_id"]);
  const data = compact({
    contactId,
    wamid,
    status,
    origin: originOf(scope),
    recipientId,
    recipientUserId,
    parentRecipientUserId: text(s["parent_recipient_user_id"]),
    recipientType: text(s["recipient_type"]),
    recipientParticipantId: participant,
    contact: contact === undefined ? undefined : profileOf(contact),
    bizOpaqueCallbackData: str(s["biz_opaque_callback_data"]),
    conversation:
      conversation === undefined
        ? undefined
        : compact({
            id: str(conversation["id"]),
            expiresAt: unixToIso(conversation["expiration_timestamp"]),
            originType: text(obj(conversation["origin"])?.["type"]),
          }),
    pricing:
      pricing === undefined
        ? undefined
        : compact({
            pricingModel: str(pricing["pricing_model"]),
            type: str(pricing["type"]),
            category: str(pricing["category"]),
            billable: bool(pricing["billable"]),
          }),
    errors: optionalErrors(s["errors"]),
  });
  const occurredAt = unixToIso(s["timestamp"]) ?? scope.receivedAt;
  const name = statusIdentity(wamid, status ?? "", participant);
  try {
    return build("StatusUpdated", data, scope, name, occurredAt);
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return unknownField(scope, "messages.statuses", scope.wabaId, { status: s });
  }
}

function parseUserPreferences(scope: ChangeScope, value: Json): AnyEvent[] {
  const items = Array.isArray(value["user_preferences"])
    ? objects(value["user_preferences"])
    : [value];
  return items.map((p) => {
    const contactId =
      text(p["wa_id"]) ??
      text(p["user_id"]) ??
      text(scope.contacts[0]?.["wa_id"]) ??
      text(scope.contacts[0]?.["user_id"]);
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
  });
}

const businessEventTypes = {
  message_template_status_update: "TemplateStatusUpdated",
  message_template_quality_update: "TemplateQualityUpdated",
  template_category_update: "TemplateCategoryUpdated",
  phone_number_quality_update: "PhoneNumberQualityUpdated",
  account_update: "AccountUpdated",
  business_capability_update: "BusinessCapabilityUpdated",
} as const satisfies Record<string, EventName>;

function businessEvent(
  scope: ChangeScope,
  field: keyof typeof businessEventTypes,
  v: Json,
): AnyEvent {
  const common = { wabaId: scope.wabaId, deliveryId: scope.deliveryId };
  const template = {
    templateId: str(v["message_template_id"]),
    templateName: str(v["message_template_name"]),
    language: str(v["message_template_language"]),
  };
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
      case "phone_number_quality_update":
        return {
          ...common,
          displayPhoneNumber: str(v["display_phone_number"]),
          event: str(v["event"]),
          currentLimit: str(v["current_limit"]),
          oldLimit: str(v["old_limit"]),
          maxDailyConversationsPerBusiness: str(v["max_daily_conversations_per_business"]),
        };
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
  const name = `${field}:${scope.wabaId}:${scope.entryTime ?? ""}:${contentDigest(v)}`;
  try {
    return build(
      businessEventTypes[field],
      compact(data),
      scope,
      name,
      scope.entryTime ?? scope.receivedAt,
    );
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    return unknownField(scope, field, scope.wabaId, v);
  }
}

function unknownField(scope: Scope, field: string, wabaId: string, value: Json): AnyEvent {
  const entryTime = "entryTime" in scope ? (scope as ChangeScope).entryTime : undefined;
  return build(
    "UnknownWebhookFieldReceived",
    { wabaId, deliveryId: scope.deliveryId, field, value: { ...value } },
    scope,
    `unknown:${field}:${wabaId}:${entryTime ?? ""}:${contentDigest(value)}`,
    entryTime ?? scope.receivedAt,
  );
}

function build<E extends EventName>(
  type: E,
  data: unknown,
  scope: Scope,
  name: string,
  occurredAt: string,
): EventOf<E> {
  const businessNumber =
    "phoneNumberId" in scope ? (scope as ChangeScope).phoneNumberId : undefined;
  return createEvent(type, data as EventData<E>, {
    eventId: eventIdOf(name),
    correlationId: scope.correlationId,
    causationId: scope.causationId,
    occurredAt,
    now: scope.now,
    ...compact({ businessNumber }),
  });
}
