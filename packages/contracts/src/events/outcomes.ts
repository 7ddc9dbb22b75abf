import { z } from "zod";
import { contactId, wamid } from "./shared.js";
import { idempotencyKey } from "./outbound.js";
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

export const sendAccepted = z.object({
  ...outcome,
  wamid,
  waId: z.string().optional().describe("Meta's canonical wa_id; may differ from the input."),
  messageStatus: messageStatusOrNone,
  usedTemplateFallback: z.boolean(),
  attempts: z.number().int().min(1),
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
  retriable: z.boolean(),
  fbtraceId: z.string().optional(),
});

export const sendFailed = z.object({
  ...outcome,
  error: sendError,
  phase: z
    .enum(["sync", "async"])
    .describe("sync: the POST failed; async: a failed status after a 200."),
  wamid: wamid.optional(),
  attempts: z.number().int().min(0),
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
