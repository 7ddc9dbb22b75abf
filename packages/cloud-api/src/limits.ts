/** Meta's documented limits, in one place (see shared/reference/cloud-api.md §1, §5, §6). */
export const limits = Object.freeze({
  textBody: 4096,
  caption: 1024,
  bizOpaqueCallbackDataBytes: 512,
  interactiveHeaderText: 60,
  interactiveBody: 1024,
  interactiveFooter: 60,
  replyButtonsMin: 1,
  replyButtonsMax: 3,
  replyButtonTitle: 20,
  replyButtonId: 256,
  listButtonLabel: 20,
  listSectionsMax: 10,
  listSectionTitle: 24,
  /** Meta's list guide caps rows at 10 in total (the OpenAPI says per section); the stricter one wins. */
  listRowsTotal: 10,
  listRowId: 200,
  listRowTitle: 24,
  listRowDescription: 72,
  ctaDisplayText: 20,
  templateNameLength: 512,
  templateParameterName: 20,
  templateBody: 1024,
  templateHeaderText: 60,
  templateFooter: 60,
  templateButtonIndexMax: 9,
});

export type MediaKind = "image" | "audio" | "video" | "document" | "sticker";

const MB = 1024 * 1024;

/** Supported MIME types and maximum sizes per media kind (reference §5). */
export const mediaLimits: Readonly<
  Record<MediaKind, { readonly mimeTypes: readonly string[]; readonly maxBytes: number }>
> = Object.freeze({
  image: { mimeTypes: ["image/jpeg", "image/png"], maxBytes: 5 * MB },
  audio: {
    mimeTypes: ["audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"],
    maxBytes: 16 * MB,
  },
  video: { mimeTypes: ["video/mp4", "video/3gpp"], maxBytes: 16 * MB },
  document: {
    mimeTypes: [
      "text/plain",
      "application/pdf",
      "application/msword",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      "application/vnd.ms-excel",
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      "application/vnd.ms-powerpoint",
      "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ],
    maxBytes: 100 * MB,
  },
  /** Animated stickers may be 500 KB; static ones 100 KB. */
  sticker: { mimeTypes: ["image/webp"], maxBytes: 500 * 1024 },
});

export const STATIC_STICKER_MAX_BYTES = 100 * 1024;

/** Which media kind a MIME type belongs to (image/webp is a sticker), or undefined if unsupported. */
export function mediaKindOf(mimeType: string): MediaKind | undefined {
  const bare = (mimeType.split(";")[0] ?? "").trim().toLowerCase();
  for (const kind of Object.keys(mediaLimits) as MediaKind[]) {
    if (mediaLimits[kind].mimeTypes.includes(bare)) return kind;
  }
  return undefined;
}
