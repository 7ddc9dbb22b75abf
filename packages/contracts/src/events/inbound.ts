import { z } from "zod";
import {
  contactCard,
  contactId,
  contactProfile,
  jsonObject,
  location,
  truncatedFields,
  webhookError,
  webhookOrigin,
  wamid,
} from "./shared.js";

/** Media as Meta announces it inbound: the id lives 7 days, the `url` 5 minutes. */
const inboundMedia = z.object({
  id: z.string().min(1),
  mimeType: z.string().optional(),
  sha256: z.string().optional(),
  url: z.string().optional(),
});

const text = z.object({ type: z.literal("text"), text: z.object({ body: z.string() }) });
const image = z.object({
  type: z.literal("image"),
  image: inboundMedia.extend({ caption: z.string().optional() }),
});
const video = z.object({
  type: z.literal("video"),
  video: inboundMedia.extend({ caption: z.string().optional() }),
});
const audio = z.object({
  type: z.literal("audio"),
  audio: inboundMedia.extend({ voice: z.boolean().optional() }),
});
const document = z.object({
  type: z.literal("document"),
  document: inboundMedia.extend({
    caption: z.string().optional(),
    filename: z.string().optional(),
  }),
});
const sticker = z.object({
  type: z.literal("sticker"),
  sticker: inboundMedia.extend({ animated: z.boolean().optional() }),
});
const locationMessage = z.object({ type: z.literal("location"), location });
const contacts = z.object({ type: z.literal("contacts"), contacts: z.array(contactCard).min(1) });
const button = z.object({
  type: z.literal("button"),
  button: z.object({ text: z.string(), payload: z.string().optional() }),
});

/** Replies to interactive messages; an unknown reply kind keeps Meta's object. */
const interactiveReply = z.discriminatedUnion("type", [
  z.object({ type: z.literal("button_reply"), id: z.string(), title: z.string() }),
  z.object({
    type: z.literal("list_reply"),
    id: z.string(),
    title: z.string(),
    description: z.string().optional(),
  }),
  z.object({
    type: z.literal("nfm_reply"),
    name: z.string().describe("flow | address_message"),
    body: z.string().optional(),
    responseJson: z.string().describe("Meta's JSON string, including the flow_token."),
    flowToken: z
      .string()
      .optional()
      .describe(
        "response_json's flow_token: names the flow message this completion answers (correlation).",
      ),
    response: jsonObject
      .optional()
      .describe("response_json parsed, when it is a JSON object (absent otherwise)."),
  }),
  z.object({
    type: z.literal("call_permission_reply"),
    response: z.string().optional(),
    isPermanent: z.boolean().optional(),
    expiresAt: z.iso.datetime().optional(),
  }),
  z.object({
    type: z.literal("unknown"),
    originalType: z.string(),
    payload: jsonObject,
  }),
]);
const interactive = z.object({ type: z.literal("interactive"), interactive: interactiveReply });

const reaction = z.object({
  type: z.literal("reaction"),
  reaction: z.object({
    messageId: wamid,
    emoji: z.string().optional().describe("Absent or empty: the reaction was removed."),
  }),
});
const order = z.object({
  type: z.literal("order"),
  order: z.object({
    catalogId: z.string(),
    text: z.string().optional(),
    productItems: z.array(
      z.object({
        productRetailerId: z.string(),
        quantity: z.number(),
        itemPrice: z.number(),
        currency: z.string(),
      }),
    ),
  }),
});
const system = z.object({
  type: z.literal("system"),
  system: z.object({
    body: z.string().optional(),
    systemType: z
      .string()
      .describe(
        "user_changed_number | customer_changed_number | customer_identity_changed | user_changed_user_id | ...",
      ),
    waId: z.string().optional().describe("The new wa_id after a number change."),
    userId: z.string().optional(),
    customer: z.string().optional(),
  }),
  identity: z
    .object({
      acknowledged: z.boolean().optional(),
      createdAt: z.iso.datetime().optional(),
      hash: z.string().optional(),
    })
    .optional(),
});
const unsupported = z.object({
  type: z.literal("unsupported"),
  unsupported: z.object({ unsupportedType: z.string().optional() }),
});
const requestWelcome = z.object({ type: z.literal("request_welcome") });
const revoke = z.object({
  type: z.literal("revoke"),
  revoke: z.object({ originalMessageId: wamid }),
});
const edit = z.object({
  type: z.literal("edit"),
  edit: z.object({
    originalMessageId: wamid,
    message: jsonObject.describe("The edited message object as Meta sent it."),
  }),
});
/** A type Parley does not know yet: kept whole, flagged, never dropped. */
const unknown = z.object({
  type: z.literal("unknown"),
  originalType: z.string().describe("Meta's `type` value."),
  payload: jsonObject.describe("The whole `messages[]` item as Meta sent it."),
});

export const inboundMessageContent = z.discriminatedUnion("type", [
  text,
  image,
  video,
  audio,
  document,
  sticker,
  locationMessage,
  contacts,
  button,
  interactive,
  reaction,
  order,
  system,
  unsupported,
  requestWelcome,
  revoke,
  edit,
  unknown,
]);
export type InboundMessageContent = z.infer<typeof inboundMessageContent>;
export type InboundMessageType = InboundMessageContent["type"];

export const inboundMessageContext = z.object({
  from: z.string().optional(),
  id: wamid.optional().describe("The quoted business message."),
  forwarded: z.boolean().optional(),
  frequentlyForwarded: z.boolean().optional(),
  referredProduct: z.object({ catalogId: z.string(), productRetailerId: z.string() }).optional(),
});

/** Click-to-WhatsApp ad entry (free entry point). */
export const referral = z.object({
  sourceUrl: z.string().optional(),
  sourceId: z.string().optional(),
  sourceType: z.string().optional().describe("ad | post"),
  headline: z.string().optional(),
  body: z.string().optional(),
  mediaType: z.string().optional(),
  imageUrl: z.string().optional(),
  videoUrl: z.string().optional(),
  thumbnailUrl: z.string().optional(),
  ctwaClid: z.string().optional(),
  welcomeMessageText: z.string().optional(),
});

export const inboundMessageReceived = z.object({
  contactId,
  wamid,
  contact: contactProfile,
  origin: webhookOrigin,
  message: inboundMessageContent,
  context: inboundMessageContext.optional(),
  referral: referral.optional(),
  groupId: z.string().optional(),
  errors: z.array(webhookError).optional(),
  ...truncatedFields,
});
