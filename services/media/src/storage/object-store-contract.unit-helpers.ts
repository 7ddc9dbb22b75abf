import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { ObjectNotFoundError, type ObjectStore } from "./port.js";

const read = async (stream: Readable): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
};

/** A body that yields `bytes` and then fails, as a download cut mid-way does. */
function failingBody(bytes: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(bytes);
        return;
      }
      this.destroy(new Error("connection reset mid-body"));
    },
  });
}

/**
 * The ObjectStore port's contract, run against the in-memory fake (unit) and every adapter
 * (the filesystem in unit, S3 against a real S3-compatible server in int).
 */
export function describeObjectStore(
  name: string,
  make: () => Promise<ObjectStore & { close?: () => Promise<void> }>,
): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: (ObjectStore & { close?: () => Promise<void> }) | undefined;
    const get = async () => (store ??= await make());
    const ns = `t${randomBytes(4).toString("hex")}`;
    afterAll(async () => {
      await store?.close?.();
    });

    it("stores, reads back, heads and lists an object", async () => {
      const s = await get();
      const data = randomBytes(200_000);
      const written = await s.put(`${ns}/a/one`, Readable.from([data]), { length: data.length });
      expect(written).toBe(data.length);
      expect(await read(await s.get(`${ns}/a/one`))).toEqual(data);
      expect(await s.head(`${ns}/a/one`)).toBe(data.length);
      const keys: string[] = [];
      for await (const k of s.list(`${ns}/`)) keys.push(k);
      expect(keys).toEqual([`${ns}/a/one`]);
    });

    it("reads an inclusive byte range", async () => {
      const s = await get();
      const data = randomBytes(10_000);
      await s.put(`${ns}/range`, Readable.from([data]), { length: data.length });
      expect(await read(await s.get(`${ns}/range`, { start: 100, end: 4_099 }))).toEqual(
        data.subarray(100, 4_100),
      );
    });

    it("replaces an object put twice under one key", async () => {
      const s = await get();
      await s.put(`${ns}/twice`, Readable.from([Buffer.from("first")]), { length: 5 });
      await s.put(`${ns}/twice`, Readable.from([Buffer.from("second!")]), { length: 7 });
      expect((await read(await s.get(`${ns}/twice`))).toString()).toBe("second!");
    });

    it("leaves nothing under the key when the body fails mid-way", async () => {
      const s = await get();
      await expect(
        s.put(`${ns}/cut`, failingBody(randomBytes(70_000)), { length: 140_000 }),
      ).rejects.toThrow();
      expect(await s.head(`${ns}/cut`)).toBeUndefined();
      const keys: string[] = [];
      for await (const k of s.list(`${ns}/cut`)) keys.push(k);
      expect(keys).toEqual([]);
    });

    it("answers absent objects with ObjectNotFoundError and deletes idempotently", async () => {
      const s = await get();
      await expect(s.get(`${ns}/missing`)).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await s.head(`${ns}/missing`)).toBeUndefined();
      await s.put(`${ns}/gone`, Readable.from([Buffer.from("x")]), { length: 1 });
      await s.delete(`${ns}/gone`);
      await s.delete(`${ns}/gone`);
      expect(await s.head(`${ns}/gone`)).toBeUndefined();
    });

    it("refuses keys that could escape their place", async () => {
      const s = await get();
      for (const bad of ["../x", "a/../../b", "/abs", "A//b", "", "a/"]) {
        await expect(s.head(bad)).rejects.toThrow(/invalid object key/);
      }
    });
  });
}
