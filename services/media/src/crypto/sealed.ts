import { createCipheriv, createDecipheriv } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { ParleyError } from "@parley/errors";

/**
 * The sealed object format (ADR 0013): a header `PMD1` + chunk size (uint32 BE), then the
 * plaintext in chunks of `chunkSize` bytes (the last one shorter, possibly empty), each sealed
 * alone with AES-256-GCM under the object's data key: nonce = 4 zero bytes + the chunk index
 * (uint64 BE), AAD = header + index + a final flag, the 16-byte tag after each chunk. Every
 * chunk is authenticated, so a range is served by opening only the chunks it covers; the final
 * flag makes a truncated object fail instead of reading as a shorter file; the data key is
 * unique per object, so counter nonces never repeat under one key.
 */
export const MAGIC = Buffer.from("PMD1", "ascii");
export const HEADER_BYTES = 8;
export const TAG_BYTES = 16;
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

/** The sealed bytes do not authenticate: altered, truncated or the wrong key. */
export class SealedObjectError extends ParleyError {
  override readonly name = "SealedObjectError";
  constructor(detail: string) {
    super(`sealed media object does not open: ${detail}`, { retry: "never" });
  }
}

export function headerOf(chunkBytes: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(chunkBytes, 4);
  return header;
}

const nonceOf = (index: number): Buffer => {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  return nonce;
};

const aadOf = (header: Buffer, index: number, final: boolean): Buffer => {
  const aad = Buffer.alloc(HEADER_BYTES + 9);
  header.copy(aad, 0);
  aad.writeBigUInt64BE(BigInt(index), HEADER_BYTES);
  aad[HEADER_BYTES + 8] = final ? 1 : 0;
  return aad;
};

/** Chunks a plaintext of `size` bytes takes (an empty file still has its one final chunk). */
export const chunkCount = (size: number, chunkBytes: number): number =>
  Math.max(1, Math.ceil(size / chunkBytes));

/** Bytes of the sealed object of a `size`-byte plaintext. */
export const sealedSize = (size: number, chunkBytes = DEFAULT_CHUNK_BYTES): number =>
  HEADER_BYTES + size + chunkCount(size, chunkBytes) * TAG_BYTES;

function sealChunk(key: Buffer, header: Buffer, index: number, plain: Buffer, final: boolean) {
  const cipher = createCipheriv("aes-256-gcm", key, nonceOf(index));
  cipher.setAAD(aadOf(header, index, final));
  return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function openChunk(key: Buffer, header: Buffer, index: number, sealed: Buffer, final: boolean) {
  if (sealed.length < TAG_BYTES) throw new SealedObjectError(`chunk ${index} is cut short`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonceOf(index));
    decipher.setAAD(aadOf(header, index, final));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new SealedObjectError(`chunk ${index} does not authenticate`);
  }
}

/** Plaintext in, the sealed object out (header first), one chunk in memory at a time. */
export function createSealStream(dataKey: Buffer, chunkBytes = DEFAULT_CHUNK_BYTES): Transform {
  const header = headerOf(chunkBytes);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  let headerSent = false;
  const take = (n: number): Buffer => {
    const all = pending.length === 1 ? (pending[0] ?? Buffer.alloc(0)) : Buffer.concat(pending);
    pending = n < all.length ? [all.subarray(n)] : [];
    pendingBytes = all.length - n;
    return all.subarray(0, n);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      if (!headerSent) {
        this.push(header);
        headerSent = true;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      // A chunk is sealed once more bytes follow it: only then is it known not to be the last.
      while (pendingBytes > chunkBytes) {
        this.push(sealChunk(dataKey, header, index, take(chunkBytes), false));
        index += 1;
      }
      done();
    },
    flush(done: TransformCallback) {
      if (!headerSent) this.push(header);
      this.push(sealChunk(dataKey, header, index, take(pendingBytes), true));
      done();
    },
  });
}

/** Where a plaintext byte range lies in the sealed object. */
export interface SealedRange {
  readonly firstChunk: number;
  readonly lastChunk: number;
  /** Byte offsets (inclusive) in the sealed object covering those chunks. */
  readonly sealedStart: number;
  readonly sealedEnd: number;
  /** Plaintext bytes to drop from the first chunk, and the range's length. */
  readonly skip: number;
  readonly length: number;
}

/** The chunks covering plaintext bytes `start..end` (inclusive) of a `size`-byte object. */
export function sealedRangeOf(
  size: number,
  start: number,
  end: number,
  chunkBytes = DEFAULT_CHUNK_BYTES,
): SealedRange {
  const last = chunkCount(size, chunkBytes) - 1;
  const firstChunk = Math.min(last, Math.floor(start / chunkBytes));
  const lastChunk = Math.min(last, Math.floor(Math.max(start, end) / chunkBytes));
  const sealedChunk = chunkBytes + TAG_BYTES;
  const sealedStart = HEADER_BYTES + firstChunk * sealedChunk;
  const sealedEnd = Math.min(
    sealedSize(size, chunkBytes) - 1,
    HEADER_BYTES + (lastChunk + 1) * sealedChunk - 1,
  );
  return {
    firstChunk,
    lastChunk,
    sealedStart,
    sealedEnd,
    skip: start - firstChunk * chunkBytes,
    length: size === 0 ? 0 : end - start + 1,
  };
}

export interface OpenOptions {
  /** The plaintext size (from the object's record): says which chunk is the final one. */
  readonly size: number;
  readonly chunkBytes?: number;
  /** Open from this chunk (the sealed input then starts at that chunk, without the header). */
  readonly firstChunk?: number;
  /** Plaintext bytes to drop at the start and to deliver (a range); default the whole rest. */
  readonly skip?: number;
  readonly length?: number;
  /** The input starts with the header (a whole object); a range read starts at its first chunk. */
  readonly withHeader?: boolean;
}

/**
 * The sealed object (or the chunks a range covers) in, the plaintext out; every chunk is
 * authenticated before any of its bytes leave, and an input that ends early fails.
 */
export function createOpenStream(
  dataKey: Buffer,
  {
    size,
    chunkBytes = DEFAULT_CHUNK_BYTES,
    firstChunk = 0,
    skip = 0,
    length = Number.MAX_SAFE_INTEGER,
    withHeader = firstChunk === 0 && skip === 0 && length === Number.MAX_SAFE_INTEGER,
  }: OpenOptions,
): Transform {
  const header = headerOf(chunkBytes);
  const finalIndex = chunkCount(size, chunkBytes) - 1;
  const finalSealed = size - finalIndex * chunkBytes + TAG_BYTES;
  let index = firstChunk;
  let needHeader = withHeader;
  let buffered: Buffer = Buffer.alloc(0);
  let toSkip = skip;
  let left = length;
  const deliver = (stream: Transform, plain: Buffer): void => {
    let out = plain;
    if (toSkip > 0) {
      const dropped = Math.min(toSkip, out.length);
      out = out.subarray(dropped);
      toSkip -= dropped;
    }
    if (left < out.length) out = out.subarray(0, left);
    left -= out.length;
    if (out.length > 0) stream.push(out);
  };
  const expected = (): number => (index === finalIndex ? finalSealed : chunkBytes + TAG_BYTES);
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      try {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        if (needHeader) {
          if (buffered.length < HEADER_BYTES) {
            done();
            return;
          }
          if (!buffered.subarray(0, HEADER_BYTES).equals(header))
            throw new SealedObjectError("not a PMD1 object of this chunk size");
          buffered = buffered.subarray(HEADER_BYTES);
          needHeader = false;
        }
        while (index <= finalIndex && buffered.length >= expected() && left > 0) {
          const n = expected();
          deliver(
            this,
            openChunk(dataKey, header, index, buffered.subarray(0, n), index === finalIndex),
          );
          buffered = buffered.subarray(n);
          index += 1;
        }
        done();
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done: TransformCallback) {
      if (needHeader) {
        done(new SealedObjectError("no header"));
        return;
      }
      if (index <= finalIndex && left > 0) {
        done(new SealedObjectError(`ends before chunk ${index}`));
        return;
      }
      if (index > finalIndex && buffered.length > 0) {
        done(new SealedObjectError("bytes after the final chunk"));
        return;
      }
      done();
    },
  });
}
