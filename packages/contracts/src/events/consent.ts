import { z } from "zod";
import { contactId, wamid } from "./shared.js";

/** A sha-256 in lowercase hex (64 characters). */
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/u);

/**
 * The ledger link of an entry written by the consent service (ADR 0012): the contact's entries
 * are numbered from 1 and each carries the hash of the one before, so an export shows whether an
 * entry was changed or removed.
 */
export const ledgerLink = z
  .object({
    sequence: z.number().int().min(1).describe("1 for the contact's first entry, then +1."),
    previousHash: sha256Hex
      .nullable()
      .describe("The hash of the contact's previous entry; null for the first."),
    hash: sha256Hex.describe(
      "sha-256 of the canonical JSON of { type, eventId, occurredAt, data } with ledger.hash left out.",
    ),
  })
  .describe("Hash chain of the contact's consent ledger (written by the consent service only).");

/** Personal data of an entry, encrypted with the contact's data key (AES-256-GCM). */
export const sealedData = z
  .object({
    keyId: z.string().min(1).max(128).describe("The contact's data key that encrypts it."),
    iv: z.string().min(1).max(64).describe("base64 nonce."),
    ciphertext: z.string().max(65_536).describe("base64 of the encrypted JSON."),
    tag: z.string().min(1).max(64).describe("base64 GCM tag."),
  })
  .describe(
    "Evidence and other personal data, encrypted with the contact's key; erasure destroys the key.",
  );

const consent = {
  contactId,
  scope: z
    .enum(["all", "marketing"])
    .describe(
      "What the consent covers for consumers that predate `purpose`: marketing, or all (utility and everything not exempt).",
    ),
  channel: z
    .enum([
      "whatsapp",
      "web",
      "app",
      "phone",
      "in_person",
      "paper",
      "other",
      "checkout",
      "import",
      "api",
    ])
    .describe("Where it was expressed: web is a web form, in_person in a store."),
  source: z
    .enum(["keyword", "user_preferences", "api", "import", "operator", "send_failure"])
    .describe(
      "keyword: a STOP/START reply; user_preferences: Meta's webhook; send_failure: Meta refused a marketing send with 131050.",
    ),
  businessName: z.string().optional().describe("The business name shown to the contact."),
  recordedBy: z.string().optional().describe("Who recorded it (service, operator or API client)."),
  evidence: z
    .object({
      wamid: wamid.optional(),
      text: z.string().optional(),
      url: z.string().optional(),
      note: z.string().optional(),
    })
    .optional()
    .describe("Plain evidence (router events before ADR 0012); the consent service seals it."),
  purpose: z
    .enum(["marketing", "utility"])
    .optional()
    .describe(
      "The purpose of this ledger entry (consent service); scope is marketing for marketing, all for utility.",
    ),
  sourceSystem: z
    .string()
    .max(200)
    .optional()
    .describe("The system that collected it (a CRM, a shop, parley-router)."),
  wording: z
    .object({
      versionHash: sha256Hex.describe("sha-256 of the exact text shown."),
      text: z.string().max(10_000).optional().describe("The text shown, when given."),
    })
    .optional()
    .describe("The consent wording shown and its version."),
  expiresAt: z.iso
    .datetime()
    .optional()
    .describe("A time-limited opt-in: no longer valid from this instant."),
  reason: z
    .enum(["requested", "superseded", "expired", "erased"])
    .optional()
    .describe(
      "requested: as asked; superseded: recorded as evidence, but a later entry of the purpose decides (an out-of-order input); erased: revoked by the contact's erasure.",
    ),
  inputId: z
    .string()
    .max(256)
    .optional()
    .describe("The id of the input it came from (API request id, event id, import row)."),
  sealed: sealedData.optional(),
  personalDigest: sha256Hex
    .optional()
    .describe("sha-256 of the salted sealed plaintext: ties the decrypted evidence to the chain."),
  ledger: ledgerLink.optional(),
};

export const consentGranted = z.object(consent);
export const consentRevoked = z.object(consent);

/** A STOP or START reply as the router recognised it: an input to the consent decider. */
export const consentKeywordReceived = z.object({
  contactId,
  wamid,
  keyword: z.enum(["stop", "start"]),
  text: z.string().max(4_096).describe("The message text as sent."),
});

/** The contact's data key was destroyed: its sealed consent data can no longer be read. */
export const contactErased = z.object({
  contactId,
  keyIds: z.array(z.string().min(1).max(128)).describe("The data keys destroyed."),
  destroyed: z
    .array(z.string().max(200))
    .describe("What was destroyed or dropped (data key, read models, ...)."),
  kept: z
    .array(z.string().max(200))
    .describe("What is kept, as the law allows (that consent existed and was withdrawn)."),
  requestedBy: z.string().max(200).optional(),
  ledger: ledgerLink.optional(),
});
