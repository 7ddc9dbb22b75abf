import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ParleyError } from "@parley/errors";

/** A key-encryption key from configuration: its id is stored beside every data key it wraps. */
export interface KeyEncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

/** A per-object data key as stored: the id of the key that wrapped it and the wrapped bytes. */
export interface WrappedKey {
  readonly keyId: string;
  /** base64 of iv (12) | ciphertext (32) | tag (16). */
  readonly wrapped: string;
}

/** An object names a key id that is not configured: it cannot be read until the key is back. */
export class UnknownKeyError extends ParleyError {
  override readonly name = "UnknownKeyError";
  constructor(readonly keyId: string) {
    super(
      `media key id "${keyId}" is not configured (MEDIA_KEYS): add that key back, or re-wrap its objects with a configured key while it is still there`,
      { retry: "never", context: { keyId } },
    );
  }
}

/** A wrapped data key that does not open with its named key (altered, or the wrong key bytes). */
export class KeyUnwrapError extends ParleyError {
  override readonly name = "KeyUnwrapError";
  constructor(keyId: string) {
    super(`the data key wrapped by "${keyId}" does not authenticate: wrong key bytes or altered`, {
      retry: "never",
      context: { keyId },
    });
  }
}

const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Parses `id:base64key,id:base64key,...` (each key 32 bytes; the newest last). Throws a
 * RangeError listing every problem, so a bad configuration stops the service at start.
 */
export function parseKeyEncryptionKeys(spec: string): readonly KeyEncryptionKey[] {
  const problems: string[] = [];
  const keys: KeyEncryptionKey[] = [];
  const ids = new Set<string>();
  for (const [index, part] of spec
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .entries()) {
    const at = part.indexOf(":");
    const id = at < 0 ? "" : part.slice(0, at);
    const key = Buffer.from(at < 0 ? "" : part.slice(at + 1), "base64");
    if (!KEY_ID.test(id)) problems.push(`[${index}]: key id must be 1-64 of A-Z a-z 0-9 . _ -`);
    else if (ids.has(id)) problems.push(`[${index}]: key id "${id}" appears twice`);
    if (key.length !== 32) problems.push(`[${index}]: key must be 32 bytes of base64`);
    ids.add(id);
    keys.push({ id, key });
  }
  if (keys.length === 0) problems.push("no key: give at least one id:base64key");
  if (problems.length > 0) throw new RangeError(`MEDIA_KEYS: ${problems.join("; ")}`);
  return keys;
}

/** The configured key-encryption keys: the newest wraps new data keys, any configured one unwraps. */
export interface KeyRing {
  readonly currentId: string;
  readonly ids: readonly string[];
  /** A fresh random data key and its wrapping by the newest key. */
  newDataKey(): { readonly dataKey: Buffer; readonly wrapped: WrappedKey };
  unwrap(wrapped: WrappedKey): Buffer;
  /** The same data key wrapped by `toKeyId` (default: the newest); the content is untouched. */
  rewrap(wrapped: WrappedKey, toKeyId?: string): WrappedKey;
}

const aadOf = (keyId: string): Buffer => Buffer.from(`parley-media-dek\u0000${keyId}`, "utf8");

export function createKeyRing(keys: readonly KeyEncryptionKey[]): KeyRing {
  const last = keys.at(-1);
  if (last === undefined) throw new RangeError("createKeyRing: at least one key");
  const byId = new Map(keys.map((k) => [k.id, k.key]));
  const kek = (id: string): Buffer => {
    const key = byId.get(id);
    if (key === undefined) throw new UnknownKeyError(id);
    return key;
  };
  const wrap = (dataKey: Buffer, keyId: string): WrappedKey => {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", kek(keyId), iv);
    cipher.setAAD(aadOf(keyId));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return {
      keyId,
      wrapped: Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64"),
    };
  };
  const unwrap = ({ keyId, wrapped }: WrappedKey): Buffer => {
    const key = kek(keyId);
    const bytes = Buffer.from(wrapped, "base64");
    if (bytes.length !== 60) throw new KeyUnwrapError(keyId);
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, 12));
      decipher.setAAD(aadOf(keyId));
      decipher.setAuthTag(bytes.subarray(44));
      return Buffer.concat([decipher.update(bytes.subarray(12, 44)), decipher.final()]);
    } catch {
      throw new KeyUnwrapError(keyId);
    }
  };
  return {
    currentId: last.id,
    ids: keys.map((k) => k.id),
    newDataKey() {
      const dataKey = randomBytes(32);
      return { dataKey, wrapped: wrap(dataKey, last.id) };
    },
    unwrap,
    rewrap(wrapped, toKeyId = last.id) {
      if (wrapped.keyId === toKeyId) return wrapped;
      return wrap(unwrap(wrapped), toKeyId);
    },
  };
}
