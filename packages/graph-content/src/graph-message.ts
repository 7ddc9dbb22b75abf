import type {
  ContactObject,
  InteractiveHeader,
  InteractiveObject,
  LocationObject,
  MediaRef,
  MessageEnvelope,
  OutboundMessage,
  TemplateButtonSubType,
  TemplateComponent,
  TemplateObject,
  TemplateParameter,
} from "@parley/cloud-api";
import type { OutboundContent, TemplateContent } from "@parley/contracts";

/**
 * The contract's camelCase content (`SendRequested` / `DispatchMessage`) as the snake_case body
 * of `POST /{phone-number-id}/messages` (reference §1). Every field is mapped by name, so free-form
 * JSON (flow data) passes through untouched. Pure.
 */

/** What a send needs besides its content: the router and the sender both pass these. */
export interface GraphMessageInput {
  /** The Graph `to`: an E.164 phone number, or a BSUID when `toKind` is "userId". */
  readonly to: string;
  /** A phone number goes in Graph's `to`, a BSUID ("userId") in `recipient` (reference §1.1). */
  readonly toKind?: "phone" | "userId" | undefined;
  readonly content: OutboundContent;
  /** A wamid to quote (`context.message_id`). */
  readonly replyTo?: string | undefined;
  /** Echoed on this message's status webhooks (the request id). */
  readonly bizOpaqueCallbackData: string;
}

type ContractInteractive = Extract<OutboundContent, { type: "interactive" }>["interactive"];
type ContractContact = Extract<OutboundContent, { type: "contacts" }>["contacts"][number];
type ContractLocation = Extract<OutboundContent, { type: "location" }>["location"];
type ContractTemplateParameter = NonNullable<
  TemplateContent["components"]
>[number]["parameters"][number];

/** Each kind of `InteractiveObject` with its body optional, as the contract has it. */
type WithOptionalBody<I> = I extends unknown
  ? Omit<I, "body"> & { readonly body?: { readonly text: string } }
  : never;

/**
 * An interactive object as built from the contract, whose body is optional for every kind; the
 * validator (`validateMessage`) names a missing one (`interactive.body.text`).
 */
export type GraphInteractive = WithOptionalBody<InteractiveObject>;

/** Adds `key: value` unless the value is undefined (the wire omits absent fields). */
const opt = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

/** Both or neither of id and link are kept, so the validator names the problem. */
function media(ref: {
  readonly id?: string | undefined;
  readonly link?: string | undefined;
}): MediaRef {
  return { ...opt("id", ref.id), ...opt("link", ref.link) } as MediaRef;
}

/** `url` is not in the reference's outbound location; it is passed on as the contract has it. */
function location(l: ContractLocation): LocationObject & { readonly url?: string } {
  return {
    latitude: l.latitude,
    longitude: l.longitude,
    ...opt("name", l.name),
    ...opt("address", l.address),
    ...opt("url", l.url),
  };
}

function templateParameter(p: ContractTemplateParameter): TemplateParameter {
  switch (p.type) {
    case "text":
      return { type: "text", text: p.text, ...opt("parameter_name", p.parameterName) };
    case "currency":
      return {
        type: "currency",
        currency: {
          fallback_value: p.currency.fallbackValue,
          code: p.currency.code,
          amount_1000: p.currency.amount1000,
        },
        ...opt("parameter_name", p.parameterName),
      };
    case "date_time":
      return {
        type: "date_time",
        date_time: { fallback_value: p.dateTime.fallbackValue },
        ...opt("parameter_name", p.parameterName),
      };
    case "image":
      return { type: "image", image: media(p.image) };
    case "video":
      return { type: "video", video: media(p.video) };
    case "document":
      return {
        type: "document",
        document: { ...media(p.document), ...opt("filename", p.document.filename) },
      };
    case "location":
      return { type: "location", location: location(p.location) };
    case "payload":
      return { type: "payload", payload: p.payload };
    case "coupon_code":
      return { type: "coupon_code", coupon_code: p.couponCode };
    case "action":
      return {
        type: "action",
        action: {
          ...opt("flow_token", p.action.flowToken),
          ...opt("flow_action_data", p.action.flowActionData),
        },
      };
  }
}

/** A template as Graph takes it: button indexes are strings ("0" to "9"). */
export function templateOf(t: TemplateContent): TemplateObject {
  const components = (t.components ?? []).map((c): TemplateComponent =>
    c.type === "button"
      ? {
          type: "button",
          // The contract keeps sub_type open (Meta adds kinds); the validator checks the rest.
          sub_type: c.subType as TemplateButtonSubType,
          index: String(c.index),
          parameters: c.parameters.map(templateParameter),
        }
      : { type: c.type, parameters: c.parameters.map(templateParameter) },
  );
  return {
    name: t.name,
    language: { code: t.language.code, ...opt("policy", t.language.policy) },
    ...(components.length > 0 ? { components } : {}),
  };
}

function contact(c: ContractContact): ContactObject {
  return {
    name: {
      formatted_name: c.name.formattedName,
      ...opt("first_name", c.name.firstName),
      ...opt("last_name", c.name.lastName),
      ...opt("middle_name", c.name.middleName),
      ...opt("prefix", c.name.prefix),
      ...opt("suffix", c.name.suffix),
    },
    ...opt(
      "phones",
      c.phones?.map((p) => ({
        ...opt("phone", p.phone),
        ...opt("type", p.type),
        ...opt("wa_id", p.waId),
      })),
    ),
    ...opt(
      "emails",
      c.emails?.map((e) => ({ email: e.email, ...opt("type", e.type) })),
    ),
    ...opt(
      "urls",
      c.urls?.map((u) => ({ url: u.url, ...opt("type", u.type) })),
    ),
    ...opt(
      "addresses",
      c.addresses?.map((a) => ({
        ...opt("street", a.street),
        ...opt("city", a.city),
        ...opt("state", a.state),
        ...opt("zip", a.zip),
        ...opt("country", a.country),
        ...opt("country_code", a.countryCode),
        ...opt("type", a.type),
      })),
    ),
    ...opt(
      "org",
      c.org === undefined
        ? undefined
        : {
            ...opt("company", c.org.company),
            ...opt("department", c.org.department),
            ...opt("title", c.org.title),
          },
    ),
    ...opt("birthday", c.birthday),
  };
}

function header(h: NonNullable<ContractInteractive["header"]>): InteractiveHeader {
  switch (h.type) {
    case "text":
      return { type: "text", text: h.text };
    case "image":
      return { type: "image", image: media(h.image) };
    case "video":
      return { type: "video", video: media(h.video) };
    case "document":
      return {
        type: "document",
        document: { ...media(h.document), ...opt("filename", h.document.filename) },
      };
  }
}

/** Graph nests each kind's fields under `action`, where the contract keeps them flat. */
export function interactiveOf(i: ContractInteractive): GraphInteractive {
  const common = {
    ...opt("header", i.header === undefined ? undefined : header(i.header)),
    ...opt("body", i.body === undefined ? undefined : { text: i.body.text }),
    ...opt("footer", i.footer === undefined ? undefined : { text: i.footer.text }),
  };
  switch (i.type) {
    case "button":
      return {
        type: "button",
        ...common,
        action: {
          buttons: i.buttons.map((b) => ({ type: "reply", reply: { id: b.id, title: b.title } })),
        },
      };
    case "list":
      return {
        type: "list",
        ...common,
        action: {
          button: i.button,
          sections: i.sections.map((s) => ({
            ...opt("title", s.title),
            rows: s.rows.map((r) => ({
              id: r.id,
              title: r.title,
              ...opt("description", r.description),
            })),
          })),
        },
      };
    case "cta_url":
      return {
        type: "cta_url",
        ...common,
        action: { name: "cta_url", parameters: { display_text: i.displayText, url: i.url } },
      };
    case "flow":
      return {
        type: "flow",
        ...common,
        action: {
          name: "flow",
          parameters: {
            flow_message_version: i.flowMessageVersion,
            ...opt("flow_id", i.flowId),
            ...opt("flow_name", i.flowName),
            flow_cta: i.flowCta,
            ...opt("flow_token", i.flowToken),
            ...opt("mode", i.mode),
            ...opt("flow_action", i.flowAction),
            ...opt(
              "flow_action_payload",
              i.flowActionPayload === undefined
                ? undefined
                : // The screen's data is the flow's own JSON: passed on as given, keys untouched.
                  { screen: i.flowActionPayload.screen, ...opt("data", i.flowActionPayload.data) },
            ),
          },
        },
      };
    case "location_request_message":
      return { type: "location_request_message", ...common, action: { name: "send_location" } };
    case "call_permission_request":
      return {
        type: "call_permission_request",
        ...common,
        action: { name: "call_permission_request" },
      };
    case "product":
      return {
        type: "product",
        ...common,
        action: { catalog_id: i.catalogId, product_retailer_id: i.productRetailerId },
      };
    case "product_list":
      return {
        type: "product_list",
        ...common,
        action: {
          catalog_id: i.catalogId,
          sections: i.sections.map((s) => ({
            ...opt("title", s.title),
            product_items: s.productItems.map((p) => ({
              product_retailer_id: p.productRetailerId,
            })),
          })),
        },
      };
    case "catalog_message":
      return {
        type: "catalog_message",
        ...common,
        action: {
          name: "catalog_message",
          ...opt(
            "parameters",
            i.thumbnailProductRetailerId === undefined
              ? undefined
              : { thumbnail_product_retailer_id: i.thumbnailProductRetailerId },
          ),
        },
      };
  }
}

type ContentOf<M> = M extends unknown ? Omit<M, keyof MessageEnvelope> : never;

/** The content half of a Graph message, with the interactive body optional. */
export type GraphContent =
  | Exclude<ContentOf<OutboundMessage>, { readonly type: "interactive" }>
  | { readonly type: "interactive"; readonly interactive: GraphInteractive };

/** The Graph send body as this package builds it (see `GraphInteractive`). */
export type GraphMessage = MessageEnvelope & GraphContent;

function contentOf(c: OutboundContent): GraphContent {
  switch (c.type) {
    case "text":
      return {
        type: "text",
        text: { body: c.text.body, ...opt("preview_url", c.text.previewUrl) },
      };
    case "image":
      return { type: "image", image: { ...media(c.image), ...opt("caption", c.image.caption) } };
    case "video":
      return { type: "video", video: { ...media(c.video), ...opt("caption", c.video.caption) } };
    case "audio":
      return { type: "audio", audio: media(c.audio) };
    case "document":
      return {
        type: "document",
        document: {
          ...media(c.document),
          ...opt("caption", c.document.caption),
          ...opt("filename", c.document.filename),
        },
      };
    case "sticker":
      return { type: "sticker", sticker: media(c.sticker) };
    case "location":
      return { type: "location", location: location(c.location) };
    case "contacts":
      return { type: "contacts", contacts: c.contacts.map(contact) };
    case "reaction":
      return {
        type: "reaction",
        reaction: { message_id: c.reaction.messageId, emoji: c.reaction.emoji },
      };
    case "template":
      return { type: "template", template: templateOf(c.template) };
    case "interactive":
      return { type: "interactive", interactive: interactiveOf(c.interactive) };
  }
}

/**
 * The Graph send body for one send: what the sender posts and what the router validates.
 * Typed as `@parley/cloud-api`'s OutboundMessage so the Graph client takes it; an interactive
 * body may still be missing (see `GraphInteractive`), which `validateMessage` names.
 */
export function graphMessageOf(input: GraphMessageInput): OutboundMessage {
  const message: GraphMessage = {
    messaging_product: "whatsapp",
    recipient_type: "individual",
    ...(input.toKind === "userId" ? { recipient: input.to } : { to: input.to }),
    ...opt("context", input.replyTo === undefined ? undefined : { message_id: input.replyTo }),
    biz_opaque_callback_data: input.bizOpaqueCallbackData,
    ...contentOf(input.content),
  };
  return message as OutboundMessage;
}
