import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./index.js";

/**
 * The recursive original of canonicalJson: ids and fingerprints derived from canonical text (the
 * router's content-derived event ids among them) must never change.
 */
function original(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(original).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${original(v)}`);
    return `{${entries.join(",")}}`;
  }
  const scalar = JSON.stringify(value) as string | undefined;
  return scalar ?? "null";
}

describe("canonicalJson", () => {
  it("writes the same text as before for any JSON value (event ids stay the same)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        expect(canonicalJson(value)).toBe(original(value));
      }),
      { numRuns: 500 },
    );
  });

  it("sorts keys (integer-like ones as strings), leaves out undefined, and handles any depth", () => {
    expect(canonicalJson({ b: 1, a: [undefined, { "10": 1, "9": 2 }], c: undefined })).toBe(
      '{"a":[null,{"10":1,"9":2}],"b":1}',
    );
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(canonicalJson(deep)).toHaveLength(200_001);
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });

  it("writes the same text on either side of the depth where the general writer takes over", () => {
    // Objects and arrays alternating, unsorted keys and undefined members at every level, from
    // well inside the recursive writer's reach to past it (64 levels), where the text must not
    // change with the writer that produced it.
    for (const levels of [1, 2, 63, 64, 65, 66, 130]) {
      let value: unknown = { z: "end", a: [1, "two", null, undefined] };
      for (let i = 0; i < levels; i++) {
        value =
          i % 2 === 0
            ? { y: i, x: value, w: undefined, "10": [true], "9": { b: 2, a: 1 } }
            : [value, { d: undefined, c: `level ${String(i)}` }];
      }
      expect(canonicalJson(value)).toBe(original(value));
    }
  });

  it("writes deep random values like the original (both writers)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 80, depthSize: "large" }), (value) => {
        expect(canonicalJson(value)).toBe(original(value));
      }),
      { numRuns: 200 },
    );
  });
});
