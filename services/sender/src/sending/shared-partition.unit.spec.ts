import { partitionOfKey } from "@parley/kafka";
import { describe, expect, it } from "vitest";
import { sharesPartition } from "./shared-partition.js";

// Numbers picked by where the default partitioner puts them in a topic of 4 partitions.
const numbers = Array.from({ length: 40 }, (_, i) => String(106_540_352_240_000 + i));
const byPartition = (count: number) => {
  const out = new Map<number, string[]>();
  for (const n of numbers) {
    const p = partitionOfKey(n, count);
    out.set(p, [...(out.get(p) ?? []), n]);
  }
  return out;
};

describe("sharesPartition", () => {
  it("tells numbers that land on one partition from a number alone on its own", () => {
    const four = byPartition(4);
    const [a, b] = [...four.values()].find((ns) => ns.length >= 2) ?? [];
    const lonePartition = [...four.keys()].find((p) => p !== partitionOfKey(a ?? "", 4)) ?? 0;
    const lone = four.get(lonePartition)?.[0] ?? "";
    const shared = sharesPartition(
      () => [a ?? "", b ?? "", lone],
      () => 4,
      partitionOfKey,
    );
    expect(shared(a ?? "", partitionOfKey(a ?? "", 4))).toBe(true);
    expect(shared(b ?? "", partitionOfKey(b ?? "", 4))).toBe(true);
    expect(shared(lone, lonePartition)).toBe(false);
  });

  it("counts a number seen on a partition, even one the directory does not name", () => {
    const four = byPartition(4);
    const [p, onIt] = [...four.entries()][0] ?? [0, []];
    const known = onIt[0];
    const shared = sharesPartition(
      () => [known ?? ""],
      () => 4,
      partitionOfKey,
    );
    expect(shared(known ?? "", p)).toBe(false);
    expect(shared("stranger", p)).toBe(true);
    expect(shared(known ?? "", p)).toBe(true);
  });

  it("places the numbers again when the partition count changes", () => {
    const two = byPartition(2);
    const [a, b] = two.get(0) ?? [];
    // Find a count under which a and b part ways.
    const apart = [3, 4, 5, 6, 7, 8].find(
      (c) => partitionOfKey(a ?? "", c) !== partitionOfKey(b ?? "", c),
    );
    expect(apart).toBeDefined();
    let count = 2;
    const shared = sharesPartition(
      () => [a ?? "", b ?? ""],
      () => count,
      partitionOfKey,
    );
    expect(shared(a ?? "", 0)).toBe(true);
    count = apart ?? 2;
    expect(shared(a ?? "", partitionOfKey(a ?? "", count))).toBe(false);
  });
});
