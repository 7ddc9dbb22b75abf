import { z } from "zod";

/** ISO-8601 UTC instant with a `Z` offset, e.g. `2026-03-01T10:15:00.000Z`. */
export const isoDateTime = z.iso.datetime();

/**
 * The envelope fields every event carries, as a zod shape. `type` is narrowed to a literal per
 * event by `envelopeOf`; everything else is shared so consumers can route and trace any record
 * without knowing its payload.
 */
export const envelopeFields = {
  eventId: z.uuid().describe("Unique per event; consumers dedupe on it."),
  type: z.string().describe("The event name, e.g. InboundMessageReceived."),
  schemaVersion: z
    .number()
    .int()
    .min(1)
    .describe("Version of this event's data shape, raised on every compatible change."),
  occurredAt: isoDateTime.describe("When the fact happened (Meta's timestamp for webhooks)."),
  recordedAt: isoDateTime.describe("When Parley recorded the event."),
  correlationId: z
    .string()
    .min(1)
    .describe(
      "The send request id, or the webhook delivery id, shared by everything that follows.",
    ),
  causationId: z
    .string()
    .min(1)
    .nullable()
    .describe("The eventId of the event that caused this one, null for an origin."),
  businessNumber: z
    .string()
    .min(1)
    .optional()
    .describe("The business phone_number_id the event concerns, where there is one."),
} as const;

export interface Envelope<T extends string, D> {
  readonly eventId: string;
  readonly type: T;
  readonly schemaVersion: number;
  readonly occurredAt: string;
  readonly recordedAt: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly businessNumber?: string;
  readonly data: D;
}

/** The envelope schema of one event: the shared fields, a literal `type` and the `data` shape. */
export function envelopeOf<const T extends string, D extends z.ZodType>(
  type: T,
  data: D,
  description: string,
) {
  return z
    .object({ ...envelopeFields, type: z.literal(type), data })
    .describe(description)
    .meta({ title: type });
}
