import type {
  ContactObject,
  FlowParameters,
  InteractiveHeader,
  ListSection,
  LocationObject,
  MarkReadRequest,
  MediaRef,
  MessageEnvelope,
  OutboundMessage,
  TemplateButtonSubType,
  TemplateComponent,
  TemplateParameter,
} from "./types.js";
import { validateMessage } from "./validate.js";

/** Options every builder takes. */
export interface CommonOptions {
  /** wamid of the message this one quotes. */
  readonly replyTo?: string;
  /** Echoed on this message's status webhooks (max 512 bytes). Parley puts the send request id here. */
  readonly callbackData?: string;
  readonly recipientType?: "individual" | "group";
}

interface InteractiveOptions extends CommonOptions {
  readonly header?: InteractiveHeader;
  readonly footer?: string;
}

function envelope(to: string, o: CommonOptions): MessageEnvelope {
  return {
    messaging_product: "whatsapp",
    ...(o.recipientType ? { recipient_type: o.recipientType } : {}),
    to,
    ...(o.replyTo !== undefined ? { context: { message_id: o.replyTo } } : {}),
    ...(o.callbackData !== undefined ? { biz_opaque_callback_data: o.callbackData } : {}),
  };
}

function checked(m: OutboundMessage): OutboundMessage {
  validateMessage(m);
  return m;
}

function interactiveCommon(o: InteractiveOptions): {
  header?: InteractiveHeader;
  footer?: { text: string };
} {
  return {
    ...(o.header ? { header: o.header } : {}),
    ...(o.footer !== undefined ? { footer: { text: o.footer } } : {}),
  };
}

function withoutBuilderOptions(o: CommonOptions): CommonOptions {
  return {
    ...(o.replyTo !== undefined ? { replyTo: o.replyTo } : {}),
    ...(o.callbackData !== undefined ? { callbackData: o.callbackData } : {}),
    ...(o.recipientType !== undefined ? { recipientType: o.recipientType } : {}),
  };
}

// Every builder validates against Meta's limits and throws MessageValidationError before any call.

export function textMessage(
  to: string,
  body: string,
  o: CommonOptions & { readonly previewUrl?: boolean } = {},
): OutboundMessage {
  return checked({
    ...envelope(to, o),
    type: "text",
    text: { body, ...(o.previewUrl !== undefined ? { preview_url: o.previewUrl } : {}) },
  });
}

export function imageMessage(
  to: string,
  media: MediaRef,
  o: CommonOptions & { readonly caption?: string } = {},
): OutboundMessage {
  return checked({
    ...envelope(to, o),
    type: "image",
    image: { ...media, ...(o.caption !== undefined ? { caption: o.caption } : {}) },
  });
}

export function videoMessage(
  to: string,
  media: MediaRef,
  o: CommonOptions & { readonly caption?: string } = {},
): OutboundMessage {
  return checked({
    ...envelope(to, o),
    type: "video",
    video: { ...media, ...(o.caption !== undefined ? { caption: o.caption } : {}) },
  });
}

export function documentMessage(
  to: string,
  media: MediaRef,
  o: CommonOptions & { readonly caption?: string; readonly filename?: string } = {},
): OutboundMessage {
  return checked({
    ...envelope(to, o),
    type: "document",
    document: {
      ...media,
      ...(o.caption !== undefined ? { caption: o.caption } : {}),
      ...(o.filename !== undefined ? { filename: o.filename } : {}),
    },
  });
}

export function audioMessage(to: string, media: MediaRef, o: CommonOptions = {}): OutboundMessage {
  return checked({ ...envelope(to, o), type: "audio", audio: media });
}

export function stickerMessage(
  to: string,
  media: MediaRef,
  o: CommonOptions = {},
): OutboundMessage {
  return checked({ ...envelope(to, o), type: "sticker", sticker: media });
}

export function locationMessage(
  to: string,
  location: LocationObject,
  o: CommonOptions = {},
): OutboundMessage {
  return checked({ ...envelope(to, o), type: "location", location });
}

export function contactsMessage(
  to: string,
  contacts: readonly ContactObject[],
  o: CommonOptions = {},
): OutboundMessage {
  return checked({ ...envelope(to, o), type: "contacts", contacts });
}

/** An empty emoji removes an earlier reaction. Reactions only ever get a `sent` status. */
export function reactionMessage(
  to: string,
  messageId: string,
  emoji: string,
  o: CommonOptions = {},
): OutboundMessage {
  return checked({
    ...envelope(to, o),
    type: "reaction",
    reaction: { message_id: messageId, emoji },
  });
}

export function replyButtonsMessage(
  to: string,
  body: string,
  buttons: readonly { readonly id: string; readonly title: string }[],
  o: InteractiveOptions = {},
): OutboundMessage {
  return checked({
    ...envelope(to, withoutBuilderOptions(o)),
    type: "interactive",
    interactive: {
      type: "button",
      ...interactiveCommon(o),
      body: { text: body },
      action: {
        buttons: buttons.map((b) => ({
          type: "reply" as const,
          reply: { id: b.id, title: b.title },
        })),
      },
    },
  });
}

export function listMessage(
  to: string,
  body: string,
  button: string,
  sections: readonly ListSection[],
  o: InteractiveOptions = {},
): OutboundMessage {
  return checked({
    ...envelope(to, withoutBuilderOptions(o)),
    type: "interactive",
    interactive: {
      type: "list",
      ...interactiveCommon(o),
      body: { text: body },
      action: { button, sections },
    },
  });
}

export function ctaUrlMessage(
  to: string,
  body: string,
  displayText: string,
  url: string,
  o: InteractiveOptions = {},
): OutboundMessage {
  return checked({
    ...envelope(to, withoutBuilderOptions(o)),
    type: "interactive",
    interactive: {
      type: "cta_url",
      ...interactiveCommon(o),
      body: { text: body },
      action: { name: "cta_url", parameters: { display_text: displayText, url } },
    },
  });
}

export function flowMessage(
  to: string,
  body: string,
  flow: Omit<FlowParameters, "flow_message_version">,
  o: InteractiveOptions = {},
): OutboundMessage {
  return checked({
    ...envelope(to, withoutBuilderOptions(o)),
    type: "interactive",
    interactive: {
      type: "flow",
      ...interactiveCommon(o),
      body: { text: body },
      action: { name: "flow", parameters: { flow_message_version: "3", ...flow } },
    },
  });
}

export function locationRequestMessage(
  to: string,
  body: string,
  o: CommonOptions = {},
): OutboundMessage {
  return checked({
    ...envelope(to, o),
    type: "interactive",
    interactive: {
      type: "location_request_message",
      body: { text: body },
      action: { name: "send_location" },
    },
  });
}

export function templateMessage(
  to: string,
  name: string,
  languageCode: string,
  components: readonly TemplateComponent[] = [],
  o: CommonOptions = {},
): OutboundMessage {
  return checked({
    ...envelope(to, o),
    type: "template",
    template: {
      name,
      language: { code: languageCode, policy: "deterministic" },
      ...(components.length > 0 ? { components } : {}),
    },
  });
}

/** Template component and parameter helpers; give `name` for NAMED templates, omit it for POSITIONAL. */
export const tpl = {
  header: (...parameters: TemplateParameter[]): TemplateComponent => ({
    type: "header",
    parameters,
  }),
  body: (...parameters: TemplateParameter[]): TemplateComponent => ({ type: "body", parameters }),
  button: (
    subType: TemplateButtonSubType,
    index: number,
    ...parameters: TemplateParameter[]
  ): TemplateComponent => ({
    type: "button",
    sub_type: subType,
    index: String(index),
    parameters,
  }),
  text: (text: string, name?: string): TemplateParameter => ({
    type: "text",
    text,
    ...(name !== undefined ? { parameter_name: name } : {}),
  }),
  currency: (
    fallback: string,
    code: string,
    amount1000: number,
    name?: string,
  ): TemplateParameter => ({
    type: "currency",
    currency: { fallback_value: fallback, code, amount_1000: amount1000 },
    ...(name !== undefined ? { parameter_name: name } : {}),
  }),
  dateTime: (fallback: string, name?: string): TemplateParameter => ({
    type: "date_time",
    date_time: { fallback_value: fallback },
    ...(name !== undefined ? { parameter_name: name } : {}),
  }),
  image: (media: MediaRef): TemplateParameter => ({ type: "image", image: media }),
  video: (media: MediaRef): TemplateParameter => ({ type: "video", video: media }),
  document: (media: MediaRef, filename?: string): TemplateParameter => ({
    type: "document",
    document: { ...media, ...(filename !== undefined ? { filename } : {}) },
  }),
  payload: (payload: string): TemplateParameter => ({ type: "payload", payload }),
  couponCode: (code: string): TemplateParameter => ({ type: "coupon_code", coupon_code: code }),
  flowAction: (flowToken: string, data?: Readonly<Record<string, unknown>>): TemplateParameter => ({
    type: "action",
    action: { flow_token: flowToken, ...(data ? { flow_action_data: data } : {}) },
  }),
};

/** Mark an inbound message (and all earlier ones) read, optionally showing "typing..." for up to 25 s. */
export function markReadRequest(
  messageId: string,
  o: { readonly typingIndicator?: boolean } = {},
): MarkReadRequest {
  return {
    messaging_product: "whatsapp",
    status: "read",
    message_id: messageId,
    ...(o.typingIndicator === true ? { typing_indicator: { type: "text" as const } } : {}),
  };
}
