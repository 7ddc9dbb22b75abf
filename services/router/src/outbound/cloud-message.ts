import {
  MessageValidationError,
  limits,
  charLength,
  validateMessage,
  type ContactObject,
  type InteractiveHeader,
  type InteractiveObject,
  type MediaRef,
  type OutboundMessage,
  type TemplateComponent,
  type TemplateObject,
  type TemplateParameter,
} from "@parley/cloud-api";
import type { OutboundContent, TemplateContent } from "@parley/contracts";

/**
 * The contract's camelCase content in the Cloud API's snake_case wire shape, so that Meta's rules
 * are checked by the one validator the Graph client also uses (`validateMessage`). Pure.
 */

type ContractMedia = { readonly id?: string | undefined; readonly link?: string | undefined };

/** A media reference as the wire wants it; both or neither are kept so the validator says so. */
function media(ref: ContractMedia): MediaRef {
  return {
    ...(ref.id !== undefined ? { id: ref.id } : {}),
    ...(ref.link !== undefined ? { link: ref.link } : {}),
  } as MediaRef;
}

/** zod's optional fields are `T | undefined`; the wire types omit them instead. */
type Defined<T> = T extends readonly (infer U)[]
  ? Defined<U>[]
  : T extends object
    ? { [K in keyof T]: Defined<Exclude<T[K], undefined>> }
    : T;

/** Drops undefined keys (the value is plain JSON from a validated event). */
function wire<T>(value: T): Defined<T> {
  return JSON.parse(JSON.stringify(value)) as Defined<T>;
}

const opt = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

type ContractTemplateParameter = NonNullable<
  TemplateContent["components"]
>[number]["parameters"][number];

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
      return { type: "location", location: wire(p.location) };
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

/** A template as Graph takes it. */
export function toCloudTemplate(t: TemplateContent): TemplateObject {
  const components: TemplateComponent[] = (t.components ?? []).map((c) =>
    c.type === "button"
      ? {
          type: "button",
          sub_type: c.subType as Extract<TemplateComponent, { type: "button" }>["sub_type"],
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

function contact(
  c: Extract<OutboundContent, { type: "contacts" }>["contacts"][number],
): ContactObject {
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
        ...opt("wa_id", p.waId),
        ...opt("type", p.type),
      })),
    ),
    ...opt("emails", wire(c.emails ?? [])),
    ...opt("urls", wire(c.urls ?? [])),
    ...opt("birthday", c.birthday),
  };
}

type ContractInteractive = Extract<OutboundContent, { type: "interactive" }>["interactive"];

function header(h: NonNullable<ContractInteractive["header"]>): InteractiveHeader {
  switch (h.type) {
    case "text":
      return h;
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

/**
 * The interactive kinds the Cloud API client models; the others (product, product list,
 * catalog, call permission) are checked here for the limits they share.
 */
function interactive(i: ContractInteractive): InteractiveObject | undefined {
  const common = {
    ...(i.header ? { header: header(i.header) } : {}),
    ...(i.footer ? { footer: i.footer } : {}),
  };
  const body = { text: i.body?.text ?? "" };
  switch (i.type) {
    case "button":
      return {
        type: "button",
        ...common,
        body,
        action: { buttons: i.buttons.map((b) => ({ type: "reply", reply: b })) },
      };
    case "list":
      return {
        type: "list",
        ...common,
        body,
        action: { button: i.button, sections: wire(i.sections) },
      };
    case "cta_url":
      return {
        type: "cta_url",
        ...common,
        body,
        action: { name: "cta_url", parameters: { display_text: i.displayText, url: i.url } },
      };
    case "flow":
      return {
        type: "flow",
        ...common,
        body,
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
                : { screen: i.flowActionPayload.screen, ...opt("data", i.flowActionPayload.data) },
            ),
          },
        },
      };
    case "location_request_message":
      return { type: "location_request_message", body, action: { name: "send_location" } };
    default:
      return undefined;
  }
}

function checkOtherInteractive(i: ContractInteractive): void {
  const bodyText = i.body?.text;
  if (bodyText !== undefined && charLength(bodyText) > limits.interactiveBody) {
    throw new MessageValidationError(
      "interactive.body.text",
      `is ${charLength(bodyText)} characters, the limit is ${limits.interactiveBody}`,
    );
  }
  const footer = i.footer?.text;
  if (footer !== undefined && charLength(footer) > limits.interactiveFooter) {
    throw new MessageValidationError(
      "interactive.footer.text",
      `is ${charLength(footer)} characters, the limit is ${limits.interactiveFooter}`,
    );
  }
  if ((i.type === "product_list" || i.type === "catalog_message") && bodyText === undefined) {
    throw new MessageValidationError("interactive.body.text", "is required and must not be blank");
  }
}

/**
 * Checks `content` against Meta's documented rules for a send to `to`, replying to `replyTo`,
 * with `callbackData` in biz_opaque_callback_data; throws MessageValidationError naming the field.
 */
export function checkContent(
  content: OutboundContent,
  { to, replyTo, callbackData }: { to: string; replyTo?: string | undefined; callbackData: string },
): void {
  const envelope = {
    messaging_product: "whatsapp" as const,
    to,
    ...(replyTo !== undefined ? { context: { message_id: replyTo } } : {}),
    biz_opaque_callback_data: callbackData,
  };
  let message: OutboundMessage;
  switch (content.type) {
    case "text":
      message = {
        ...envelope,
        type: "text",
        text: { body: content.text.body, ...opt("preview_url", content.text.previewUrl) },
      };
      break;
    case "image":
      message = {
        ...envelope,
        type: "image",
        image: { ...media(content.image), ...opt("caption", content.image.caption) },
      };
      break;
    case "video":
      message = {
        ...envelope,
        type: "video",
        video: { ...media(content.video), ...opt("caption", content.video.caption) },
      };
      break;
    case "document":
      message = {
        ...envelope,
        type: "document",
        document: {
          ...media(content.document),
          ...opt("caption", content.document.caption),
          ...opt("filename", content.document.filename),
        },
      };
      break;
    case "audio":
      message = { ...envelope, type: "audio", audio: media(content.audio) };
      break;
    case "sticker":
      message = { ...envelope, type: "sticker", sticker: media(content.sticker) };
      break;
    case "location":
      message = { ...envelope, type: "location", location: wire(content.location) };
      break;
    case "contacts":
      message = { ...envelope, type: "contacts", contacts: content.contacts.map(contact) };
      break;
    case "reaction":
      message = {
        ...envelope,
        type: "reaction",
        reaction: { message_id: content.reaction.messageId, emoji: content.reaction.emoji },
      };
      break;
    case "template":
      message = { ...envelope, type: "template", template: toCloudTemplate(content.template) };
      break;
    case "interactive": {
      const known = interactive(content.interactive);
      if (known === undefined) {
        checkOtherInteractive(content.interactive);
        // The envelope (to, context, callback data) is still checked, through a stand-in body.
        message = { ...envelope, type: "text", text: { body: "-" } };
      } else {
        message = { ...envelope, type: "interactive", interactive: known };
      }
      break;
    }
  }
  validateMessage(message);
}
