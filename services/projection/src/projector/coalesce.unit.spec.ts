import type { CommandHandler, Keyed } from "@parley/decider";
import { ParleyError } from "@parley/errors";
import fc from "fast-check";
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

describe("coalesce, keys in flight", () => {
  it("parks the commands of a key in flight and sends them together when it settles", async () => {
    const calls: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handler: CommandHandler<string> = {
      async handle(commands) {
        calls.push(commands.map((c) => `${c.key}${c.command}`).join(","));
        if (commands.some((c) => c.command === "1")) await gate;
      },
    };
    const merged = coalesce(handler);
    const first = merged.handle([{ key: "a", command: "1" }]);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [
      merged.handle([{ key: "a", command: "2" }]),
      merged.handle([{ key: "b", command: "3" }]),
    ];
    await new Promise((resolve) => setImmediate(resolve));
    const third = merged.handle([{ key: "a", command: "4" }]);
    await new Promise((resolve) => setImmediate(resolve));
    // b went at once; a's 2 and 4 wait for 1.
    expect(calls).toEqual(["a1", "b3"]);
    release();
    await Promise.all([first, ...later, third]);
    expect(calls).toEqual(["a1", "b3", "a2,a4"]);
  });

  it("property: every command handled once, in call order per key, one call per key at a time, a poison command failing its own caller only", async () => {
    const call = fc.record({
      commands: fc.array(fc.record({ key: fc.constantFrom("a", "b", "c"), poison: fc.boolean() }), {
        minLength: 1,
        maxLength: 4,
      }),
      delayTurns: fc.nat(3),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 25 }), async (plan) => {
        const applied = new Map<string, number[]>();
        const busy = new Set<string>();
        let overlap = false;
        const handler: CommandHandler<number> = {
          async handle(commands) {
            const keys = [...new Set(commands.map((c) => c.key))];
            if (keys.some((k) => busy.has(k))) overlap = true;
            for (const k of keys) busy.add(k);
            await new Promise((resolve) => setImmediate(resolve));
            for (const k of keys) busy.delete(k);
            if (commands.length > 1 && commands.some((c) => c.command < 0))
              throw new ParleyError("poison in the batch", { retry: "never" });
            for (const { key, command } of commands) {
              if (command < 0) throw new ParleyError("poison", { retry: "never" });
              applied.set(key, [...(applied.get(key) ?? []), command]);
            }
          },
        };
        const merged = coalesce(handler);
        let next = 0;
        const expected = new Map<string, number[]>();
        const results: Promise<"ok" | "failed">[] = [];
        const poisoned: boolean[] = [];
        for (const { commands, delayTurns } of plan) {
          const keyed = commands.map(({ key, poison }) => {
            const id = ++next;
            if (!poison) expected.set(key, [...(expected.get(key) ?? []), id]);
            return { key, command: poison ? -id : id };
          });
          poisoned.push(commands.some((c) => c.poison));
          results.push(
            merged.handle(keyed).then(
              () => "ok" as const,
              () => "failed" as const,
            ),
          );
          for (let i = 0; i < delayTurns; i++) await new Promise((r) => setImmediate(r));
        }
        const outcomes = await Promise.all(results);
        expect(overlap).toBe(false);
        expect(outcomes).toEqual(poisoned.map((p) => (p ? "failed" : "ok")));
        // A merged call that failed was retried command by command: what passed is applied once.
        for (const [key, ids] of expected) {
          const got = applied.get(key) ?? [];
          expect(got).toEqual(ids);
          expect(new Set(got).size).toBe(got.length);
        }
      }),
      { numRuns: 100 },
    );
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
