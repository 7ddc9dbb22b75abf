import { describe, expect, it } from "vitest";
import { campaignDefinition } from "../domain/campaign.js";
import type { AudienceRow, ContactFacts } from "../domain/plan.js";
import { uuidV5Of } from "./ids.js";
import { createMemoryPlanStore } from "./memory-store.js";
import type { FactsReader, PlannedSend, PlanStore } from "./ports.js";
import { releaseSeconds, releaseTick } from "./release.js";
import { runPlan } from "./run-plan.js";

const campaign = campaignDefinition.parse({
  id: "spring",
  owner: "marketing",
  template: { name: "spring_sale", language: { code: "es" } },
  category: "marketing",
  numbers: ["200001", "200002"],
  schedule: { startAt: "2026-12-01T00:00:00.000Z" },
});
const numbers = [
  { phoneNumberId: "200001", mps: 80 },
  { phoneNumberId: "200002", mps: 80 },
];
/** 1,000 rows: every 10th a duplicate of the row before, every 25th unparsable, every 7th opted out. */
const rows: AudienceRow[] = Array.from({ length: 1000 }, (_, i) => {
  const n = i % 10 === 9 ? i - 1 : i;
  if (i % 25 === 24)
    return { ok: false, index: i, line: i + 1, problem: `line ${i + 1}: not JSON` };
  return {
    ok: true,
    index: i,
    line: i + 1,
    phone: `+34612${String(n).padStart(6, "0")}`,
    params: {},
  };
});
const facts: FactsReader = {
  of: (ids) =>
    Promise.resolve(
      new Map(
        ids.map((id): [string, ContactFacts] => [
          id,
          {
            consent: Number(id.slice(-6)) % 7 === 0 ? "revoked" : "granted",
            recentCampaignSends: 0,
            windowOpen: false,
          },
        ]),
      ),
    ),
};
async function* audience(): AsyncGenerator<AudienceRow> {
  for (const r of rows) yield await Promise.resolve(r);
}
const clock = () => new Date("2026-12-01T00:00:01.000Z");

const plannedOf = (store: ReturnType<typeof createMemoryPlanStore>) =>
  [...(store.decisions.get("spring")?.values() ?? [])]
    .filter((d): d is PlannedSend => d.kind === "planned")
    .sort((a, b) => a.index - b.index);

describe("runPlan", () => {
  it("resumes after a crash at any chunk to the same queue: every recipient once, none skipped", async () => {
    const reference = createMemoryPlanStore();
    const done = await runPlan({
      campaign,
      numbers,
      limitBudget: Infinity,
      audience,
      facts,
      store: reference,
      requestIdOf: uuidV5Of,
      clock,
      chunkSize: 100,
    });
    expect(done.complete).toBe(true);
    const expected = plannedOf(reference);
    expect(new Set(expected.map((s) => s.contactId)).size).toBe(expected.length);

    for (const crashAt of [1, 4, 9]) {
      const store = createMemoryPlanStore();
      let calls = 0;
      const crashing: PlanStore = {
        ...store,
        record: async (id, decisions, now) => {
          await store.record(id, decisions, now); // written, then the process dies before the checkpoint
          if (++calls === crashAt) throw new Error("crash");
        },
      };
      await expect(
        runPlan({
          campaign,
          numbers,
          limitBudget: Infinity,
          audience,
          facts,
          store: crashing,
          requestIdOf: uuidV5Of,
          clock,
          chunkSize: 100,
        }),
      ).rejects.toThrow("crash");
      const resumed = await runPlan({
        campaign,
        numbers,
        limitBudget: Infinity,
        audience,
        facts,
        store,
        requestIdOf: uuidV5Of,
        clock,
        chunkSize: 100,
      });
      expect(resumed.counters).toEqual(done.counters);
      expect(plannedOf(store)).toEqual(expected);
    }
  });

  it("reports the skips with their reasons and plans nothing again once complete", async () => {
    const store = createMemoryPlanStore();
    const run = () =>
      runPlan({
        campaign,
        numbers,
        limitBudget: Infinity,
        audience,
        facts,
        store,
        requestIdOf: uuidV5Of,
        clock,
        chunkSize: 100,
      });
    const first = await run();
    expect(first.counters.skipped).toMatchObject({ invalid_row: 40 });
    expect(first.counters.skipped.duplicate).toBeGreaterThan(0);
    expect(first.counters.skipped.opted_out).toBeGreaterThan(0);
    const again = await run();
    expect(again.counters).toEqual(first.counters);
    expect(
      [...(store.decisions.get("spring")?.values() ?? [])].filter((d) => d.kind === "skipped"),
    ).toHaveLength(Object.values(first.counters.skipped).reduce((a, b) => a + b, 0));
  });
});

describe("releaseSeconds", () => {
  it("covers the time since the previous release, from one tick to four", () => {
    expect(releaseSeconds(undefined, 1000)).toBe(1);
    expect(releaseSeconds(300, 1000)).toBe(1);
    expect(releaseSeconds(2500, 1000)).toBe(2.5);
    expect(releaseSeconds(60_000, 1000)).toBe(4);
    expect(releaseSeconds(Number.NaN, 500)).toBe(0.5);
  });
});

describe("releaseTick", () => {
  it("publishes each number's due sends at most its cap a tick, in row order, and each once even when a publish dies before the mark", async () => {
    const store = createMemoryPlanStore();
    await runPlan({
      campaign,
      numbers,
      limitBudget: Infinity,
      audience,
      facts,
      store,
      requestIdOf: uuidV5Of,
      clock,
      chunkSize: 100,
    });
    const planned = plannedOf(store);
    const published: PlannedSend[] = [];
    let ticks = 0;
    let failNext = true;
    for (;;) {
      const publish = (s: readonly PlannedSend[]) => {
        published.push(...s);
        if (failNext && ticks === 2) {
          failNext = false;
          return Promise.reject(new Error("crash after the append"));
        }
        return Promise.resolve();
      };
      const n = await releaseTick(campaign, numbers, 1, { queue: store, publish, clock }).catch(
        () => -1,
      );
      ticks++;
      if (n === 0) break;
      expect(n).toBeLessThanOrEqual(160);
    }
    expect(await store.pending("spring")).toBe(0);
    expect(new Set(published.map((s) => s.requestId))).toEqual(
      new Set(planned.map((s) => s.requestId)),
    );
    // The only repeats: the one batch whose acks were lost, again with the same ids.
    expect(published.length - planned.length).toBeLessThanOrEqual(80);
  });
});
