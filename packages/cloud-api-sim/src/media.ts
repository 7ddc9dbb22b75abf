// Media endpoints (reference §5): upload, look-up URL, download with the token, delete.
import { createHash } from "node:crypto";
import { mediaKindOf, mediaLimits, STATIC_STICKER_MAX_BYTES } from "@parley/cloud-api";
import { numericId } from "./ids.js";
import { contentMismatch, isAnimatedWebp } from "./media-content.js";
import { parseMultipart } from "./multipart.js";
import type { Responder } from "./responses.js";
import { bounded, DAY, type Engine, type MediaItem, type NumberState } from "./state.js";
import type { SimRequest, SimResponse } from "./types.js";

export interface MediaApi {
  upload(pn: NumberState, req: SimRequest, version: string): SimResponse;
  /** `GET /{media-id}`: a 5-minute download URL and the file's facts. */
  lookUp(item: MediaItem, version: string): SimResponse;
  /**
   * `GET <url>`: the bytes, with the Bearer token (checked by the caller); `cut` closes the
   * connection after some bytes, and may expire the URL at that moment.
   */
  download(
    req: SimRequest,
    cut?: { readonly afterBytes: number; readonly expireUrl: boolean },
  ): SimResponse;
  store(
    phoneNumberId: string,
    mimeType: string,
    data: Buffer,
    ttlMs: number,
    filename?: string,
  ): MediaItem;
  /** A live media item (not expired; owned by `owner` when given). */
  live(id: string, owner: string | null): MediaItem | undefined;
}

export function createMediaApi(engine: Engine, r: Responder): MediaApi {
  const { clock, media, mediaUrls, rng } = engine;

  function store(
    phoneNumberId: string,
    mimeType: string,
    data: Buffer,
    ttlMs: number,
    filename?: string,
  ): MediaItem {
    const item: MediaItem = {
      id: numericId(rng.ids),
      phoneNumberId,
      mimeType,
      data: Buffer.from(data),
      sha256Hex: createHash("sha256").update(data).digest("hex"),
      expiresAt: clock.now() + ttlMs,
      filename,
    };
    media.set(item.id, item);
    bounded(media, 10_000);
    return item;
  }

  return {
    store,
    live(id, owner) {
      const item = media.get(id);
      return item &&
        item.expiresAt > clock.now() &&
        (owner === null || owner === item.phoneNumberId)
        ? item
        : undefined;
    },
    upload(pn, req, version) {
      const parts = parseMultipart(req.body, req.headers["content-type"] ?? "");
      if (!parts) return r.error(100, version, { details: "Expected multipart/form-data" });
      const field = (name: string): string | undefined =>
        parts.find((p) => p.name === name)?.data.toString("utf8");
      // Graph takes parameters from the form or the query string (whatsapp-api-js sends
      // messaging_product in the query, Meta's curl sample in the form).
      const product = field("messaging_product") ?? req.query.get("messaging_product");
      if (product !== "whatsapp")
        return r.error(100, version, {
          details: "The parameter messaging_product is required and must be whatsapp.",
        });
      const file = parts.find((p) => p.name === "file");
      if (!file) return r.error(131008, version, { details: "The parameter file is required." });
      const mimeType = field("type") ?? req.query.get("type") ?? file.contentType ?? "";
      const kind = mediaKindOf(mimeType);
      if (!kind) return r.error(131053, version, { details: `Unsupported MIME type ${mimeType}` });
      const mismatch = contentMismatch(mimeType, file.data);
      if (mismatch !== undefined) return r.error(131053, version, { details: mismatch });
      const animated = kind === "sticker" && isAnimatedWebp(file.data);
      const max =
        kind === "sticker" && !animated ? STATIC_STICKER_MAX_BYTES : mediaLimits[kind].maxBytes;
      if (file.data.length === 0 || file.data.length > max) {
        const what = kind === "sticker" ? `${animated ? "animated" : "static"} sticker` : kind;
        return r.error(131053, version, {
          details: `File size ${file.data.length} outside 1..${max} bytes for a ${what}`,
        });
      }
      const item = store(pn.id, mimeType, file.data, 30 * DAY, file.filename);
      return r.answer(200, { id: item.id }, version);
    },
    lookUp(item, version) {
      item.lookups = (item.lookups ?? 0) + 1;
      const token = rng.ids.token(32);
      mediaUrls.set(token, { mediaId: item.id, expiresAt: clock.now() + 5 * 60_000 });
      bounded(mediaUrls, 10_000);
      const ext = item.mimeType.split("/")[1]?.split(";")[0] ?? "bin";
      return r.answer(
        200,
        {
          messaging_product: "whatsapp",
          url: `${engine.baseUrl}/whatsapp_business/attachments/?mid=${item.id}&ext=${ext}&hash=${token}`,
          mime_type: item.mimeType,
          sha256: item.sha256Hex,
          file_size: String(item.data.length),
          id: item.id,
        },
        version,
      );
    },
    download(req, cut) {
      const hash = req.query.get("hash") ?? "";
      const entry = mediaUrls.get(hash);
      const item = entry ? media.get(entry.mediaId) : undefined;
      if (!entry || !item || entry.expiresAt <= clock.now() || item.expiresAt <= clock.now()) {
        return {
          kind: "answer",
          status: 404,
          headers: { "content-type": "text/plain" },
          body: "Not Found",
          delayMs: r.latency(),
        };
      }
      item.downloads = (item.downloads ?? 0) + 1;
      if (cut?.expireUrl === true) mediaUrls.set(hash, { ...entry, expiresAt: clock.now() });
      return {
        kind: "answer",
        status: 200,
        headers: { "content-type": item.mimeType, "content-length": String(item.data.length) },
        body: item.data,
        delayMs: r.latency(),
        ...(cut === undefined
          ? {}
          : { cutAfterBytes: Math.min(cut.afterBytes, item.data.length - 1) }),
      };
    },
  };
}
