import { z } from "zod";
import { contactId, wamid } from "./shared.js";

/** The message types that carry media. */
export const mediaKind = z.enum(["image", "video", "audio", "document", "sticker"]);

const media = {
  contactId,
  mediaId: z.string().min(1).describe("Meta's media id."),
  wamid: wamid.optional(),
};

export const mediaStored = z.object({
  ...media,
  mimeType: z.string(),
  sha256: z.string().describe("As Meta announced it, verified on download."),
  sizeBytes: z.number().int().min(0),
  storageKey: z.string().min(1).describe("Where the encrypted object lives in the media store."),
  keyId: z.string().min(1).describe("The encryption key id, for rotation."),
  retentionEndsAt: z.iso.datetime(),
  kind: mediaKind.optional().describe("The message type the media came with (absent before v2)."),
  detectedMimeType: z
    .string()
    .optional()
    .describe("What the bytes were sniffed as, when it differs in detail from mimeType."),
  contentSha256: z
    .string()
    .optional()
    .describe("Hex sha256 of the plaintext as stored (the same file as sha256, always hex)."),
});

export const mediaFailed = z.object({
  ...media,
  reason: z.enum([
    "download_failed",
    "url_expired",
    "hash_mismatch",
    "too_large",
    "unsupported_type",
    "storage_failed",
    "upload_failed",
    "id_expired",
    "size_mismatch",
    "type_mismatch",
  ]),
  detail: z.string(),
  direction: z.enum(["inbound", "outbound"]),
});

export const mediaExpired = z.object({
  ...media,
  storageKey: z.string().min(1),
  reason: z.enum(["retention", "erasure"]),
});

/** A stored object was deleted; `policy` names the rule that deleted it (v1 of MediaDeleted). */
export const mediaDeleted = z.object({
  ...media,
  storageKey: z.string().min(1),
  reason: z.enum(["retention", "erasure", "api"]),
  policy: z
    .string()
    .min(1)
    .describe(
      "The rule that deleted it, e.g. retention:image:90d, retention:number:<id>:30d, erasure, api:<key name>.",
    ),
  kind: mediaKind.optional(),
});
