import { describe, expect, it } from "vitest";
import { partitionOfKey } from "./partition.js";

/**
 * Murmur2 as the Java client computes it for record keys (seed 0x9747b28c, the sign bit cleared
 * before the modulo), written out here as an independent check on the partitioner we call.
 */
function javaPartition(key: string, partitions: number): number {
  const data = Buffer.from(key, "utf8");
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ data.length) | 0;
  const whole = data.length - (data.length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = data.length % 4;
  if (rest === 3) h ^= (data[whole + 2] ?? 0) << 16;
  if (rest >= 2) h ^= (data[whole + 1] ?? 0) << 8;
  if (rest >= 1) {
    h ^= data[whole] ?? 0;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return (h & 0x7fffffff) % partitions;
}

describe("partitionOfKey", () => {
  it("agrees with the Java client's murmur2 partitioning for business numbers and contact ids", () => {
    const spread = new Set<number>();
    for (let i = 0; i < 300; i++) {
      for (const key of [`10654035224${String(i).padStart(4, "0")}`, `wa-${String(i * 7919)}`]) {
        for (const partitions of [1, 2, 3, 6, 12]) {
          expect(partitionOfKey(key, partitions)).toBe(javaPartition(key, partitions));
        }
        spread.add(partitionOfKey(key, 6));
      }
    }
    expect(spread.size).toBe(6);
  });

  it("refuses a partition count that is not a positive integer", () => {
    expect(() => partitionOfKey("a", 0)).toThrow(/positive integer/);
    expect(() => partitionOfKey("a", 1.5)).toThrow(/positive integer/);
  });
});
