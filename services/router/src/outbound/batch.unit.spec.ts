import { describe, expect, it } from "vitest";
import { batched, settledError, settledValue } from "./batch.js";

describe("batched", () => {
  it("answers each caller with its own result, grouping calls made meanwhile", async () => {
    const flushes: number[][] = [];
    const double = batched<number, number>(
      (items) => {
        flushes.push([...items]);
        return Promise.resolve(items.map((i) => settledValue(i * 2)));
      },
      { maxSize: 3, maxConcurrent: 1 },
    );
    const answers = await Promise.all([1, 2, 3, 4, 5].map(double));
    expect(answers).toEqual([2, 4, 6, 8, 10]);
    expect(flushes).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it("an item's own error rejects that caller only; a failed flush rejects its batch", async () => {
    let fail = false;
    const call = batched<number, number>((items) =>
      fail
        ? Promise.reject(new Error("down"))
        : Promise.resolve(
            items.map((i) =>
              i < 0 ? settledError<number>(new Error(`bad ${i}`)) : settledValue(i),
            ),
          ),
    );
    const results = await Promise.allSettled([call(1), call(-1), call(2)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    fail = true;
    await expect(call(3)).rejects.toThrow("down");
    fail = false;
    await expect(call(4)).resolves.toBe(4);
  });

  it("refuses sizes below one", () => {
    expect(() => batched(() => Promise.resolve([]), { maxSize: 0 })).toThrow(RangeError);
  });
});
