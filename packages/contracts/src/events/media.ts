import { z } from "zod";
import { contactId, wamid } from "./shared.js";

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
  ]),
  detail: z.string(),
  direction: z.enum(["inbound", "outbound"]),
});

export const mediaExpired = z.object({
  ...media,
  storageKey: z.string().min(1),
  reason: z.enum(["retention", "erasure"]),
});
