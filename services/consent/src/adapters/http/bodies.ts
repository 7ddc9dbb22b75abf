import { parseContactId } from "@parley/contracts";
import { z } from "zod";
import type { RecordConsent } from "../../ledger/decide.js";

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$/u, "1 to 200 of letters, digits and . _ : @ / -");
const text = (max: number) => z.string().min(1).max(max);
/** An instant with its offset; normalised to UTC milliseconds. */
const instant = z.iso.datetime({ offset: true }).transform((s) => new Date(s).toISOString());

export const channels = [
  "web",
  "checkout",
  "whatsapp",
  "in_person",
  "import",
  "api",
  "app",
  "phone",
  "paper",
  "other",
] as const;

/** The body of POST /v1/contacts/{contactId}/consent (docs/consent-api.openapi.yaml). */
export const recordBody = z
  .strictObject({
    inputId: id.optional(),
    decision: z.enum(["granted", "revoked"]),
    purposes: z
      .array(z.enum(["marketing", "utility"]))
      .min(1)
      .max(2)
      .refine((p) => new Set(p).size === p.length, "each purpose once"),
    occurredAt: instant.optional(),
    channel: z.enum(channels),
    sourceSystem: text(200).optional(),
    businessName: text(200).optional(),
    wording: z
      .strictObject({
        text: text(10_000).optional(),
        versionHash: z
          .string()
          .regex(/^[0-9a-f]{64}$/u, "sha-256 in lowercase hex")
          .optional(),
      })
      .refine((w) => w.text !== undefined || w.versionHash !== undefined, "text or versionHash")
      .optional(),
    evidence: z
      .record(
        z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/u, "a name of letters, digits and _"),
        text(2_000),
      )
      .refine((e) => Object.keys(e).length <= 20, "at most 20 items")
      .optional(),
    expiresAt: instant.optional(),
  })
  .superRefine((body, ctx) => {
    if (body.decision === "granted") {
      if (body.businessName === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["businessName"],
          message: "an opt-in names the business shown",
        });
      if (body.wording === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["wording"],
          message: "an opt-in keeps the wording shown (text or versionHash)",
        });
    }
    if (body.expiresAt !== undefined && body.decision === "revoked")
      ctx.addIssue({ code: "custom", path: ["expiresAt"], message: "only an opt-in can expire" });
    if (
      body.expiresAt !== undefined &&
      body.occurredAt !== undefined &&
      body.expiresAt <= body.occurredAt
    )
      ctx.addIssue({ code: "custom", path: ["expiresAt"], message: "after occurredAt" });
  });

export type RecordBody = z.infer<typeof recordBody>;

export interface FieldError {
  readonly field: string;
  readonly detail: string;
}

export const fieldErrors = (error: z.ZodError): FieldError[] =>
  error.issues.map((issue) => ({
    field: issue.path.length === 0 ? "(body)" : issue.path.map(String).join("."),
    detail: issue.message,
  }));

/** A contact id from a path or a row: the canonical id, or the reason it is none. */
export function contactOf(
  raw: string,
): { ok: true; contactId: string } | { ok: false; detail: string } {
  const result = parseContactId(raw);
  return result.ok
    ? { ok: true, contactId: result.contactId }
    : { ok: false, detail: result.reason };
}

/** A validated body as the decider's command; checks the instants against `now`. */
export function commandOf(
  body: RecordBody,
  {
    now,
    recordedBy,
    source,
    inputId,
  }: { now: Date; recordedBy: string; source: "api" | "import"; inputId: string },
): RecordConsent | FieldError[] {
  const occurredAt = body.occurredAt ?? now.toISOString();
  const errors: FieldError[] = [];
  // A clock a little ahead is tolerated; an expression of consent in the future is not.
  if (Date.parse(occurredAt) > now.getTime() + 5 * 60_000)
    errors.push({ field: "occurredAt", detail: "in the future" });
  if (body.expiresAt !== undefined && body.expiresAt <= occurredAt)
    errors.push({ field: "expiresAt", detail: "after occurredAt" });
  if (errors.length > 0) return errors;
  return {
    type: "RecordConsent",
    inputId: body.inputId ?? inputId,
    decision: body.decision,
    purposes: body.purposes,
    occurredAt,
    channel: body.channel,
    source,
    recordedBy,
    sourceSystem: body.sourceSystem,
    businessName: body.businessName,
    wording: body.wording,
    evidence: body.evidence,
    expiresAt: body.expiresAt,
  };
}
