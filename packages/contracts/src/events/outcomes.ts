import { z } from "zod";
import { contactId, wamid } from "./shared.js";
import { idempotencyKey, templateContent } from "./outbound.js";
import { messageStatus } from "./status.js";

/** Every outcome names its request: the requester matches on requestId or idempotencyKey. */
const outcome = {
  requestId: z.string().min(1).describe("The correlation id of the SendRequested."),
  idempotencyKey,
  contactId,
  metadata: z.record(z.string(), z.string()).optional().describe("The caller metadata, echoed."),
  consentEventId: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The id of the consent event (ConsentGranted or ConsentRevoked) the router's decision relied on: the opt-in of a marketing send, the latest fact of scope all otherwise, the opt-out of a refusal; absent when the contact has none recorded.",
    ),
};

/** `messages[].message_status` of a template send under pacing; absent otherwise. */
const messageStatusOrNone = z
  .enum(["accepted", "held_for_quality_assessment", "paused"])
  .optional();

/**
 * A late template fallback: Meta accepted the request's free-form message and then failed it by
 * webhook (131047: it judged the service window closed), so the sender sent the request's
 * template fallback once instead. The outcome that carries this is about the template.
 */
export const fallbackAfter = z
  .object({
    wamid: wamid.describe("The free-form message Meta failed."),
    code: z.number().int().describe("Meta's error.code on its failed status (131047)."),
    title: z.string().optional(),
  })
  .describe(
    "Set when this outcome is for the request's template fallback, sent after Meta failed the free-form message by webhook.",
  );

export const sendAccepted = z.object({
  ...outcome,
  wamid,
  waId: z.string().optional().describe("Meta's canonical wa_id; may differ from the input."),
  messageStatus: messageStatusOrNone,
  usedTemplateFallback: z
    .boolean()
    .describe("The template fallback went instead of the free-form content."),
  attempts: z.number().int().min(1),
  fallbackAfter: fallbackAfter.optional(),
});

/** Machine-readable reasons a request was refused before any Graph call. */
export const rejectionReason = z.enum([
  "invalid_request",
  "unknown_sender",
  "no_consent",
  "opted_out",
  "outside_window",
  "frequency_capped",
  "duplicate_conflict",
  "template_not_approved",
  "recipient_invalid",
  "contact_mismatch",
]);
export type RejectionReason = z.infer<typeof rejectionReason>;

export const sendRejected = z.object({
  ...outcome,
  reason: rejectionReason,
  detail: z.string().describe("Human-readable explanation; never parse it."),
});

/** Classes of Cloud API failures, mapped from `error.code` (never HTTP status or text). */
export const sendErrorClass = z.enum([
  "authentication",
  "permission",
  "throughput",
  "pair_rate_limit",
  "rate_limit",
  "spam_limit",
  "policy",
  "invalid_request",
  "recipient",
  "window_closed",
  "marketing_limit",
  "opted_out_marketing",
  "template",
  "media",
  "server",
  "network",
  "unknown",
]);
export type SendErrorClass = z.infer<typeof sendErrorClass>;

export const sendError = z.object({
  errorClass: sendErrorClass,
  code: z.number().int().optional().describe("Meta's error.code when there is one."),
  title: z.string().optional(),
  details: z.string().optional(),
  retriable: z
    .boolean()
    .describe(
      "Whether a NEW request (a new idempotency key, the same content) may succeed later without anybody fixing the content, the token or the account first. Parley never resends a failed request by itself; retryHint says why and when.",
    ),
  retryHint: z
    .string()
    .optional()
    .describe(
      "Why a new request may or may not succeed, and when (from Parley's Graph error table).",
    ),
  fbtraceId: z.string().optional(),
});

export const sendFailed = z.object({
  ...outcome,
  error: sendError,
  phase: z
    .enum(["sync", "async"])
    .describe(
      "sync: Graph refused the call (or it was never made); async: Meta accepted the message (SendAccepted or SendReconciled came first) and then reported a failed status for it, whose code is error.code. A SendFailed async supersedes the earlier acceptance: it is the request's final outcome.",
    ),
  wamid: wamid.optional().describe("async: the message Meta failed."),
  statusAt: z.iso
    .datetime()
    .optional()
    .describe("async: when Meta reported the failed status (its timestamp)."),
  attempts: z.number().int().min(0),
  fallbackAfter: fallbackAfter.optional(),
  template: z
    .object({
      name: templateContent.shape.name,
      language: z.string().min(2).describe("The template's language code."),
    })
    .optional()
    .describe(
      "The template of the failed message, on a template error (errorClass template, e.g. 132015 paused, 132016 disabled): who sent it can tell which template Meta stopped. Absent on other failures and on free-form messages.",
    ),
});

export const sendExpired = z.object({
  ...outcome,
  validUntil: z.iso.datetime(),
  stage: z.enum(["router", "sender"]),
});

/** A Graph call whose outcome is unknown: never resent, reconciled from status webhooks. */
export const sendInDoubt = z.object({
  ...outcome,
  bizOpaqueCallbackData: z.string().min(1).max(512),
  reason: z.enum(["timeout", "connection_lost", "crash_recovery"]),
  attemptedAt: z.iso.datetime(),
});

export const sendReconciled = z.object({
  ...outcome,
  wamid,
  status: messageStatus,
  result: z.enum(["sent", "failed"]),
  error: sendError.optional(),
});

/**
 * A request that repeated an idempotency key already used for the same send: nothing new is
 * decided or sent, and this is the repeat's one terminal outcome. The first request's outcome is
 * the answer: wait for the outcome of `originalRequestId` (the client does this for you). A
 * repeat whose content differs is `SendRejected` with reason `duplicate_conflict` instead.
 */
export const sendDeduplicated = z.object({
  ...outcome,
  originalRequestId: z
    .string()
    .min(1)
    .describe("The request that first used this idempotency key; its outcome is the answer."),
});
