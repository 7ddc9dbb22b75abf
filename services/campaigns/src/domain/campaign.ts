import { templateContent } from "@parley/contracts";
import { z } from "zod";

/** HH:MM, 00:00 to 23:59, in the recipient's local time. */
const clockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, "a local time HH:MM, 00:00 to 23:59");

/** An IANA time zone this runtime knows (Intl), e.g. Europe/Madrid. */
export const timeZone = z
  .string()
  .min(1)
  .max(64)
  .refine(isTimeZone, "an IANA time zone, e.g. Europe/Madrid");

/** True when Intl knows `zone` (e.g. `America/Sao_Paulo`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * A campaign as its owner defines it (ADR 0015): one template with per-recipient parameters, the
 * business numbers it may use, a schedule with quiet hours in the recipient's time zone, a
 * per-contact frequency cap and an owner. The audience comes separately (a streamed file or a
 * query over the contacts read model).
 */
export const campaignDefinition = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "lowercase letters, digits and '-', 1 to 64"),
  owner: z.string().min(1).max(128).describe("The requesting domain, e.g. marketing."),
  template: templateContent.pick({ name: true, language: true }),
  category: z.enum(["marketing", "utility", "authentication"]),
  /**
   * The row fields that fill the template body's named parameters, in order. A row that lacks
   * one is skipped (`missing_parameter`).
   */
  bodyParameters: z
    .array(z.string().regex(/^[a-z_][a-z0-9_]{0,63}$/))
    .max(20)
    .default([]),
  /** Business numbers (phone_number_id) the campaign may use; recipients are spread by cap. */
  numbers: z
    .array(z.string().regex(/^\d{5,32}$/))
    .min(1)
    .max(50),
  schedule: z.strictObject({
    startAt: z.iso.datetime(),
    /** Sends not handed to Graph by then expire (the router's validUntil). */
    endAt: z.iso.datetime().optional(),
    /** No send starts between `from` and `to` in the recipient's local time (wraps midnight). */
    quietHours: z.strictObject({ from: clockTime, to: clockTime }).optional(),
    /** The time zone of a row that names none. */
    defaultTimeZone: timeZone.default("UTC"),
  }),
  /** At most `max` campaign messages to one contact within `days` days (across campaigns). */
  frequencyCap: z
    .strictObject({ max: z.number().int().min(1).max(100), days: z.number().int().min(1).max(90) })
    .optional(),
});
export type CampaignDefinition = z.infer<typeof campaignDefinition>;

/** One business number as the plan sees it: its id and its messages per second. */
export interface PlanNumber {
  readonly phoneNumberId: string;
  readonly mps: number;
}
