import { describe, expect, it } from "vitest";
import { createMemoryReadModels } from "./memory.js";
import type { AnalyticsStore, BucketMarks } from "./ports.js";
import { createRollup, noteMarks } from "./rollup.js";

/** Memory marks whose reads (`take`) are counted, and analytics that record what was put. */
function world() {
  const { marks: memory } = createMemoryReadModels();
  let takes = 0;
  const counted: BucketMarks = {
    mark: (buckets) => memory.mark(buckets),
    take: (limit) => {
      takes++;
      return memory.take(limit);
    },
    clear: (done) => memory.clear(done),
    count: () => memory.count(),
  };
  const put: string[] = [];
  const analytics: AnalyticsStore = {
    contributionsOf: () =>
      Promise.resolve([{ kind: "request" as const, request: { status: "accepted" as const } }]),
    put: (bucket) => {
      put.push(bucket);
      return Promise.resolve();
    },
  };
  return { memory, marks: noteMarks(counted), analytics, put, takes: () => takes };
}

/** The rollup over a world's noted marks, on a clock the test moves. */
function rollupOf(
  w: ReturnType<typeof world>,
  options: { readonly restReadMs?: number; readonly msPerFact?: number },
  clock: () => number,
) {
  return createRollup({
    marks: w.marks,
    analytics: w.analytics,
    written: w.marks.written,
    ...options,
    clock,
  });
}

describe("rollup at rest", () => {
  it("reads the marks only after this process wrote some, and once per restReadMs otherwise", async () => {
    const w = world();
    let now = 0;
    const rollup = rollupOf(w, { restReadMs: 30_000 }, () => now);
    // The first round reads (marks a previous process left).
    expect(await rollup.runOnce()).toBe(0);
    expect(w.takes()).toBe(1);
    // Nothing written since: the next rounds read nothing.
    for (let i = 1; i <= 10; i++) {
      now = i * 1_000;
      expect(await rollup.runOnce()).toBe(0);
    }
    expect(w.takes()).toBe(1);
    // A mark written through the noted marks: the next round reads and recomputes.
    await w.marks.mark(["b1"]);
    now = 11_000;
    expect(await rollup.runOnce()).toBe(1);
    expect(w.put).toEqual(["b1"]);
    expect(w.takes()).toBe(2);
    now = 12_000;
    expect(await rollup.runOnce()).toBe(0);
    expect(w.takes()).toBe(2);
    // A mark written by another process (not through these marks) waits for the rest read.
    await w.memory.mark(["b2"]);
    now = 40_000;
    expect(await rollup.runOnce()).toBe(0);
    expect(w.takes()).toBe(2);
    now = 41_000;
    expect(await rollup.runOnce()).toBe(1);
    expect(w.put).toEqual(["b1", "b2"]);
    expect(await w.memory.count()).toBe(0);
  });

  it("reads again while a read may have left marks, or buckets wait their turn", async () => {
    const w = world();
    let now = 0;
    const rollup = rollupOf(w, { msPerFact: 1_000 }, () => now);
    await w.marks.mark(["a", "b", "c"]);
    // Two at a time: the first round took as many as it asked for, so the next one reads on.
    expect(await rollup.runOnce(2)).toBe(2);
    now = 100;
    expect(await rollup.runOnce(2)).toBe(1);
    expect([...w.put].sort()).toEqual(["a", "b", "c"]);
    // "a" marked again within its turn (1 fact: 1 s): recomputed once its turn comes, with no
    // further write, because the rounds keep reading while buckets wait.
    await w.marks.mark(["a"]);
    now = 200;
    expect(await rollup.runOnce()).toBe(0);
    now = 600;
    expect(await rollup.runOnce()).toBe(0);
    now = 1_100;
    expect(await rollup.runOnce()).toBe(1);
    expect(w.put.filter((b) => b === "a")).toHaveLength(2);
    expect(await w.memory.count()).toBe(0);
    // Once every turn has passed and nothing is marked, the rounds rest.
    now = 3_000;
    expect(await rollup.runOnce()).toBe(0);
    const takes = w.takes();
    now = 4_000;
    expect(await rollup.runOnce()).toBe(0);
    expect(w.takes()).toBe(takes);
  });

  it("without written, every round reads", async () => {
    const w = world();
    const rollup = createRollup({ marks: w.marks, analytics: w.analytics });
    for (let i = 0; i < 3; i++) await rollup.runOnce();
    expect(w.takes()).toBe(3);
  });
});
