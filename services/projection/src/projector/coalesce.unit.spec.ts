import type { CommandHandler, Keyed } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import { describe, expect, it } from "vitest";
import { coalesce } from "./coalesce.js";
import { createMemoryReadModels } from "./memory.js";
import { createRollup } from "./rollup.js";
import type { AnalyticsStore } from "./ports.js";

function recording(fail: (command: string) => ParleyError | undefined) {
  const calls: Keyed<string>[][] = [];
  const handler: CommandHandler<string> = {
    handle(commands) {
      calls.push([...commands]);
      const error = commands.map((c) => fail(c.command)).find((e) => e !== undefined);
      return error === undefined ? Promise.resolve() : Promise.reject(error);
    },
  };
  return { handler, calls };
}

describe("coalesce", () => {
  it("merges the calls of one turn per key, in call order", async () => {
    const { handler, calls } = recording(() => undefined);
    const merged = coalesce(handler);
    await Promise.all([
      merged.handle([{ key: "a", command: "1" }]),
      merged.handle([{ key: "b", command: "2" }]),
      merged.handle([{ key: "a", command: "3" }]),
    ]);
    expect(calls.map((c) => c.map((x) => `${x.key}${x.command}`).join(","))).toEqual([
      "a1,a3",
      "b2",
    ]);
  });

  it("fails only the caller of a poison command, the others of its key pass alone", async () => {
    const { handler } = recording((c) =>
      c === "poison" ? new ParleyError("refused", { retry: "never" }) : undefined,
    );
    const merged = coalesce(handler);
    const results = await Promise.allSettled([
      merged.handle([{ key: "a", command: "1" }]),
      merged.handle([{ key: "a", command: "poison" }]),
      merged.handle([{ key: "a", command: "3" }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  });

  it("fails every merged caller with an outage (waited out, then all tried again)", async () => {
    const { handler, calls } = recording(() => new ParleyError("down", { retry: "outage" }));
    const merged = coalesce(handler);
    const results = await Promise.allSettled([
      merged.handle([{ key: "a", command: "1" }]),
      merged.handle([{ key: "a", command: "2" }]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(calls).toHaveLength(1);
  });
});

describe("rollup pacing", () => {
  it("recomputes a bucket of n facts at most every n x msPerFact; drain ignores the pacing", async () => {
    const models = createMemoryReadModels();
    let reads = 0;
    const analytics: AnalyticsStore = {
      contributionsOf: () => {
        reads++;
        return Promise.resolve(
          Array.from({ length: 100 }, () => ({
            kind: "request" as const,
            request: { status: "accepted" as const },
          })),
        );
      },
      put: () => Promise.resolve(),
    };
    let now = 0;
    const rollup = createRollup({
      marks: models.marks,
      analytics,
      msPerFact: 10,
      clock: () => now,
    });
    await models.marks.mark(["b"]);
    expect(await rollup.runOnce()).toBe(1);
    await models.marks.mark(["b"]);
    now = 500;
    expect(await rollup.runOnce()).toBe(0);
    expect(await models.marks.count()).toBe(1);
    now = 1_000;
    expect(await rollup.runOnce()).toBe(1);
    await models.marks.mark(["b"]);
    expect(await rollup.drain()).toBe(1);
    expect(reads).toBe(3);
  });
});
