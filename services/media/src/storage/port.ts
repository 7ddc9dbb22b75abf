import type { Readable } from "node:stream";
import { ParleyError } from "@parley/errors";

/** Inclusive byte offsets in a stored object. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Where sealed objects live (ADR 0013). Keys are `[a-z0-9/_.-]` paths chosen by media; an object
 * appears whole or not at all (a put that fails or is cut leaves no object and no partial one
 * under the key), and a second put of a key replaces the first, so retrying a put is safe.
 */
export interface ObjectStore {
  readonly name: string;
  /** Writes the stream under `key`; `length` when known (S3 needs it). Resolves with the bytes written. */
  put(key: string, body: Readable, options?: { readonly length?: number }): Promise<number>;
  /** The object's bytes (or a range of them); ObjectNotFoundError when absent. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** The object's size, or undefined when absent. */
  head(key: string): Promise<number | undefined>;
  /** Removes the object; absent is fine. */
  delete(key: string): Promise<void>;
  /** Every key under `prefix` (for sweeping and tests). */
  list(prefix: string): AsyncIterable<string>;
}

export class ObjectNotFoundError extends ParleyError {
  override readonly name = "ObjectNotFoundError";
  constructor(key: string) {
    super(`no stored object ${key}`, { retry: "never", context: { key } });
  }
}

/** The storage server answers nothing or 5xx: waited out. */
export class StorageUnavailableError extends ParleyError {
  override readonly name = "StorageUnavailableError";
  constructor(message: string, cause?: unknown) {
    super(message, { retry: "outage", cause });
  }
}

const KEY = /^[a-z0-9][a-z0-9/_.-]{0,511}$/;

/** Refuses a key that could escape a directory or surprise a server. */
export function checkKey(key: string): string {
  if (!KEY.test(key) || key.includes("..") || key.includes("//") || key.endsWith("/"))
    throw new ParleyError(`invalid object key ${JSON.stringify(key.slice(0, 80))}`, {
      retry: "never",
    });
  return key;
}
