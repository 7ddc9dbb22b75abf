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

  it("refuses a namespace that is not 16 bytes of hex", () => {
    expect(() => nameBasedId("abc")).toThrow(/16 bytes of hex/);
  });
});
