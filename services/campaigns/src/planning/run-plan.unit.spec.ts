import { describe, expect, it } from "vitest";
import { campaignDefinition } from "../domain/campaign.js";
import type { AudienceRow, ContactFacts } from "../domain/plan.js";
import { uuidV5Of } from "./ids.js";
import { createMemoryPlanStore } from "./memory-store.js";
import type { FactsReader, PlannedSend } from "./ports.js";
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

describe("runPlan", () => {
  it("resumes after a crash at any chunk: every recipient published, none twice but the chunk in hand", async () => {
    const oneShot: PlannedSend[] = [];
    const reference = await runPlan({
      campaign,
      numbers,
      limitBudget: Infinity,
      audience,
      facts,
      store: createMemoryPlanStore(),
      publish: (s) => {
        oneShot.push(...s);
        return Promise.resolve();
      },
      requestIdOf: uuidV5Of,
      clock,
      chunkSize: 100,
    });
    expect(reference.complete).toBe(true);
    const expected = new Set(oneShot.map((s) => s.requestId));
    expect(expected.size).toBe(oneShot.length);

    for (const crashAt of [1, 4, 9]) {
      const store = createMemoryPlanStore();
      const published: PlannedSend[] = [];
      let calls = 0;
      const crashing = (s: readonly PlannedSend[]) => {
        published.push(...s); // the broker took them, the ack never came back
        if (++calls === crashAt) return Promise.reject(new Error("crash"));
        return Promise.resolve();
      };
      await expect(
        runPlan({
          campaign,
          numbers,
          limitBudget: Infinity,
          audience,
          facts,
          store,
          publish: crashing,
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
        publish: (s) => {
          published.push(...s);
          return Promise.resolve();
        },
        requestIdOf: uuidV5Of,
        clock,
        chunkSize: 100,
      });
      expect(resumed.counters).toEqual(reference.counters);
      expect(new Set(published.map((s) => s.requestId))).toEqual(expected);
      // Repeats are the one chunk in hand, with the same request ids and idempotency keys.
      expect(published.length - expected.size).toBeLessThanOrEqual(100);
      const byId = new Map(oneShot.map((s) => [s.requestId, s.request]));
      for (const s of published) expect(s.request).toEqual(byId.get(s.requestId));
    }
  });

  it("reports the skips with their reasons and publishes nothing again once complete", async () => {
    const store = createMemoryPlanStore();
    let published = 0;
    const run = () =>
      runPlan({
        campaign,
        numbers,
        limitBudget: Infinity,
        audience,
        facts,
        store,
        publish: (s) => {
          published += s.length;
          return Promise.resolve();
        },
        requestIdOf: uuidV5Of,
        clock,
        chunkSize: 100,
      });
    const first = await run();
    expect(first.counters.skipped).toMatchObject({
      duplicate: expect.any(Number) as unknown,
      invalid_row: 40,
      opted_out: expect.any(Number) as unknown,
    });
    const before = published;
    await run();
    expect(published).toBe(before);
    expect(
      [...(store.decisions.get("spring")?.values() ?? [])].filter((d) => d.kind === "skipped"),
    ).toHaveLength(Object.values(first.counters.skipped).reduce((a, b) => a + b, 0));
  });
});
