import { nameBasedId } from "@parley/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { uuidV5Of } from "./ids.js";

const reference = nameBasedId("5b0f3c1e9a7d4e2b8c6a1d3f5e7b9c0a");

describe("uuidV5Of", () => {
  it("derives exactly the ids nameBasedId derives, for any name (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: "binary", minLength: 300, maxLength: 1_200 }),
          fc.string({ unit: "grapheme", maxLength: 50 }),
          fc.stringMatching(/^campaign:[a-z0-9-]{1,64}:\d{6,15}$/),
        ),
        (name) => {
          expect(uuidV5Of(name)).toBe(reference(name));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("is a version 5, RFC variant UUID, stable across runs", () => {
    const id = uuidV5Of("campaign:flash-sale:34612345678");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id).toBe(reference("campaign:flash-sale:34612345678"));
  });
});
