import { InvalidEventError, type AnyEvent, type Truncation } from "@parley/contracts";
import { jsonShape, limitDepth, MAX_JSON_DEPTH } from "./fit.js";
import { inboundIdentity } from "./identity.js";
import {
  bool,
  compact,
  isObject,
  num,
  obj,
  objects,
  str,
  text,
  unixToIso,
  type Json,
} from "./json.js";
import {
  build,
  contactKeyOf,
  opaque,
  optionalErrors,
  originOf,
  profileOf,
  unknownField,
  type ChangeScope,
} from "./parse-scope.js";

/** The `contacts[]` item that belongs to a message: by wa_id or BSUID, else by position. */
export function contactFor(
  scope: ChangeScope,
  index: number,
  count: number,
  m: Json,
): Json | undefined {
  const { contacts } = scope;
  const match = scope.contactNamed(text(m["from"]), text(m["from_user_id"]));
  if (match) return match;
  if (contacts.length === 1) return contacts[0];
  return contacts.length === count ? contacts[index] : undefined;
}

/**
 * A `messages[]` item. Its contact is the sender (wa_id, else BSUID, else its contacts[] item),
 * canonical. A known type in a shape we cannot read, or a type we do not know, is kept whole as
 * `unknown` (nested past the depth limit: cut, with the reason); one naming no message or no
 * sender is kept as an unknown field.
 */
export function inboundMessage(scope: ChangeScope, m: Json, contact: Json | undefined): AnyEvent {
  const wamid = text(m["id"]);
  const contactId = contactKeyOf([
    ["from", m["from"]],
    ["from_user_id", m["from_user_id"]],
    ["contacts[].wa_id", contact?.["wa_id"]],
    ["contacts[].user_id", contact?.["user_id"]],
  ]);
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
  const cuts: Truncation[] = [];
  const content = messageContent(type, m, (value, path, nested = scope.deep) =>
    nested ? limitDepth(value, path, cuts) : value,
  );
  if (content !== undefined) {
    try {
      return build(
        "InboundMessageReceived",
        { ...base, message: content },
        scope,
        name,
        occurredAt,
        { cuts },
      );
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      // A known type in a shape we cannot read: kept whole as unknown rather than dropped.
    }
  }
  const unknownCuts: Truncation[] = [];
  const payload = opaque(scope, m, "/message/payload", unknownCuts);
  const unknown = { type: "unknown", originalType: type, payload };
  return build("InboundMessageReceived", { ...base, message: unknown }, scope, name, occurredAt, {
    cuts: unknownCuts,
  });
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

/**
 * Keeps a value as Meta sent it at `path` of the event's data, cut where it nests too deep when
 * `nested` (by default: when the body itself nests that deep).
 */
type Keep = (value: Json, path: string, nested?: boolean) => unknown;

/** Meta's snake_case message object to the contract's content; undefined for an unknown type. */
function messageContent(type: string, m: Json, keep: Keep): unknown {
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
      return { type, interactive: interactiveReply(body, keep) };
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
    case "edit": {
      const edited = obj(body["message"]);
      return {
        type,
        edit: compact({
          originalMessageId: text(body["original_message_id"]),
          message: edited && keep(edited, "/message/edit/message"),
        }),
      };
    }
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

/** response_json as an object when it is JSON text of one; undefined otherwise. */
function jsonObjectIn(v: string | undefined): Json | undefined {
  if (v === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(v);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function interactiveReply(i: Json, keep: Keep): unknown {
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
    case "nfm_reply": {
      // A flow completion: its flow_token ties it to the flow message it answers.
      const responseJson = str(reply["response_json"]);
      const parsed = jsonObjectIn(responseJson);
      // Parsed from a string inside the body: its nesting is its own, not the body's.
      const nested = jsonShape(responseJson ?? "").depth + 3 >= MAX_JSON_DEPTH;
      const response = parsed && keep(parsed, "/message/interactive/response", nested);
      return compact({
        type: kind,
        name: str(reply["name"]),
        body: str(reply["body"]),
        responseJson,
        flowToken: text(parsed?.["flow_token"]),
        response,
      });
    }
    case "call_permission_reply":
      return compact({
        type: kind,
        response: str(reply["response"]),
        isPermanent: bool(reply["is_permanent"]),
        expiresAt: unixToIso(reply["expiration_timestamp"]),
      });
    default:
      return {
        type: "unknown",
        originalType: kind,
        payload: keep(i, "/message/interactive/payload"),
      };
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
