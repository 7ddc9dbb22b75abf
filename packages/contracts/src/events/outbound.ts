import { z } from "zod";
import {
  contactCard,
  contactId,
  jsonObject,
  location,
  messageCategory,
  phoneNumberId,
  wamid,
} from "./shared.js";

/** Outbound media: exactly one of a Graph media `id` or an http(s) `link`. */
const mediaRef = z.object({
  id: z.string().min(1).optional(),
  link: z.url({ protocol: /^https?$/ }).optional(),
});

const text = z.object({
  type: z.literal("text"),
  text: z.object({ body: z.string().min(1).max(4096), previewUrl: z.boolean().optional() }),
});
const image = z.object({
  type: z.literal("image"),
  image: mediaRef.extend({ caption: z.string().max(1024).optional() }),
});
const video = z.object({
  type: z.literal("video"),
  video: mediaRef.extend({ caption: z.string().max(1024).optional() }),
});
const audio = z.object({ type: z.literal("audio"), audio: mediaRef });
const document = z.object({
  type: z.literal("document"),
  document: mediaRef.extend({
    caption: z.string().max(1024).optional(),
    filename: z.string().optional(),
  }),
});
const sticker = z.object({ type: z.literal("sticker"), sticker: mediaRef });
const locationMessage = z.object({ type: z.literal("location"), location });
const contacts = z.object({ type: z.literal("contacts"), contacts: z.array(contactCard).min(1) });
const reaction = z.object({
  type: z.literal("reaction"),
  reaction: z.object({
    messageId: wamid,
    emoji: z.string().describe("Empty removes the reaction."),
  }),
});

const interactiveHeader = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text"), text: z.string().min(1).max(60) }),
  z.object({ type: z.literal("image"), image: mediaRef }),
  z.object({ type: z.literal("video"), video: mediaRef }),
  z.object({
    type: z.literal("document"),
    document: mediaRef.extend({ filename: z.string().optional() }),
  }),
]);
const interactiveCommon = {
  header: interactiveHeader.optional(),
  body: z.object({ text: z.string().min(1).max(1024) }).optional(),
  footer: z.object({ text: z.string().min(1).max(60) }).optional(),
};
const productSection = z.object({
  title: z.string().max(24).optional(),
  productItems: z
    .array(z.object({ productRetailerId: z.string() }))
    .min(1)
    .max(30),
});

export const interactiveContent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("button"),
    ...interactiveCommon,
    buttons: z
      .array(z.object({ id: z.string().min(1).max(256), title: z.string().min(1).max(20) }))
      .min(1)
      .max(3),
  }),
  z.object({
    type: z.literal("list"),
    ...interactiveCommon,
    button: z.string().min(1).max(20),
    sections: z
      .array(
        z.object({
          title: z.string().max(24).optional(),
          rows: z
            .array(
              z.object({
                id: z.string().min(1).max(200),
                title: z.string().min(1).max(24),
                description: z.string().max(72).optional(),
              }),
            )
            .min(1),
        }),
      )
      .min(1)
      .max(10),
  }),
  z.object({
    type: z.literal("cta_url"),
    ...interactiveCommon,
    displayText: z.string().min(1).max(20),
    url: z.url(),
  }),
  z.object({
    type: z.literal("flow"),
    ...interactiveCommon,
    flowMessageVersion: z.literal("3"),
    flowId: z.string().optional(),
    flowName: z.string().optional(),
    flowCta: z.string().min(1),
    flowToken: z.string().optional(),
    mode: z.enum(["draft", "published"]).optional(),
    flowAction: z.enum(["navigate", "data_exchange"]).optional(),
    flowActionPayload: z.object({ screen: z.string(), data: jsonObject.optional() }).optional(),
  }),
  z.object({ type: z.literal("location_request_message"), ...interactiveCommon }),
  z.object({ type: z.literal("call_permission_request"), ...interactiveCommon }),
  z.object({
    type: z.literal("product"),
    ...interactiveCommon,
    catalogId: z.string(),
    productRetailerId: z.string(),
  }),
  z.object({
    type: z.literal("product_list"),
    ...interactiveCommon,
    catalogId: z.string(),
    sections: z.array(productSection).min(1).max(10),
  }),
  z.object({
    type: z.literal("catalog_message"),
    ...interactiveCommon,
    thumbnailProductRetailerId: z.string().optional(),
  }),
]);

const templateParameter = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text"), text: z.string(), parameterName: z.string().optional() }),
  z.object({
    type: z.literal("currency"),
    currency: z.object({
      fallbackValue: z.string(),
      code: z.string().length(3),
      amount1000: z.number().int(),
    }),
    parameterName: z.string().optional(),
  }),
  z.object({
    type: z.literal("date_time"),
    dateTime: z.object({ fallbackValue: z.string() }),
    parameterName: z.string().optional(),
  }),
  z.object({ type: z.literal("image"), image: mediaRef }),
  z.object({ type: z.literal("video"), video: mediaRef }),
  z.object({
    type: z.literal("document"),
    document: mediaRef.extend({ filename: z.string().optional() }),
  }),
  z.object({ type: z.literal("location"), location }),
  z.object({ type: z.literal("payload"), payload: z.string() }),
  z.object({
    type: z.literal("action"),
    action: z.object({ flowToken: z.string().optional(), flowActionData: jsonObject.optional() }),
  }),
  z.object({ type: z.literal("coupon_code"), couponCode: z.string() }),
]);

const templateComponent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("header"), parameters: z.array(templateParameter) }),
  z.object({ type: z.literal("body"), parameters: z.array(templateParameter) }),
  z.object({
    type: z.literal("button"),
    subType: z
      .string()
      .describe("quick_reply | url | copy_code | flow | catalog | mpm | otp | ..."),
    index: z.number().int().min(0).max(9),
    parameters: z.array(templateParameter),
  }),
]);

export const templateContent = z.object({
  name: z
    .string()
    .min(1)
    .max(512)
    .regex(/^[a-z0-9_]+$/),
  language: z.object({ code: z.string().min(2), policy: z.literal("deterministic").optional() }),
  components: z.array(templateComponent).optional(),
});
export type TemplateContent = z.infer<typeof templateContent>;

const template = z.object({ type: z.literal("template"), template: templateContent });
const interactive = z.object({ type: z.literal("interactive"), interactive: interactiveContent });

/** Content of every outbound message type of the Cloud API send endpoint. */
export const outboundContent = z.discriminatedUnion("type", [
  text,
  image,
  video,
  audio,
  document,
  sticker,
  locationMessage,
  contacts,
  reaction,
  interactive,
  template,
]);
export type OutboundContent = z.infer<typeof outboundContent>;

/** A send names the business number directly, or an alias Parley's config resolves. */
export const sender = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("businessNumber"), phoneNumberId }),
  z.object({ kind: z.literal("alias"), alias: z.string().min(1).max(128) }),
]);

export const recipient = z.object({
  phone: z.string().min(1).max(32).optional().describe("E.164 or digits; the wa_id when known."),
  userId: z.string().min(1).optional().describe("BSUID, for username users."),
});

export const idempotencyKey = z
  .string()
  .min(1)
  .max(256)
  .describe("Chosen by the requester; a repeated key yields the first request's outcome.");

export const sendRequested = z.object({
  contactId,
  idempotencyKey,
  recipient,
  sender,
  content: outboundContent,
  category: messageCategory,
  replyTo: wamid.optional().describe("Quote this message (context.message_id)."),
  validUntil: z.iso
    .datetime()
    .optional()
    .describe("Not sent after this instant; SendExpired instead."),
  templateFallback: templateContent
    .optional()
    .describe("Sent instead of free-form content when the service window is closed."),
  metadata: z
    .record(z.string(), z.string())
    .optional()
    .describe("Caller metadata, echoed on outcomes."),
  requester: z.string().min(1).max(128).optional().describe("The requesting domain, e.g. orders."),
});

export const dispatchMessage = z.object({
  requestId: z.string().min(1).describe("The correlation id of the SendRequested."),
  idempotencyKey,
  contactId,
  to: z.string().min(1).describe("What goes in the Graph `to` (or `recipient`) field."),
  toKind: z.enum(["phone", "userId"]),
  content: outboundContent,
  category: messageCategory,
  usedTemplateFallback: z.boolean(),
  templateFallback: templateContent
    .optional()
    .describe(
      "The request's template fallback, when free-form content was sent: Meta may still fail the message for a closed window (131047), and the sender then sends this once instead.",
    ),
  replyTo: wamid.optional(),
  validUntil: z.iso.datetime().optional(),
  bizOpaqueCallbackData: z
    .string()
    .min(1)
    .max(512)
    .describe("Echoed on status webhooks: reconciles an in-doubt send."),
  consentEventId: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The consent event the router's decision relied on (echoed on the outcome); absent when none is recorded.",
    ),
});
