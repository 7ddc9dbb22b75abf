import { z } from "zod";
import { contactId, jsonObject, truncatedFields, wabaId, webhookError } from "./shared.js";

/** The raw signed bytes as ingress received them: the replayable source of truth. */
export const rawWebhookReceived = z.object({
  deliveryId: z.string().min(1).describe("Assigned by ingress; the correlation id downstream."),
  bodyBase64: z.string().describe("The exact request body, base64."),
  signature: z.string().describe("The X-Hub-Signature-256 header as received."),
  contentType: z.string().optional(),
  sizeBytes: z.number().int().min(0),
  sourceIp: z.string().optional(),
  userAgent: z.string().optional(),
  phoneNumberIds: z
    .array(z.string())
    .describe("Business numbers named in the payload, for routing."),
  wabaIds: z.array(z.string()),
});

/** What every event from a business-level webhook carries (and what may have been cut). */
const business = { wabaId, deliveryId: z.string().min(1), ...truncatedFields };

/** A webhook `field` Parley does not model, kept whole. */
export const unknownWebhookFieldReceived = z.object({
  ...business,
  field: z.string(),
  value: jsonObject,
});

/** `value.errors[]` of a messages webhook: app or system level, no message. */
export const webhookErrorsReceived = z.object({
  ...business,
  phoneNumberId: z.string().optional(),
  errors: z.array(webhookError).min(1),
});

const template = {
  templateId: z.string().describe("message_template_id, kept as a string."),
  templateName: z.string(),
  language: z.string(),
};

export const templateStatusUpdated = z.object({
  ...business,
  ...template,
  event: z
    .string()
    .describe("APPROVED | REJECTED | PENDING | PAUSED | DISABLED | FLAGGED | REINSTATED | ..."),
  category: z.string().optional(),
  reason: z.string().optional(),
  rejectionInfo: z
    .object({ reason: z.string().optional(), recommendation: z.string().optional() })
    .optional(),
  otherInfo: z
    .object({ title: z.string().optional(), description: z.string().optional() })
    .optional(),
});

export const templateQualityUpdated = z.object({
  ...business,
  ...template,
  previousQualityScore: z.string().optional(),
  newQualityScore: z.string().describe("GREEN | YELLOW | RED | UNKNOWN"),
});

export const templateCategoryUpdated = z.object({
  ...business,
  ...template,
  previousCategory: z.string().optional(),
  newCategory: z.string(),
  correctCategory: z.string().optional(),
});

export const phoneNumberQualityUpdated = z.object({
  ...business,
  displayPhoneNumber: z.string(),
  phoneNumberId: z
    .string()
    .regex(/^\d+$/)
    .optional()
    .describe(
      "The business number's phone_number_id, resolved from the number directory (Meta names only the display number); absent when the directory does not know it.",
    ),
  event: z
    .string()
    .describe("FLAGGED | UNFLAGGED | UPGRADE | DOWNGRADE | THROUGHPUT_UPGRADE | ONBOARDING | ..."),
  currentLimit: z.string().optional(),
  oldLimit: z.string().optional(),
  maxDailyConversationsPerBusiness: z.string().optional(),
});

export const accountUpdated = z.object({
  ...business,
  event: z.string().describe("ACCOUNT_RESTRICTION | ACCOUNT_VIOLATION | DISABLED_UPDATE | ..."),
  value: jsonObject.describe("The whole change value as Meta sent it."),
});

export const businessCapabilityUpdated = z.object({
  ...business,
  maxDailyConversationsPerBusiness: z.number().int().optional().describe("-1 means unlimited."),
  maxPhoneNumbersPerBusiness: z.number().int().optional(),
  value: jsonObject,
});

/** Meta's `user_preferences` webhook: a contact stopped or resumed marketing messages. */
export const userPreferencesUpdated = z.object({
  ...business,
  contactId,
  category: z.string().describe("marketing_messages"),
  value: z.string().describe("stop | resume | signup"),
  detail: z.string().optional(),
});
