import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCompleted, encodeCompleted, fitCompleted } from "./completed-offsets.js";

const sortedDistinct = (xs: readonly bigint[]) =>
  [...new Set(xs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Finished offsets above a committed offset: clustered runs, sparse singles, or both. */
const finishedSets = fc
  .tuple(
    fc.bigInt({ min: 0n, max: 2n ** 40n }),
    fc.array(fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 300 })), {
      maxLength: 40,
    }),
  )
  .map(([committed, runs]) => {
    const finished: bigint[] = [];
    for (const [start, length] of runs)
      for (let d = start; d < start + length; d++) finished.push(committed + BigInt(d));
    return { committed, finished: sortedDistinct(finished) };
  });

describe("the finished-record set in the offset commit's metadata", () => {
  it("reads back exactly what was written, whichever encoding is shorter", () => {
    fc.assert(
      fc.property(finishedSets, ({ committed, finished }) => {
        const metadata = encodeCompleted(committed, finished);
        expect(decodeCompleted(committed, metadata)).toEqual(finished);
        expect(metadata === "" || /^[rb]1\.[A-Za-z0-9_-]*$/.test(metadata)).toBe(true);
      }),
    );
  });

  it("is compact: a run of 10,000 finished records or 2,000 scattered ones fit in 4 KiB", () => {
    const run = Array.from({ length: 10_000 }, (_, i) => 1_000_000n + 2n + BigInt(i));
    expect(encodeCompleted(1_000_000n, run).length).toBeLessThan(20);
    const scattered = Array.from({ length: 2_000 }, (_, i) => 1_000_000n + 1n + BigInt(i * 3));
    const metadata = encodeCompleted(1_000_000n, scattered);
    expect(metadata.startsWith("b1.")).toBe(true);
    expect(metadata.length).toBeLessThan(4_096);
    expect(decodeCompleted(1_000_000n, metadata)).toEqual(scattered);
  });

  it("ignores offsets at or below the committed one, and reads no set from foreign metadata", () => {
    expect(decodeCompleted(10n, encodeCompleted(10n, [5n, 10n, 12n]))).toEqual([12n]);
    for (const foreign of [null, undefined, "", "hello", "r1.%%%", "b2.AAAA"])
      expect(decodeCompleted(10n, foreign)).toEqual([]);
  });

  it("keeps the longest prefix that fits the metadata limit; the rest waits", () => {
    fc.assert(
      fc.property(
        finishedSets,
        fc.integer({ min: 0, max: 200 }),
        ({ committed, finished }, max) => {
          const { included, metadata } = fitCompleted(committed, finished, max);
          expect(metadata.length).toBeLessThanOrEqual(max);
          expect(included).toEqual(finished.slice(0, included.length));
          expect(decodeCompleted(committed, metadata)).toEqual(included);
          if (included.length < finished.length) {
            const one = finished.slice(0, included.length + 1);
            expect(encodeCompleted(committed, one).length).toBeGreaterThan(max);
          }
        },
      ),
    );
  });
});
