import type { Readable } from "node:stream";
import { ParleyError } from "@parley/errors";

/** What Graph says about a media id: a short-lived URL and the file's facts. */
export interface MediaLocation {
  readonly url: string;
  readonly mimeType: string;
  /** Hex sha256 as Graph gives it. */
  readonly sha256: string;
  readonly fileSize: number;
}

/** Graph's media endpoints as the ingest needs them (adapters/graph implements it). */
export interface MediaSource {
  /** `GET /{media-id}` with the number's token; MediaIdExpiredError for 100/33. */
  lookUp(mediaId: string, phoneNumberId: string | undefined): Promise<MediaLocation>;
  /** `GET <url>` with the number's token; MediaUrlExpiredError for a 404 (the URL ran out). */
  open(url: string, phoneNumberId: string | undefined): Promise<{ readonly body: Readable }>;
}

/** Graph no longer knows the media id (code 100, subcode 33): the file is gone for good. */
export class MediaIdExpiredError extends ParleyError {
  override readonly name = "MediaIdExpiredError";
  constructor(detail: string) {
    super(`media id expired or unknown: ${detail}`, { retry: "never" });
  }
}

/** The download URL ran out (404): ask Graph for a new one. */
export class MediaUrlExpiredError extends ParleyError {
  override readonly name = "MediaUrlExpiredError";
  constructor() {
    super("media download URL expired", { retry: "bounded" });
  }
}
