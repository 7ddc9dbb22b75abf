import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createKeyRing, parseKeyEncryptionKeys, UnknownKeyError } from "./keyring.js";
import {
  createOpenStream,
  createSealStream,
  sealedRangeOf,
  sealedSize,
  SealedObjectError,
} from "./sealed.js";

const collect = async (stream: Readable): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(parts);
};
const seal = async (key: Buffer, plain: Buffer, chunk: number, pieces = 7): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for (let i = 0; i < plain.length; i += Math.max(1, Math.ceil(plain.length / pieces)))
    parts.push(plain.subarray(i, i + Math.ceil(plain.length / pieces)));
  return collect(Readable.from(parts).pipe(createSealStream(key, chunk)));
};
const open = async (key: Buffer, sealed: Buffer, size: number, chunk: number) =>
  collect(Readable.from([sealed]).pipe(createOpenStream(key, { size, chunkBytes: chunk })));

describe("sealed objects (chunked AES-256-GCM)", () => {
  it("round-trips any plaintext at any chunk size, with the announced sealed size", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 5_000 }),
        fc.integer({ min: 16, max: 1_024 }),
        async (bytes, chunk) => {
          const key = randomBytes(32);
          const plain = Buffer.from(bytes);
          const sealed = await seal(key, plain, chunk);
          expect(sealed.length).toBe(sealedSize(plain.length, chunk));
          expect(sealed.includes(plain.subarray(0, 64)) && plain.length >= 64).toBe(false);
          expect(await open(key, sealed, plain.length, chunk)).toEqual(plain);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("serves any byte range by opening only the chunks it covers", async () => {
    const key = randomBytes(32);
    const plain = randomBytes(3_001);
    const chunk = 256;
    const sealed = await seal(key, plain, chunk);
    await fc.assert(
      fc.asyncProperty(fc.nat(3_000), fc.nat(3_000), async (a, b) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        const r = sealedRangeOf(plain.length, start, end, chunk);
        const out = await collect(
          Readable.from([sealed.subarray(r.sealedStart, r.sealedEnd + 1)]).pipe(
            createOpenStream(key, {
              size: plain.length,
              chunkBytes: chunk,
              firstChunk: r.firstChunk,
              skip: r.skip,
              length: r.length,
            }),
          ),
        );
        expect(out).toEqual(plain.subarray(start, end + 1));
      }),
      { numRuns: 80 },
    );
  });

  it("refuses a flipped bit, a truncation, a swapped chunk and the wrong key", async () => {
    const key = randomBytes(32);
    const plain = randomBytes(1_000);
    const sealed = await seal(key, plain, 128);
    const flipped = Buffer.from(sealed);
    flipped[500] = (flipped[500] ?? 0) ^ 1;
    await expect(open(key, flipped, 1_000, 128)).rejects.toBeInstanceOf(SealedObjectError);
    // Cut at a chunk boundary: the last chunk present is not flagged final.
    const cut = sealed.subarray(0, 8 + 3 * (128 + 16));
    await expect(open(key, cut, 1_000, 128)).rejects.toBeInstanceOf(SealedObjectError);
    await expect(open(key, cut, 3 * 128, 128)).rejects.toBeInstanceOf(SealedObjectError);
    const swapped = Buffer.concat([
      sealed.subarray(0, 8),
      sealed.subarray(8 + 144, 8 + 288),
      sealed.subarray(8, 8 + 144),
      sealed.subarray(8 + 288),
    ]);
    await expect(open(key, swapped, 1_000, 128)).rejects.toBeInstanceOf(SealedObjectError);
    await expect(open(randomBytes(32), sealed, 1_000, 128)).rejects.toBeInstanceOf(
      SealedObjectError,
    );
  });

  it("streams a large file with one chunk in memory at a time", async () => {
    const key = randomBytes(32);
    let produced = 0;
    const total = 8 * 1024 * 1024;
    const source = new Readable({
      read() {
        if (produced >= total) {
          this.push(null);
          return;
        }
        produced += 65_536;
        this.push(Buffer.alloc(65_536, produced % 251));
      },
    });
    let sealedBytes = 0;
    await pipeline(source, createSealStream(key), async function* (chunks) {
      for await (const c of chunks) sealedBytes += (c as Buffer).length;
      yield* [];
    });
    expect(sealedBytes).toBe(sealedSize(total));
  });
});

describe("key ring", () => {
  const k = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;

  it("wraps with the newest key, unwraps with any configured one, re-wraps without the content", () => {
    const old = k("k-2025");
    const ring1 = createKeyRing(parseKeyEncryptionKeys(old));
    const { dataKey, wrapped } = ring1.newDataKey();
    expect(wrapped.keyId).toBe("k-2025");
    const ring2 = createKeyRing(parseKeyEncryptionKeys(`${old},${k("k-2026")}`));
    expect(ring2.currentId).toBe("k-2026");
    expect(ring2.unwrap(wrapped)).toEqual(dataKey);
    const moved = ring2.rewrap(wrapped);
    expect(moved.keyId).toBe("k-2026");
    expect(ring2.unwrap(moved)).toEqual(dataKey);
    expect(ring2.rewrap(moved)).toBe(moved);
  });

  it("names an unconfigured key id in a clear error", () => {
    const ring = createKeyRing(parseKeyEncryptionKeys(k("a")));
    expect(() => ring.unwrap({ keyId: "gone", wrapped: "AAAA" })).toThrow(UnknownKeyError);
    expect(() => ring.unwrap({ keyId: "gone", wrapped: "AAAA" })).toThrow(
      /key id "gone" is not configured/,
    );
  });

  it("refuses a malformed configuration, listing every problem", () => {
    expect(() => parseKeyEncryptionKeys("")).toThrow(/no key/);
    expect(() => parseKeyEncryptionKeys("a:short,a:" + randomBytes(32).toString("base64"))).toThrow(
      /32 bytes.*appears twice/,
    );
    expect(() => parseKeyEncryptionKeys("bad id:x")).toThrow(/key id must be/);
  });
});
