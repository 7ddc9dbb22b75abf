import type { MediaState } from "../domain/media-object.js";

/** One download of a media object, as the audit trail keeps it. */
export interface DownloadAudit {
  readonly mediaId: string;
  /** The API key id that asked. */
  readonly principal: string;
  readonly at: Date;
  /** The Range asked for, when not the whole object. */
  readonly range?: string | undefined;
  readonly remote?: string | undefined;
}

/** Reads over the media objects (MongoDB in production) and the download audit trail. */
export interface MediaQueries {
  get(mediaId: string): Promise<MediaState | undefined>;
  /** Stored objects whose retention ended at or before `now`. */
  expired(now: Date, limit: number): Promise<string[]>;
  /** Deleted objects whose bytes may still be in the store. */
  unremoved(limit: number): Promise<MediaState[]>;
  /** A contact's stored or pending media ids (erasure). */
  ofContact(contactId: string, limit: number): Promise<string[]>;
  /** Stored objects whose data key is wrapped by `keyId` (re-wrap). */
  storedUnder(keyId: string, limit: number): Promise<MediaState[]>;
  audit(entry: DownloadAudit): Promise<void>;
  downloads(mediaId: string, limit: number): Promise<DownloadAudit[]>;
}
