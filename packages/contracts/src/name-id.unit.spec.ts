import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nameBasedId } from "./index.js";

describe("nameBasedId", () => {
  it("matches RFC 9562's UUIDv5 example (DNS namespace, www.example.com)", () => {
    const dns = nameBasedId("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
    expect(dns("www.example.com")).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2");
  });

  it("is a version 5, variant 1 id, the same for the same name and namespace only", () => {
    const a = nameBasedId("5f0e7c1a9b2d4e3f8a6b1c2d3e4f5a6b");
    const b = nameBasedId("6a1f0d2c8e3b4f5a9c7d1e2f3a4b5c6d");
    fc.assert(
      fc.property(fc.string(), fc.string(), (x, y) => {
        expect(a(x)).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
        expect(a(x)).toBe(a(x));
        expect(a(x)).not.toBe(b(x));
        if (x !== y) expect(a(x)).not.toBe(a(y));
      }),
    );
  });

  it("derives the ids of RFC 9562's construction step by step, for any name, short or long (property)", () => {
    // The RFC's steps written plainly (a Hash object, the version and variant bits set on the
    // bytes), against the one-shot derivation; names past the kept buffer's room included.
    const namespace = "5b0f3c1e9a7d4e2b8c6a1d3f5e7b9c0a";
    const space = Buffer.from(namespace, "hex");
    const reference = (name: string): string => {
      const b = createHash("sha1").update(space).update(name, "utf8").digest().subarray(0, 16);
      b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
      b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
      const hex = b.toString("hex");
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    };
    const id = nameBasedId(namespace);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: "binary", minLength: 300, maxLength: 1_200 }),
          fc.string({ unit: "grapheme", maxLength: 50 }),
          fc.stringMatching(/^campaign:[a-z0-9-]{1,64}:\d{6,15}$/),
        ),
        (name) => {
          expect(id(name)).toBe(reference(name));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("refuses a namespace that is not 16 bytes of hex", () => {
    expect(() => nameBasedId("abc")).toThrow(/16 bytes of hex/);
  });
});
