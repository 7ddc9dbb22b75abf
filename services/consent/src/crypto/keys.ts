import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { ParleyError } from "@parley/errors";
import { nameBasedId } from "@parley/contracts";

/** sha-256 of a UTF-8 text, lowercase hex. */
export const sha256Hex = (text: string): string =>
  createHash("sha256").update(text, "utf8").digest("hex");

/** A UUIDv5 of `name`: a repeated input gets the same event ids (RFC 9562, 5.5). */
export const eventIdOf = nameBasedId("0c3a7d5e21b94f6a8e2d4b6c8a0f1e3d");

export interface Sealed {
  readonly keyId: string;
  readonly iv: string;
  readonly ciphertext: string;
  readonly tag: string;
}

/** A data key in clear, held only in memory. */
export interface DataKey {
  readonly keyId: string;
  readonly key: Buffer;
}

/** A sealed value that cannot be opened: the key is gone or the data was altered. */
export class UnreadableSealError extends ParleyError {
  override readonly name = "UnreadableSealError";
  constructor(message: string, cause?: unknown) {
    super(message, { retry: "never", ...(cause === undefined ? {} : { cause }) });
  }
}

function gcmSeal(key: Buffer, iv: Buffer, plaintext: Buffer) {
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

function gcmOpen(key: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer): Buffer {
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/**
 * Seals an entry's personal data with the contact's key. The nonce and the salt are derived from
 * the key and the entry's event id (unique per entry), so a replayed decision seals the same
 * bytes; the digest `sha256(salt || plaintext)` ties the plaintext to the hash chain and dies
 * with the key (ADR 0012).
 */
export function sealFor(dataKey: DataKey, eventId: string, plaintext: string) {
  const derive = (label: string) =>
    createHmac("sha256", dataKey.key).update(`${label}:${eventId}`, "utf8").digest();
  const iv = derive("iv").subarray(0, 12);
  const salt = derive("salt").toString("hex");
  const { ciphertext, tag } = gcmSeal(
    dataKey.key,
    iv,
    Buffer.from(JSON.stringify({ salt, data: plaintext }), "utf8"),
  );
  return {
    sealed: {
      keyId: dataKey.keyId,
      iv: iv.toString("base64"),
      ciphertext: ciphertext.toString("base64"),
      tag: tag.toString("base64"),
    } satisfies Sealed,
    personalDigest: sha256Hex(salt + plaintext),
  };
}

/** The salt and plaintext of a sealed value; UnreadableSealError if the key does not open it. */
export function openSeal(dataKey: DataKey, sealed: Sealed): { salt: string; data: string } {
  try {
    const plain = gcmOpen(
      dataKey.key,
      Buffer.from(sealed.iv, "base64"),
      Buffer.from(sealed.ciphertext, "base64"),
      Buffer.from(sealed.tag, "base64"),
    );
    const value = JSON.parse(plain.toString("utf8")) as { salt: string; data: string };
    return value;
  } catch (error) {
    throw new UnreadableSealError("the sealed data cannot be opened with this key", error);
  }
}

/** A master key from configuration, by id (the first of the list wraps new data keys). */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

/** A data key as stored: encrypted by a master key. */
export interface WrappedKey {
  readonly keyId: string;
  readonly masterKeyId: string;
  readonly iv: string;
  readonly ciphertext: string;
  readonly tag: string;
}

/** A master key id that CONSENT_MASTER_KEYS does not name. */
export class UnknownMasterKeyError extends ParleyError {
  override readonly name = "UnknownMasterKeyError";
  constructor(id: string, configured: readonly string[]) {
    super(
      `master key ${id} is not configured (CONSENT_MASTER_KEYS names ${configured.join(", ")}); add it to CONSENT_MASTER_KEYS, after the new first key, to re-wrap the data keys it wraps`,
      { retry: "never", context: { masterKeyId: id } },
    );
  }
}

/** Wraps and unwraps data keys with the configured master keys (rotation: add a new first key). */
export function createKeyWrapper(masterKeys: readonly MasterKey[]) {
  const first = masterKeys[0];
  if (first === undefined) throw new RangeError("at least one master key is needed");
  const byId = new Map(masterKeys.map((k) => [k.id, k.key]));
  const wrap = (keyId: string, key: Buffer): WrappedKey => {
    const iv = randomBytes(12);
    const { ciphertext, tag } = gcmSeal(first.key, iv, key);
    return {
      keyId,
      masterKeyId: first.id,
      iv: iv.toString("base64"),
      ciphertext: ciphertext.toString("base64"),
      tag: tag.toString("base64"),
    };
  };
  const unwrap = (wrapped: WrappedKey): DataKey => {
    const master = byId.get(wrapped.masterKeyId);
    if (master === undefined) {
      throw new UnreadableSealError(
        `data key ${wrapped.keyId} is wrapped by master key ${wrapped.masterKeyId}, which is not configured`,
      );
    }
    try {
      const key = gcmOpen(
        master,
        Buffer.from(wrapped.iv, "base64"),
        Buffer.from(wrapped.ciphertext, "base64"),
        Buffer.from(wrapped.tag, "base64"),
      );
      return { keyId: wrapped.keyId, key };
    } catch (error) {
      throw new UnreadableSealError(`data key ${wrapped.keyId} does not unwrap`, error);
    }
  };
  return {
    /** The master key that wraps new data keys (the first configured). */
    currentId: first.id,
    /** The configured master key ids, the current one first. */
    ids: masterKeys.map((k) => k.id),
    /** A fresh data key, and its wrapped form to store. */
    generate(): { readonly dataKey: DataKey; readonly wrapped: WrappedKey } {
      const key = randomBytes(32);
      const keyId = `k-${randomBytes(8).toString("hex")}`;
      return { dataKey: { keyId, key }, wrapped: wrap(keyId, key) };
    },
    /**
     * The same data key wrapped by the current master key (its id and bytes unchanged, so what
     * it sealed opens as before); UnreadableSealError if its master key is not configured.
     */
    rewrap(wrapped: WrappedKey): WrappedKey {
      if (wrapped.masterKeyId === first.id) return wrapped;
      return wrap(wrapped.keyId, unwrap(wrapped).key);
    },
    unwrap,
  };
}

export type KeyWrapper = ReturnType<typeof createKeyWrapper>;
