import { createEvent, type EventOf } from "@parley/contracts";
import type { Decider } from "@parley/decider";
import { retentionEnd, retentionOf, type RetentionPolicy } from "./retention.js";

export type MediaKind = "image" | "video" | "audio" | "document" | "sticker";
export type FailureReason = EventOf<"MediaFailed">["data"]["reason"];
export type DeleteReason = EventOf<"MediaDeleted">["data"]["reason"];

/** Where and how an object's sealed bytes are kept (ADR 0013). */
export interface StoredObject {
  readonly storageKey: string;
  readonly store: string;
  readonly keyId: string;
  /** The object's data key wrapped by `keyId` (base64); dropped when the object is deleted. */
  readonly wrappedKey: string;
  readonly chunkBytes: number;
  readonly sizeBytes: number;
  /** Hex sha256 of the plaintext. */
  readonly sha256Hex: string;
  readonly mimeType: string;
  readonly detectedMimeType?: string;
  readonly filename?: string;
}

/** What the announcing inbound message said about the media. */
export interface Announcement {
  readonly contactId: string;
  readonly wamid: string;
  readonly kind: MediaKind;
  readonly businessNumber?: string;
  readonly mimeType?: string;
  /** As the webhook gave it (base64 or hex). */
  readonly sha256?: string;
  readonly filename?: string;
  readonly correlationId: string;
  /** The InboundMessageReceived event id. */
  readonly causationId: string;
}

export type MediaCommand =
  | { readonly type: "Announce"; readonly announcement: Announcement }
  | { readonly type: "RecordStored"; readonly object: StoredObject }
  | { readonly type: "RecordFailed"; readonly reason: FailureReason; readonly detail: string }
  | {
      readonly type: "RecordUpload";
      readonly object: StoredObject;
      readonly owner: string;
      readonly businessNumber?: string;
    }
  | { readonly type: "Delete"; readonly reason: DeleteReason; readonly policy?: string }
  | { readonly type: "RecordRemoved" }
  | { readonly type: "Rewrap"; readonly keyId: string; readonly wrappedKey: string };

/** Internal records: they change the state and are never published. */
export type MediaRecord =
  | { readonly type: "Announced"; readonly announcement: Announcement; readonly at: string }
  | {
      readonly type: "Uploaded";
      readonly object: StoredObject;
      readonly owner: string;
      readonly businessNumber?: string;
      readonly at: string;
      readonly retentionEndsAt?: string;
      readonly policy: string;
    }
  | { readonly type: "Recorded"; readonly object: StoredObject; readonly policy: string }
  | { readonly type: "Deleted"; readonly reason: DeleteReason; readonly policy: string }
  | { readonly type: "Rewrapped"; readonly keyId: string; readonly wrappedKey: string }
  | { readonly type: "Removed" };

export type MediaOutput = EventOf<"MediaStored" | "MediaFailed" | "MediaDeleted">;
export type MediaEvent = MediaRecord | MediaOutput;

export type MediaStatus = "new" | "pending" | "stored" | "failed" | "deleted";

export interface MediaState {
  readonly mediaId: string;
  readonly status: MediaStatus;
  readonly origin?: "inbound" | "upload";
  readonly announcement?: Announcement;
  readonly owner?: string;
  readonly businessNumber?: string;
  readonly object?: StoredObject;
  readonly storedAt?: string;
  readonly retentionEndsAt?: string;
  readonly policy?: string;
  readonly failure?: { readonly reason: FailureReason; readonly detail: string };
  readonly deleted?: {
    readonly reason: DeleteReason;
    readonly policy: string;
    readonly removed: boolean;
  };
}

export interface MediaContext {
  readonly now: Date;
  readonly retention: RetentionPolicy;
  /** A deterministic event id for a name (the same input always gets the same id). */
  readonly eventIdOf: (name: string) => string;
}

/** MediaStored's retentionEndsAt for an object kept forever. */
export const FOREVER = "9999-12-31T23:59:59.999Z";

const PUBLISHED: ReadonlySet<string> = new Set(["MediaStored", "MediaFailed", "MediaDeleted"]);

/**
 * One media object (key: Meta's media id inbound, Parley's id for an upload). It is what makes
 * the service idempotent: an Announce of a media id already known decides nothing (a duplicate
 * webhook downloads once), a second RecordStored or RecordFailed decides nothing (a crash
 * between the store and the record re-runs the download into the same storage key and then
 * records once), and a Delete drops the wrapped data key with the record, so a deleted object
 * can no longer be read even before its bytes are removed.
 */
export const mediaObject: Decider<MediaState, MediaCommand, MediaEvent, MediaContext, MediaOutput> =
  {
    initialState: (mediaId) => ({ mediaId, status: "new" }),

    isPublished: (event): event is MediaOutput => PUBLISHED.has(event.type),

    decide(command, state, { now, retention, eventIdOf }) {
      const at = now.toISOString();
      const a = state.announcement;
      const meta = (name: string) => ({
        eventId: eventIdOf(`media:${state.mediaId}:${name}`),
        correlationId: a?.correlationId ?? `media:${state.mediaId}`,
        causationId: a?.causationId ?? null,
        now,
        ...(state.businessNumber === undefined ? {} : { businessNumber: state.businessNumber }),
      });
      switch (command.type) {
        case "Announce":
          return state.status === "new"
            ? [{ type: "Announced", announcement: command.announcement, at }]
            : [];
        case "RecordStored": {
          const o = command.object;
          // Deleted (erased) while it was downloading: the bytes the download wrote are recorded
          // without a data key and published as deleted, so they never count as stored and the
          // sweeper removes them if the downloader cannot.
          if (
            state.status === "deleted" &&
            state.object === undefined &&
            state.deleted !== undefined &&
            a !== undefined
          )
            return [
              { type: "Recorded", object: { ...o, wrappedKey: "" }, policy: state.deleted.policy },
              createEvent(
                "MediaDeleted",
                {
                  contactId: a.contactId,
                  mediaId: state.mediaId,
                  wamid: a.wamid,
                  storageKey: o.storageKey,
                  reason: state.deleted.reason,
                  policy: state.deleted.policy,
                  kind: a.kind,
                },
                meta("deleted"),
              ),
            ];
          if (state.status !== "pending" || a === undefined) return [];
          const rule = retentionOf(retention, a.kind, a.businessNumber);
          return [
            { type: "Recorded", object: o, policy: rule.policy },
            createEvent(
              "MediaStored",
              {
                contactId: a.contactId,
                mediaId: state.mediaId,
                wamid: a.wamid,
                mimeType: o.mimeType,
                sha256: a.sha256 ?? o.sha256Hex,
                sizeBytes: o.sizeBytes,
                storageKey: o.storageKey,
                keyId: o.keyId,
                retentionEndsAt: retentionEnd(rule, now)?.toISOString() ?? FOREVER,
                kind: a.kind,
                ...(o.detectedMimeType === undefined
                  ? {}
                  : { detectedMimeType: o.detectedMimeType }),
                contentSha256: o.sha256Hex,
              },
              meta("stored"),
            ),
          ];
        }
        case "RecordFailed":
          if (state.status !== "pending" || a === undefined) return [];
          return [
            createEvent(
              "MediaFailed",
              {
                contactId: a.contactId,
                mediaId: state.mediaId,
                wamid: a.wamid,
                reason: command.reason,
                detail: command.detail.slice(0, 1_000),
                direction: "inbound",
              },
              meta("failed"),
            ),
          ];
        case "RecordUpload": {
          if (state.status !== "new") return [];
          const rule = retentionOf(retention, "upload", command.businessNumber);
          const ends = retentionEnd(rule, now)?.toISOString();
          return [
            {
              type: "Uploaded",
              object: command.object,
              owner: command.owner,
              ...(command.businessNumber === undefined
                ? {}
                : { businessNumber: command.businessNumber }),
              at,
              ...(ends === undefined ? {} : { retentionEndsAt: ends }),
              policy: rule.policy,
            },
          ];
        }
        case "Delete": {
          // A download under way holds nothing stored yet: the object is deleted now, so its
          // outcome can never be recorded as stored (RecordStored above).
          if (state.status === "pending" && a !== undefined)
            return [
              { type: "Deleted", reason: command.reason, policy: command.policy ?? command.reason },
            ];
          if (state.status !== "stored" || state.object === undefined) return [];
          const policy =
            command.policy ??
            (command.reason === "retention" ? (state.policy ?? "retention") : command.reason);
          // Uploads belong to no contact: their deletion is recorded, not published.
          if (a === undefined) return [{ type: "Deleted", reason: command.reason, policy }];
          return [
            createEvent(
              "MediaDeleted",
              {
                contactId: a.contactId,
                mediaId: state.mediaId,
                wamid: a.wamid,
                storageKey: state.object.storageKey,
                reason: command.reason,
                policy,
                kind: a.kind,
              },
              meta("deleted"),
            ),
          ];
        }
        case "RecordRemoved":
          return state.status === "deleted" && state.deleted?.removed === false
            ? [{ type: "Removed" }]
            : [];
        case "Rewrap":
          return state.status === "stored" &&
            state.object !== undefined &&
            state.object.keyId !== command.keyId
            ? [{ type: "Rewrapped", keyId: command.keyId, wrappedKey: command.wrappedKey }]
            : [];
      }
    },

    evolve(state, event) {
      switch (event.type) {
        case "Announced":
          return {
            ...state,
            status: "pending",
            origin: "inbound",
            announcement: event.announcement,
            ...(event.announcement.businessNumber === undefined
              ? {}
              : { businessNumber: event.announcement.businessNumber }),
          };
        case "Recorded":
          return { ...state, object: event.object, policy: event.policy };
        case "MediaStored":
          return {
            ...state,
            status: "stored",
            storedAt: event.recordedAt,
            retentionEndsAt: event.data.retentionEndsAt,
          };
        case "MediaFailed":
          return {
            ...state,
            status: "failed",
            failure: { reason: event.data.reason, detail: event.data.detail },
          };
        case "Uploaded": {
          const { retentionEndsAt, businessNumber } = event;
          return {
            ...state,
            status: "stored",
            origin: "upload",
            owner: event.owner,
            object: event.object,
            storedAt: event.at,
            policy: event.policy,
            ...(retentionEndsAt === undefined ? {} : { retentionEndsAt }),
            ...(businessNumber === undefined ? {} : { businessNumber }),
          };
        }
        case "MediaDeleted":
        case "Deleted": {
          const deleted =
            event.type === "MediaDeleted"
              ? { reason: event.data.reason, policy: event.data.policy, removed: false }
              : { reason: event.reason, policy: event.policy, removed: false };
          const { object } = state;
          return {
            ...state,
            status: "deleted",
            deleted,
            // The wrapped data key goes with the record: the bytes are unreadable from here on.
            ...(object === undefined ? {} : { object: { ...object, wrappedKey: "" } }),
          };
        }
        case "Removed":
          return state.deleted === undefined
            ? state
            : { ...state, deleted: { ...state.deleted, removed: true } };
        case "Rewrapped":
          return state.object === undefined
            ? state
            : {
                ...state,
                object: { ...state.object, keyId: event.keyId, wrappedKey: event.wrappedKey },
              };
      }
    },
  };
