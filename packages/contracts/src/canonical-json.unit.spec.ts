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
});
