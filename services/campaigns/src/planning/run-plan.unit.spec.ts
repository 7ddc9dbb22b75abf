import { describe, expect, it } from "vitest";
import { campaignDefinition } from "../domain/campaign.js";
import type { AudienceRow, ContactFacts } from "../domain/plan.js";
import { uuidV5Of } from "./ids.js";
import { createMemoryPlanStore } from "./memory-store.js";
import type { FactsReader, PlannedSend, PlanStore } from "./ports.js";
import { ReleaseCredit, releaseTick } from "./release.js";
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

describe("ReleaseCredit", () => {
  const two = [
    { phoneNumberId: "a", mps: 60 },
    { phoneNumberId: "b", mps: 30 },
  ] as const;
  const counts = (m: ReadonlyMap<string, number>) => Object.fromEntries(m);

  it("given a first release, grants one tick plus the lead of each number's cap", () => {
    const credit = new ReleaseCredit({ tickMs: 1000, leadMs: 1000 });
    expect(counts(credit.allowance("c", two, 0))).toEqual({ a: 120, b: 60 });
  });

  it("given released sends, grants the time since at the cap and carries the fraction, so the release keeps the cap over many uneven ticks", () => {
    const credit = new ReleaseCredit({ tickMs: 1000, leadMs: 500 });
    let at = 0;
    let releasedA = 0;
    let releasedB = 0;
    for (let tick = 0; tick < 200; tick++) {
      const allowance = credit.allowance(
        "c",
        [
          { phoneNumberId: "a", mps: 30 },
          { phoneNumberId: "b", mps: 7 },
        ],
        at,
      );
      releasedA += allowance.get("a") ?? 0;
      releasedB += allowance.get("b") ?? 0;
      credit.spend("c", allowance);
      at += 1000 + ((tick * 37) % 90); // late ticks, 0 to 89 ms each
    }
    const lastGrantAt = at - 1000 - ((199 * 37) % 90);
    // Released over the run: the time from the first tick to the last at the cap, plus a tick
    // and the lead; never a whole send short (the fraction carries).
    expect(releasedA).toBe(Math.floor((30 * (lastGrantAt + 1500)) / 1000));
    expect(releasedB).toBe(Math.floor((7 * (lastGrantAt + 1500)) / 1000));
  });

  it("given a gap longer than four ticks (a resume, a stall), starts over with a tick plus the lead", () => {
    const credit = new ReleaseCredit({ tickMs: 1000, leadMs: 1000 });
    credit.spend("c", credit.allowance("c", two, 0));
    expect(counts(credit.allowance("c", two, 3_000))).toEqual({ a: 180, b: 90 });
    credit.spend(
      "c",
      new Map([
        ["a", 180],
        ["b", 90],
      ]),
    );
    expect(counts(credit.allowance("c", two, 60_000))).toEqual({ a: 120, b: 60 });
  });

  it("given nothing released (nothing due), stores up at most four ticks plus the lead", () => {
    const credit = new ReleaseCredit({ tickMs: 1000, leadMs: 1000 });
    credit.allowance("c", two, 0);
    let last = new Map<string, number>();
    for (let at = 1000; at <= 20_000; at += 1000) last = credit.allowance("c", two, at);
    expect(counts(last)).toEqual({ a: 300, b: 150 });
  });

  it("given a tick sooner than the tick period (run by hand), grants one tick all the same", () => {
    const credit = new ReleaseCredit({ tickMs: 1000, leadMs: 0 });
    credit.spend("c", credit.allowance("c", two, 0));
    expect(counts(credit.allowance("c", two, 5))).toEqual({ a: 60, b: 30 });
  });

  it("keeps campaigns apart and refuses a non-positive tick or a negative lead", () => {
    const credit = new ReleaseCredit({ tickMs: 1000, leadMs: 0 });
    credit.spend("c", credit.allowance("c", two, 0));
    expect(counts(credit.allowance("d", two, 1500))).toEqual({ a: 60, b: 30 });
    expect(counts(credit.allowance("c", two, 1500))).toEqual({ a: 90, b: 45 });
    expect(() => new ReleaseCredit({ tickMs: 0, leadMs: 0 })).toThrow(RangeError);
    expect(() => new ReleaseCredit({ tickMs: 1000, leadMs: -1 })).toThrow(RangeError);
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
      const perSecond = new Map(numbers.map((x) => [x.phoneNumberId, x.mps]));
      const n = await releaseTick(campaign, numbers, perSecond, {
        queue: store,
        publish,
        clock,
      }).then(
        (r) => [...r.values()].reduce((a, b) => a + b, 0),
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
