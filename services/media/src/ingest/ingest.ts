import { createHash } from "node:crypto";
import { pipeline, Transform, type TransformCallback } from "node:stream";
import { errorMessage, ParleyError, retryOf } from "@parley/errors";
import type { KeyRing } from "../crypto/keyring.js";
import { createSealStream, DEFAULT_CHUNK_BYTES, sealedSize } from "../crypto/sealed.js";
import type { Announcement, FailureReason, StoredObject } from "../domain/media-object.js";
import { bareMime, contentMismatch, sniff, SNIFF_BYTES } from "../domain/sniff.js";
import type { ObjectStore } from "../storage/port.js";
import { MediaIdExpiredError, MediaUrlExpiredError, type MediaSource } from "./ports.js";

export type IngestOutcome =
  | { readonly kind: "stored"; readonly object: StoredObject }
  | { readonly kind: "failed"; readonly reason: FailureReason; readonly detail: string };

/** Why an ingest ended without a stored object: a recorded failure or a thrown one. */
export type IngestFailure = FailureReason | "gave_up" | "storage_unavailable" | "error";

export interface IngestObserver {
  attempt?(what: "lookup" | "download", outcome: "ok" | "url_expired" | "transient"): void;
  /** A download began (+1) or ended (-1), whatever its end. */
  inFlight?(delta: 1 | -1): void;
  /** Stored: plaintext bytes and the milliseconds from the first look-up, retries included. */
  stored?(bytes: number, ms: number): void;
  /** Ended without a stored object, with the milliseconds from the first look-up. */
  failed?(reason: IngestFailure, ms: number): void;
}

export interface IngestOptions {
  readonly source: MediaSource;
  readonly store: ObjectStore;
  readonly keys: KeyRing;
  /** Inbound files are capped at 100 MB by Meta (131052); larger is refused before a byte is stored. */
  readonly maxBytes?: number;
  /** Tries per ingest for 5xx and network failures (URL refreshes do not count). */
  readonly attempts?: number;
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly chunkBytes?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly clock?: () => number;
  readonly observer?: IngestObserver;
}

/** Gave up on 5xx or network failures for now: the consumer retries, then dead-letters for a re-drive. */
export class DownloadFailedError extends ParleyError {
  override readonly name = "DownloadFailedError";
  constructor(attempts: number, cause: unknown) {
    super(`media download failed after ${String(attempts)} attempts: ${String(cause)}`, {
      retry: "bounded",
      cause,
    });
  }
}

/** Hex of a sha256 given as hex or base64 (Meta's webhooks use base64, Graph's look-up hex). */
export function hexOfSha256(value: string): string | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return value.toLowerCase();
  const bytes = Buffer.from(value, "base64");
  return bytes.length === 32 ? bytes.toString("hex") : undefined;
}

/** A storage key for a media id: deterministic, so every retry and restart writes the same object. */
export function inboundKeyOf(mediaId: string, phoneNumberId: string | undefined): string {
  const safe = (s: string) =>
    /^[a-z0-9_-]{1,128}$/.test(s) ? s : createHash("sha256").update(s).digest("hex");
  return `inbound/${safe(phoneNumberId ?? "unknown")}/${safe(mediaId)}`;
}

/** Counts, hashes and keeps the first bytes of what passes; stops past `limit` bytes. */
class Inspector extends Transform {
  bytes = 0;
  readonly hash = createHash("sha256");
  head = Buffer.alloc(0);
  overLimit = false;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      this.overLimit = true;
      done(new ParleyError(`more than ${String(this.limit)} bytes`, { retry: "never" }));
      return;
    }
    this.hash.update(chunk);
    if (this.head.length < SNIFF_BYTES)
      this.head = Buffer.concat([this.head, chunk.subarray(0, SNIFF_BYTES - this.head.length)]);
    done(null, chunk);
  }
}

const isTransient = (error: unknown): boolean => {
  const kind = retryOf(error);
  return kind === "bounded" || kind === "outage";
};

/**
 * Downloads one inbound media file into the store, sealed under a fresh data key: the URL from
 * Graph, the bytes streamed through the inspector (size, sha256, first bytes) and the sealer
 * into the object store under the media id's fixed key, never whole in memory. A 404 asks
 * Graph for a new URL (a URL runs out after 5 minutes, even mid-download); 5xx and network
 * failures are tried again with exponential back-off and jitter; an expired id, a size or hash
 * that differs from what Meta announced, or content that is not the declared type end in a
 * failure with its reason (and the stored object is removed). A storage outage is thrown as is.
 */
export function createIngest({
  source,
  store,
  keys,
  maxBytes = 100 * 1024 * 1024,
  attempts = 5,
  backoffMs = 500,
  maxBackoffMs = 15_000,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random = Math.random,
  clock = Date.now,
  observer,
}: IngestOptions) {
  if (attempts < 1) throw new RangeError("attempts must be at least 1");

  async function once(
    mediaId: string,
    a: Announcement,
    storageKey: string,
  ): Promise<IngestOutcome> {
    let location;
    try {
      location = await source.lookUp(mediaId, a.businessNumber);
      observer?.attempt?.("lookup", "ok");
    } catch (error) {
      if (error instanceof MediaIdExpiredError)
        return { kind: "failed", reason: "id_expired", detail: error.message };
      throw error;
    }
    if (location.fileSize > maxBytes)
      return {
        kind: "failed",
        reason: "too_large",
        detail: `Graph announces ${String(location.fileSize)} bytes, over the ${String(maxBytes)} byte limit`,
      };
    const { body } = await source.open(location.url, a.businessNumber);
    const { dataKey, wrapped } = keys.newDataKey();
    const inspector = new Inspector(Math.min(maxBytes, location.fileSize));
    let bodyError: unknown;
    body.on("error", (error) => {
      bodyError ??= error;
    });
    // pipeline destroys every stage with the first error, so the store's put sees it and no
    // stream is left with an unhandled error.
    const sealed = pipeline(
      body,
      inspector,
      createSealStream(dataKey, chunkBytes),
      () => undefined,
    );
    try {
      await store.put(storageKey, sealed, {
        length: sealedSize(location.fileSize, chunkBytes),
      });
    } catch (error) {
      if (inspector.overLimit) {
        await store.delete(storageKey);
        return {
          kind: "failed",
          reason: "size_mismatch",
          detail: `more bytes than the ${String(location.fileSize)} Graph announced`,
        };
      }
      // The body failed (network, a cut connection): the download's fault, retried.
      if (bodyError !== undefined || body.errored !== null || inspector.errored !== null)
        throw new ParleyError(
          `download interrupted: ${errorMessage(bodyError ?? body.errored ?? inspector.errored)}`,
          {
            retry: "bounded",
            cause: error,
          },
        );
      throw error;
    }
    const fail = async (reason: FailureReason, detail: string): Promise<IngestOutcome> => {
      await store.delete(storageKey);
      return { kind: "failed", reason, detail };
    };
    if (inspector.bytes !== location.fileSize)
      return fail(
        "size_mismatch",
        `${String(inspector.bytes)} bytes downloaded, ${String(location.fileSize)} announced`,
      );
    const actual = inspector.hash.digest("hex");
    for (const [who, announced] of [
      ["Graph", location.sha256],
      ["the webhook", a.sha256],
    ] as const) {
      if (announced === undefined || announced === "") continue;
      if (hexOfSha256(announced) !== actual)
        return fail("hash_mismatch", `sha256 of the downloaded bytes differs from ${who}'s`);
    }
    const declared = a.mimeType ?? location.mimeType;
    const mismatch = contentMismatch(declared, inspector.head);
    if (mismatch !== undefined) return fail("type_mismatch", mismatch);
    const detected = sniff(inspector.head);
    return {
      kind: "stored",
      object: {
        storageKey,
        store: store.name,
        keyId: wrapped.keyId,
        wrappedKey: wrapped.wrapped,
        chunkBytes,
        sizeBytes: inspector.bytes,
        sha256Hex: actual,
        mimeType: declared,
        ...(detected !== undefined && detected !== bareMime(declared)
          ? { detectedMimeType: detected }
          : {}),
        ...(a.filename === undefined ? {} : { filename: a.filename }),
      },
    };
  }

  /** Every attempt at one media id until an outcome, or until it gives up (thrown). */
  async function attemptAll(mediaId: string, a: Announcement): Promise<IngestOutcome> {
    const storageKey = inboundKeyOf(mediaId, a.businessNumber);
    let failures = 0;
    let refreshes = 0;
    for (;;) {
      try {
        return await once(mediaId, a, storageKey);
      } catch (error) {
        if (error instanceof MediaUrlExpiredError && refreshes < attempts) {
          refreshes += 1;
          observer?.attempt?.("download", "url_expired");
          continue;
        }
        // A storage outage is the consumer's to wait out, holding the contact's later records.
        if (isStorageOutage(error)) throw error;
        if (!isTransient(error)) throw error;
        failures += 1;
        observer?.attempt?.("download", "transient");
        if (failures >= attempts) throw new DownloadFailedError(failures, error);
        const ceiling = Math.min(maxBackoffMs, backoffMs * 2 ** (failures - 1));
        await sleep(ceiling / 2 + random() * (ceiling / 2));
      }
    }
  }

  return async function ingest(mediaId: string, a: Announcement): Promise<IngestOutcome> {
    const started = clock();
    observer?.inFlight?.(1);
    try {
      const outcome = await attemptAll(mediaId, a);
      if (outcome.kind === "stored")
        observer?.stored?.(outcome.object.sizeBytes, clock() - started);
      else observer?.failed?.(outcome.reason, clock() - started);
      return outcome;
    } catch (error) {
      observer?.failed?.(
        error instanceof DownloadFailedError
          ? "gave_up"
          : isStorageOutage(error)
            ? "storage_unavailable"
            : "error",
        clock() - started,
      );
      throw error;
    } finally {
      observer?.inFlight?.(-1);
    }
  };
}

const isStorageOutage = (error: unknown): boolean =>
  error instanceof ParleyError && error.name === "StorageUnavailableError";

export type Ingest = ReturnType<typeof createIngest>;
