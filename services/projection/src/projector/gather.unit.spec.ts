import type { AnyEvent } from "@parley/contracts";
import { ParleyError } from "@parley/errors";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gather } from "./gather.js";
import type { Consumed, Projector } from "./projector.js";

/** An event stand-in: gather never looks inside, it only hands events on. */
const item = (id: string): Consumed => ({ event: { eventId: id } as unknown as AnyEvent });
const idOf = (c: Consumed) => (c.event as unknown as { eventId: string }).eventId;

/** A projector that records each apply and refuses any call holding a poison (or while down). */
function recording(poison: ReadonlySet<string>, down: () => boolean = () => false) {
  const calls: string[][] = [];
  const projector: Projector = {
    apply(events) {
      const ids = events.map(idOf);
      calls.push(ids);
      if (down()) return Promise.reject(new ParleyError("down", { retry: "outage" }));
      if (ids.some((id) => poison.has(id)))
        return Promise.reject(new ParleyError("refused", { retry: "never" }));
      return Promise.resolve();
    },
  };
  return { projector, calls };
}

describe("gather: one apply per turn of the event loop", () => {
  it("applies the items of one turn together, in arrival order, maxEvents at most a call", async () => {
    const { projector, calls } = recording(new Set());
    const apply = gather(projector, { maxEvents: 3 });
    await Promise.all(["a", "b", "c", "d", "e"].map((id) => apply(item(id))));
    expect(calls).toEqual([
      ["a", "b", "c"],
      ["d", "e"],
    ]);
    await apply(item("f"));
    expect(calls.at(-1)).toEqual(["f"]);
  });

  it("any mix of good and poison items over several turns: each good item applied and resolved, each poison one rejected alone", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.boolean(), { maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 6 }),
        async (turns, maxEvents) => {
          const ids = turns.map((turn, t) => turn.map((_, i) => `${String(t)}.${String(i)}`));
          const poison = new Set(
            turns.flatMap((turn, t) => turn.flatMap((bad, i) => (bad ? [ids[t]?.[i] ?? ""] : []))),
          );
          const { projector, calls } = recording(poison);
          const apply = gather(projector, { maxEvents });
          const settled: Promise<PromiseSettledResult<void>[]>[] = [];
          for (const turn of ids) {
            settled.push(Promise.allSettled(turn.map((id) => apply(item(id)))));
            await new Promise((resolve) => setImmediate(resolve));
          }
          const results = (await Promise.all(settled)).flat();
          const all = ids.flat();
          results.forEach((r, i) => {
            expect(r.status).toBe(poison.has(all[i] ?? "") ? "rejected" : "fulfilled");
          });
          for (const call of calls) expect(call.length).toBeLessThanOrEqual(maxEvents);
          // Every good item was part of a call that succeeded (it was applied).
          const applied = new Set(calls.filter((c) => !c.some((id) => poison.has(id))).flat());
          for (const id of all) if (!poison.has(id)) expect(applied.has(id)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("an outage rejects every gathered item (the consumer waits it out), without one-by-one retries", async () => {
    let isDown = true;
    const { projector, calls } = recording(new Set(), () => isDown);
    const apply = gather(projector);
    const results = await Promise.allSettled(["a", "b", "c"].map((id) => apply(item(id))));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(calls).toHaveLength(1);
    isDown = false;
    await expect(apply(item("a"))).resolves.toBeUndefined();
  });

  it("refuses a batch bound that is not a whole number >= 1", () => {
    const { projector } = recording(new Set());
    expect(() => gather(projector, { maxEvents: 0 })).toThrow(RangeError);
    expect(() => gather(projector, { maxEvents: 1.5 })).toThrow(RangeError);
  });
});
