import type { MemoryStateStore } from "@parley/decider";
import type { MediaOutput, MediaState } from "../domain/media-object.js";
import type { DownloadAudit, MediaQueries } from "./ports.js";

/**
 * MediaQueries over the decider runtime's in-memory state store (the fake the API and unit tests
 * use): the same answers as the MongoDB queries, computed by scanning.
 */
export function createMemoryMediaQueries(
  store: MemoryStateStore<MediaState, MediaOutput>,
): MediaQueries & { readonly audits: DownloadAudit[] } {
  const audits: DownloadAudit[] = [];
  const all = (): MediaState[] =>
    store
      .keys()
      .map((k) => store.peek(k)?.state)
      .filter((s): s is MediaState => s !== undefined);
  return {
    audits,
    get: (id) => Promise.resolve(store.peek(id)?.state),
    expired: (now, limit) =>
      Promise.resolve(
        all()
          .filter(
            (s) =>
              s.status === "stored" &&
              s.retentionEndsAt !== undefined &&
              s.retentionEndsAt <= now.toISOString(),
          )
          .slice(0, limit)
          .map((s) => s.mediaId),
      ),
    unremoved: (limit) =>
      Promise.resolve(
        all()
          .filter((s) => s.status === "deleted" && s.deleted?.removed === false)
          .slice(0, limit),
      ),
    ofContact: (contactId, limit) =>
      Promise.resolve(
        all()
          .filter(
            (s) =>
              s.announcement?.contactId === contactId &&
              (s.status === "stored" || s.status === "pending"),
          )
          .slice(0, limit)
          .map((s) => s.mediaId),
      ),
    storedUnder: (keyId, limit) =>
      Promise.resolve(
        all()
          .filter((s) => s.status === "stored" && s.object?.keyId === keyId)
          .slice(0, limit),
      ),
    audit: (entry) => {
      audits.push(entry);
      return Promise.resolve();
    },
    downloads: (mediaId, limit) =>
      Promise.resolve(
        audits
          .filter((a) => a.mediaId === mediaId)
          .reverse()
          .slice(0, limit),
      ),
  };
}
