import { z } from "zod";
import {
  contactId,
  contactProfile,
  truncatedFields,
  webhookError,
  webhookOrigin,
  wamid,
} from "./shared.js";

export const messageStatus = z.enum(["sent", "delivered", "read", "played", "failed"]);
export type MessageStatus = z.infer<typeof messageStatus>;

/** Per-message pricing as Meta reports it; vocabularies stay open strings (Meta adds values). */
export const pricing = z.object({
  pricingModel: z.string().describe("PMP (per-message); CBP before 2025-07-01."),
  type: z.string().optional().describe("regular | free_customer_service | free_entry_point | ..."),
  category: z
    .string()
    .describe(
      "marketing | marketing_lite | utility | authentication | authentication_international | service | referral_conversion",
    ),
  billable: z.boolean().optional().describe("Deprecated by Meta; use type and category."),
});

export const conversation = z.object({
  id: z.string(),
  expiresAt: z.iso.datetime().optional(),
  originType: z.string().optional(),
});

export const statusUpdated = z.object({
  contactId,
  wamid,
  status: messageStatus,
  origin: webhookOrigin,
  recipientId: z.string().optional(),
  recipientUserId: z.string().optional(),
  parentRecipientUserId: z.string().optional(),
  recipientType: z.enum(["individual", "group"]).optional(),
  recipientParticipantId: z.string().optional(),
  contact: contactProfile.optional(),
  bizOpaqueCallbackData: z.string().optional(),
  conversation: conversation.optional(),
  pricing: pricing.optional(),
  errors: z.array(webhookError).optional(),
  ...truncatedFields,
});
