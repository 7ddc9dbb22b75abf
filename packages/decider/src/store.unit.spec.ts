import { describe, expect, it } from "vitest";
import { exceedsNesting, MAX_DOCUMENT_NESTING } from "./store.js";

const nested = (depth: number, wrap: (inner: unknown) => unknown): unknown => {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = wrap(value);
  return value;
};

describe("exceedsNesting (MongoDB's nesting rule)", () => {
  it("counts each object or array as a level, the top one as level 1", () => {
    expect(MAX_DOCUMENT_NESTING).toBe(100);
    for (const wrap of [
      (v: unknown) => ({ v }),
      (v: unknown) => [v],
      (v: unknown) => new Map([["v", v]]),
    ]) {
      expect(exceedsNesting(nested(100, wrap), 100)).toBe(false);
      expect(exceedsNesting(nested(101, wrap), 100)).toBe(true);
    }
    expect(exceedsNesting("scalar", 1)).toBe(false);
    expect(exceedsNesting({ a: 1, b: [1, 2], c: { d: null } }, 3)).toBe(false);
    expect(exceedsNesting({ a: 1, b: [1, 2], c: { d: [] } }, 2)).toBe(true);
  });

  it("treats dates, binaries and BSON values as leaves, and class instances as documents", () => {
    const leaves = {
      at: new Date(),
      re: /x/,
      bytes: new Uint8Array(2),
      id: { _bsontype: "ObjectId" },
    };
    expect(exceedsNesting(leaves, 1)).toBe(false);
    class Box {
      constructor(readonly inner: unknown) {}
    }
    expect(
      exceedsNesting(
        nested(101, (v) => new Box(v)),
        100,
      ),
    ).toBe(true);
  });

  it("answers for a hostile payload 100,000 levels deep, and for a cycle, without exhausting the stack", () => {
    expect(
      exceedsNesting(
        nested(100_000, (v) => [v]),
        100,
      ),
    ).toBe(true);
    const cycle: { self?: unknown } = {};
    cycle.self = cycle;
    expect(exceedsNesting(cycle, 100)).toBe(true);
  });
});
