import type { Readable } from "node:stream";
import { ParleyError } from "@parley/errors";
import type { MediaObjects } from "../media/objects.js";

/** Graph's upload endpoint for one business number (adapters/graph implements it). */
export interface GraphUploader {
  /** Streams `size` bytes of `body` to Graph for the number; answers the Graph media id. */
  upload(
    phoneNumberId: string,
    file: {
      readonly body: Readable;
      readonly size: number;
      readonly mimeType: string;
      readonly filename?: string;
    },
  ): Promise<string>;
}

/** A Graph media id uploaded for one number and one content hash. */
export interface CachedGraphId {
  readonly graphMediaId: string;
  readonly uploadedAt: Date;
}

/** The media-id cache by business number and content hash (MongoDB in production). */
export interface GraphIdCache {
  get(phoneNumberId: string, sha256: string): Promise<CachedGraphId | undefined>;
  put(phoneNumberId: string, sha256: string, entry: CachedGraphId): Promise<void>;
}

/** Graph refused the upload for good (131053 class) or the number is unknown. */
export class GraphUploadRefusedError extends ParleyError {
  override readonly name = "GraphUploadRefusedError";
}

const DAY = 86_400_000;

/**
 * A stored object as a Graph media id for a sending number (uploaded media ids live 30 days,
 * reference §5): the cached id for the number and the content's hash while it is younger than
 * `refreshAfterMs` (27 days: re-uploaded before Meta forgets it, whatever the send's delays),
 * else one upload with the number's token, cached. The same file sent twice from one number
 * uploads once; from another number, once more (ids belong to the number that uploaded them).
 */
export function createGraphIds({
  objects,
  uploader,
  cache,
  clock = () => new Date(),
  refreshAfterMs = 27 * DAY,
}: {
  readonly objects: MediaObjects;
  readonly uploader: GraphUploader;
  readonly cache: GraphIdCache;
  readonly clock?: () => Date;
  readonly refreshAfterMs?: number;
}) {
  return async function resolve(
    id: string,
    phoneNumberId: string,
  ): Promise<CachedGraphId & { readonly reused: boolean }> {
    const state = await objects.metadata(id);
    const object = state.object;
    if (object === undefined) throw new ParleyError("no stored object", { retry: "never" });
    const now = clock();
    const cached = await cache.get(phoneNumberId, object.sha256Hex);
    if (cached !== undefined && now.getTime() - cached.uploadedAt.getTime() < refreshAfterMs)
      return { ...cached, reused: true };
    // Graph takes the file in one multipart body: the decrypting stream goes into it chunk by
    // chunk with the size known in advance, so no file (up to 100 MB) is ever whole in memory.
    const { body } = await objects.open(id);
    let graphMediaId: string;
    try {
      graphMediaId = await uploader.upload(phoneNumberId, {
        body,
        size: object.sizeBytes,
        mimeType: object.mimeType,
        ...(object.filename === undefined ? {} : { filename: object.filename }),
      });
    } finally {
      // A refused or failed upload may leave the stream unread: close the store's read.
      body.destroy();
    }
    const entry = { graphMediaId, uploadedAt: now };
    await cache.put(phoneNumberId, object.sha256Hex, entry);
    return { ...entry, reused: false };
  };
}

export type ResolveGraphId = ReturnType<typeof createGraphIds>;
