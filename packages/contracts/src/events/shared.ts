import { z } from "zod";

/**
 * The key of every contact-keyed topic: the contact's WhatsApp id (`wa_id`, digits only), or the
 * business-scoped user id (BSUID) for username users whose `wa_id` Meta withholds.
 */
export const contactId = z
  .string()
  .min(1)
  .max(256)
  .describe("The contact's wa_id (digits), or their BSUID when Meta sends no wa_id.");

/** Meta's message id; opaque, compared exactly. */
export const wamid = z.string().min(1).max(256).describe("Meta's message id (wamid), opaque.");

/** A business phone number's `phone_number_id` (decimal digits, kept as a string). */
export const phoneNumberId = z.string().regex(/^\d+$/).describe("A business phone_number_id.");

/** A WhatsApp Business Account id (`entry[].id`). */
export const wabaId = z.string().min(1).describe("The WhatsApp Business Account id.");

/** Arbitrary JSON object kept as Meta sent it. */
export const jsonObject = z.record(z.string(), z.unknown());

/** An error object as it appears in webhooks (`statuses[].errors[]`, `messages[].errors[]`, `value.errors[]`). */
export const webhookError = z.object({
  code: z.number().int(),
  title: z.string().optional(),
  message: z.string().optional(),
  details: z.string().optional().describe("error_data.details"),
  href: z.string().optional(),
});
export type WebhookError = z.infer<typeof webhookError>;

/** The contact block Meta sends beside messages and (since 2026) statuses. */
export const contactProfile = z.object({
  waId: z.string().optional(),
  userId: z.string().optional().describe("BSUID"),
  parentUserId: z.string().optional(),
  profileName: z.string().optional(),
  username: z.string().optional(),
  identityKeyHash: z.string().optional(),
});

/**
 * A value of a webhook-derived event that was cut: so that the event fits its topic's record
 * limit (`too_large`: a string keeps its first `keptBytes`, an array or object its first
 * `keptItems`), or MongoDB's nesting limit (`too_deep`: a value nested past the limit is kept as
 * its JSON text, a string). The raw webhook (`raw-webhooks`, named by the event's delivery id) is
 * the source of truth and holds the whole value; `sha256` lets a reader check what it fetched.
 */
export const truncation = z.object({
  path: z.string().describe("RFC 6901 JSON pointer into the event's `data` to the value cut."),
  reason: z
    .enum(["too_large", "too_deep"])
    .describe(
      "too_large: cut so the event fits its topic's record limit; too_deep: nested deeper than MongoDB accepts, kept as its JSON text.",
    ),
  originalBytes: z
    .number()
    .int()
    .min(0)
    .describe("UTF-8 bytes of the original value: a string's text, else its JSON."),
  keptBytes: z.number().int().min(0).describe("UTF-8 bytes of what the event keeps at `path`."),
  originalItems: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("Elements (array) or keys (object) before the cut."),
  keptItems: z.number().int().min(0).optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe("Hex SHA-256 of the original bytes counted in originalBytes."),
});
export type Truncation = z.infer<typeof truncation>;

/** The `truncated` field every webhook-derived event may carry: what was cut, where and why. */
export const truncatedFields = {
  truncated: z
    .array(truncation)
    .min(1)
    .optional()
    .describe(
      "Present only when a value was cut to fit (see truncation); the raw webhook holds it whole.",
    ),
};

/** Where a webhook-derived event came from, so a parser fix can be replayed and traced. */
export const webhookOrigin = z.object({
  deliveryId: z.string().min(1).describe("The ingress delivery id of the raw webhook."),
  wabaId: wabaId,
  displayPhoneNumber: z.string().optional(),
});

/** A contact card, shared by inbound and outbound `contacts` messages. */
export const contactCard = z.object({
  name: z.object({
    formattedName: z.string().min(1),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    middleName: z.string().optional(),
    prefix: z.string().optional(),
    suffix: z.string().optional(),
  }),
  phones: z
    .array(
      z.object({
        phone: z.string().optional(),
        waId: z.string().optional(),
        type: z.string().optional(),
      }),
    )
    .optional(),
  emails: z.array(z.object({ email: z.string(), type: z.string().optional() })).optional(),
  urls: z.array(z.object({ url: z.string(), type: z.string().optional() })).optional(),
  addresses: z
    .array(
      z.object({
        street: z.string().optional(),
        city: z.string().optional(),
        state: z.string().optional(),
        zip: z.string().optional(),
        country: z.string().optional(),
        countryCode: z.string().optional(),
        type: z.string().optional(),
      }),
    )
    .optional(),
  org: z
    .object({
      company: z.string().optional(),
      department: z.string().optional(),
      title: z.string().optional(),
    })
    .optional(),
  birthday: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
});

export const location = z.object({
  latitude: z.number(),
  longitude: z.number(),
  name: z.string().optional(),
  address: z.string().optional(),
  url: z.string().optional(),
});

/** Template / send categories (2025 per-message pricing), plus free-form service messages. */
export const messageCategory = z.enum(["marketing", "utility", "authentication", "service"]);
export type MessageCategory = z.infer<typeof messageCategory>;
