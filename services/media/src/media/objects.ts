import { createHash, randomBytes } from "node:crypto";
import { pipeline, Readable, Transform, type TransformCallback } from "node:stream";
import { mediaKindOf, mediaLimits, STATIC_STICKER_MAX_BYTES } from "@parley/cloud-api";
import type { CommandHandler } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import type { KeyRing } from "../crypto/keyring.js";
import {
  createOpenStream,
  createSealStream,
  DEFAULT_CHUNK_BYTES,
  sealedRangeOf,
  sealedSize,
} from "../crypto/sealed.js";
import type { DeleteReason, MediaCommand, MediaState } from "../domain/media-object.js";
import { bareMime, contentMismatch, sniff, SNIFF_BYTES } from "../domain/sniff.js";
import type { ByteRange, ObjectStore } from "../storage/port.js";
import type { MediaQueries } from "./ports.js";

/** An upload Meta would refuse (131053 class), refused here before anything is stored or sent. */
export class UploadRefusedError extends ParleyError {
  override readonly name = "UploadRefusedError";
  constructor(
    readonly reason: "unsupported_type" | "too_large" | "type_mismatch" | "size_mismatch",
    detail: string,
  ) {
    super(detail, { retry: "never", context: { reason } });
  }
}

/** No stored object under that id (never stored, deleted, or not readable any more). */
export class MediaNotFoundError extends ParleyError {
  override readonly name = "MediaNotFoundError";
  constructor(id: string) {
    super(`no stored media ${id}`, { retry: "never" });
  }
}

export interface MediaObjectsOptions {
  readonly commands: CommandHandler<MediaCommand>;
  readonly queries: MediaQueries;
  readonly store: ObjectStore;
  readonly keys: KeyRing;
  readonly maxBytes: number;
  readonly chunkBytes?: number;
  readonly clock?: () => Date;
  readonly observer?: MediaObjectsObserver;
}

/** What the media objects report to metrics. */
export interface MediaObjectsObserver {
  /** An upload was sealed and stored: its plaintext bytes. */
  uploaded?(bytes: number): void;
  /** An object was deleted (its data key dropped), by reason. */
  deleted?(reason: DeleteReason): void;
}

/** Meta's limit for a MIME type (sticker: the animated one; static is checked on content). */
function limitOf(mimeType: string): number | undefined {
  const kind = mediaKindOf(mimeType);
  return kind === undefined ? undefined : mediaLimits[kind].maxBytes;
}

const ID = /^(up_[0-9a-f]{32}|[0-9A-Za-z_-]{1,128})$/;

/**
 * The media objects as the API and the operators' commands use them: uploads (checked against
 * Meta's limits and sealed like inbound media), decrypting reads (whole or by range, only the
 * chunks a range covers are read and opened), deletion (the record first, which drops the
 * wrapped data key, then the bytes), a contact's erasure, the retention sweep and the re-wrap.
 */
export function createMediaObjects({
  commands,
  queries,
  store,
  keys,
  maxBytes,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  clock = () => new Date(),
  observer,
}: MediaObjectsOptions) {
  async function stored(id: string): Promise<MediaState> {
    if (!ID.test(id)) throw new MediaNotFoundError(id.slice(0, 64));
    const state = await queries.get(id);
    if (state?.status !== "stored" || state.object === undefined) throw new MediaNotFoundError(id);
    return state;
  }

  /**
   * Deletes one object: the record first (which drops the wrapped data key), then the bytes.
   * With `pending`, an inbound object still downloading is deleted too (erasure): its download
   * removes what it writes when it ends (createInboundMedia). The bytes to remove are read after
   * the deletion is recorded, so a download that finished in between is removed as well.
   */
  async function removeObject(
    id: string,
    reason: DeleteReason,
    policy: string | undefined,
    pending: boolean,
  ): Promise<boolean> {
    const before = await queries.get(id);
    if (before?.status !== "stored" && !(pending && before?.status === "pending")) return false;
    await commands.handle([
      { key: id, command: { type: "Delete", reason, ...(policy === undefined ? {} : { policy }) } },
    ]);
    const after = await queries.get(id);
    if (after?.status !== "deleted") return false;
    observer?.deleted?.(reason);
    if (after.object === undefined) return true;
    await store.delete(after.object.storageKey);
    await commands.handle([{ key: id, command: { type: "RecordRemoved" } }]);
    return true;
  }

  const remove = (id: string, reason: DeleteReason, policy?: string): Promise<boolean> =>
    removeObject(id, reason, policy, false);

  return {
    async upload({
      body,
      mimeType,
      length,
      filename,
      owner,
      businessNumber,
    }: {
      readonly body: Readable;
      readonly mimeType: string;
      readonly length: number;
      readonly filename?: string;
      readonly owner: string;
      readonly businessNumber?: string;
    }) {
      const bare = bareMime(mimeType);
      const limit = limitOf(bare);
      if (limit === undefined)
        throw new UploadRefusedError("unsupported_type", `Meta does not take ${bare} as media`);
      const max = Math.min(limit, maxBytes);
      if (length < 1 || length > max)
        throw new UploadRefusedError(
          "too_large",
          `${String(length)} bytes outside 1..${String(max)} for ${bare}`,
        );
      const id = `up_${randomBytes(16).toString("hex")}`;
      const storageKey = `uploads/${id}`;
      const { dataKey, wrapped } = keys.newDataKey();
      const hash = createHash("sha256");
      let bytes = 0;
      let head = Buffer.alloc(0);
      const inspect = new Transform({
        transform(chunk: Buffer, _encoding, done: TransformCallback) {
          bytes += chunk.length;
          if (bytes > length) {
            done(
              new UploadRefusedError(
                "size_mismatch",
                `more than the ${String(length)} bytes announced`,
              ),
            );
            return;
          }
          hash.update(chunk);
          if (head.length < SNIFF_BYTES)
            head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)]);
          done(null, chunk);
        },
      });
      const sealed = pipeline(
        body,
        inspect,
        createSealStream(dataKey, chunkBytes),
        () => undefined,
      );
      try {
        await store.put(storageKey, sealed, { length: sealedSize(length, chunkBytes) });
      } catch (error) {
        await store.delete(storageKey).catch(() => undefined);
        if (inspect.errored instanceof UploadRefusedError) throw inspect.errored;
        throw error;
      }
      const refuse = async (error: UploadRefusedError): Promise<never> => {
        await store.delete(storageKey);
        throw error;
      };
      if (bytes !== length)
        await refuse(
          new UploadRefusedError(
            "size_mismatch",
            `${String(bytes)} bytes received, ${String(length)} announced`,
          ),
        );
      const mismatch = contentMismatch(bare, head);
      if (mismatch !== undefined) await refuse(new UploadRefusedError("type_mismatch", mismatch));
      if (mediaKindOf(bare) === "sticker" && bytes > STATIC_STICKER_MAX_BYTES && !isAnimated(head))
        await refuse(
          new UploadRefusedError(
            "too_large",
            `a static sticker over ${String(STATIC_STICKER_MAX_BYTES)} bytes`,
          ),
        );
      const sha256Hex = hash.digest("hex");
      const detected = sniff(head);
      await commands.handle([
        {
          key: id,
          command: {
            type: "RecordUpload",
            owner,
            ...(businessNumber === undefined ? {} : { businessNumber }),
            object: {
              storageKey,
              store: store.name,
              keyId: wrapped.keyId,
              wrappedKey: wrapped.wrapped,
              chunkBytes,
              sizeBytes: bytes,
              sha256Hex,
              mimeType: bare,
              ...(detected !== undefined && detected !== bare
                ? { detectedMimeType: detected }
                : {}),
              ...(filename === undefined ? {} : { filename }),
            },
          },
        },
      ]);
      observer?.uploaded?.(bytes);
      return { id, sha256: sha256Hex, sizeBytes: bytes, mimeType: bare };
    },

    /** The object's record (the API's metadata answer). */
    metadata: stored,

    /**
     * The plaintext of a stored object, or of `range` of it (inclusive, already checked against
     * its size by the caller), read and opened chunk by chunk.
     */
    async open(id: string, range?: ByteRange): Promise<{ state: MediaState; body: Readable }> {
      const state = await stored(id);
      const object = state.object;
      if (object === undefined) throw new MediaNotFoundError(id);
      const dataKey = keys.unwrap({ keyId: object.keyId, wrapped: object.wrappedKey });
      if (range === undefined) {
        const sealed = await store.get(object.storageKey);
        const plain = createOpenStream(dataKey, {
          size: object.sizeBytes,
          chunkBytes: object.chunkBytes,
        });
        return { state, body: pipeline(sealed, plain, () => undefined) };
      }
      const r = sealedRangeOf(object.sizeBytes, range.start, range.end, object.chunkBytes);
      const sealed = await store.get(object.storageKey, { start: r.sealedStart, end: r.sealedEnd });
      const plain = createOpenStream(dataKey, {
        size: object.sizeBytes,
        chunkBytes: object.chunkBytes,
        firstChunk: r.firstChunk,
        skip: r.skip,
        length: r.length,
        withHeader: false,
      });
      return { state, body: pipeline(sealed, plain, () => undefined) };
    },

    remove,

    /**
     * Deletes every stored object of a contact, and every one still downloading (the consent
     * service's erasure calls this): nothing of theirs ends stored.
     */
    async erase(contactId: string): Promise<number> {
      let count = 0;
      for (;;) {
        const ids = await queries.ofContact(contactId, 100);
        let progressed = false;
        for (const id of ids) {
          if (!(await removeObject(id, "erasure", "erasure", true))) continue;
          count += 1;
          progressed = true;
        }
        if (!progressed) return count;
      }
    },

    /**
     * Deletes what retention says has expired, and removes the bytes of objects deleted earlier
     * whose removal a crash interrupted. Returns how many were deleted.
     */
    async sweep(limit = 500): Promise<number> {
      let count = 0;
      for (const id of await queries.expired(clock(), limit))
        if (await remove(id, "retention")) count += 1;
      for (const state of await queries.unremoved(limit)) {
        if (state.object !== undefined) await store.delete(state.object.storageKey);
        await commands.handle([{ key: state.mediaId, command: { type: "RecordRemoved" } }]);
      }
      return count;
    },

    /**
     * Re-wraps the data keys of objects under `fromKeyId` with the newest key: the records change,
     * the stored bytes do not. Returns how many moved.
     */
    async rewrap(fromKeyId: string, batch = 200): Promise<number> {
      if (fromKeyId === keys.currentId) return 0;
      let count = 0;
      for (;;) {
        const states = await queries.storedUnder(fromKeyId, batch);
        if (states.length === 0) return count;
        await commands.handle(
          states.flatMap((s) => {
            if (s.object === undefined) return [];
            const moved = keys.rewrap({ keyId: s.object.keyId, wrapped: s.object.wrappedKey });
            return [
              {
                key: s.mediaId,
                command: { type: "Rewrap" as const, keyId: moved.keyId, wrappedKey: moved.wrapped },
              },
            ];
          }),
        );
        count += states.length;
      }
    },
  };
}

/** An animated WebP has the VP8X animation flag or an ANIM chunk in its first bytes. */
function isAnimated(head: Buffer): boolean {
  return (
    head.includes(Buffer.from("ANIM")) ||
    (head.includes(Buffer.from("VP8X")) && ((head[20] ?? 0) & 0x02) !== 0)
  );
}

export type MediaObjects = ReturnType<typeof createMediaObjects>;

/** A readable of a buffer (tests and small bodies). */
export const bodyOf = (data: Uint8Array): Readable => Readable.from([Buffer.from(data)]);
