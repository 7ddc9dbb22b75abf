import { describe, expect, it } from "vitest";
import { waitFor } from "@parley/testkit";
import { runnerHarness } from "./runner.int-helpers.js";

// The consumer runner's bounds against a real broker: a partition at its own in-flight bound
// pauses alone, and records are neither lost nor reordered across a rebalance.
const harness = runnerHarness("runner-bounds");
const { topic, produce, runner, delay } = harness;

describe("consumer runner with a bound per partition", () => {
  it("a partition at its own bound pauses alone: another partition's records flow while its backlog drains, nothing lost, order kept", async () => {
    const t = await topic("partition-bound", 2);
    const dlq = await topic("partition-bound-dlq");
    // A backlog on partition 0 under one key: 400 records, 20 ms each, one at a time (8 s).
    await harness.producer.send({
      topic: t,
      acks: -1,
      messages: Array.from({ length: 400 }, (_, i) => ({
        partition: 0,
        key: "heavy",
        value: `heavy#${String(i)}`,
      })),
    });
    const heavy: number[] = [];
    const light: string[] = [];
    let maxInFlight = 0;
    const r = runner({
      groupId: harness.ns.group("partition-bound"),
      topics: [t],
      deadLetterTopic: dlq,
      maxInFlight: 100,
      maxInFlightPerPartition: 40,
      handle: async ({ value }) => {
        maxInFlight = Math.max(maxInFlight, r.stats.inFlight);
        if (value.startsWith("heavy#")) {
          await delay(20);
          heavy.push(Number(value.split("#")[1]));
        } else light.push(value);
      },
    });
    await r.start();
    await waitFor(() => heavy.length >= 20, { timeoutMs: 60_000, description: "backlog flowing" });
    await harness.producer.send({
      topic: t,
      acks: -1,
      messages: Array.from({ length: 5 }, (_, i) => ({
        partition: 1,
        key: `light-${String(i)}`,
        value: `light#${String(i)}`,
      })),
    });
    await waitFor(() => light.length === 5, { timeoutMs: 30_000, description: "5 light records" });
    // Handled long before the backlog drained: with one consumer-wide bound, partition 1 was
    // fetched only once partition 0's whole fetched batch had been taken (over 300 handled).
    expect(heavy.length).toBeLessThan(300);
    expect(r.stats.partitionPauses).toBeGreaterThan(0);
    // Partition 0 never held more than its bound (the 5 light records come on top).
    expect(maxInFlight).toBeLessThanOrEqual(45);
    await waitFor(() => heavy.length === 400, { timeoutMs: 60_000, description: "backlog done" });
    expect(heavy).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect(r.stats.deadLettered).toBe(0);
  }, 120_000);
});

describe("consumer runner across a rebalance", () => {
  for (const bound of [undefined, 10]) {
    const title =
      bound === undefined
        ? "a second instance joining moves partitions without losing records or breaking per-key order"
        : `the same with a bound of ${String(bound)} per partition: partitions paused for their own bound across the rebalance still deliver everything, in order`;
    it(title, async () => {
      const name = bound === undefined ? "rebalance" : "rebalance-bounded";
      const t = await topic(name, 4);
      const dlq = await topic(`${name}-dlq`);
      const group = harness.ns.group(name);
      const perPartition = bound === undefined ? {} : { maxInFlightPerPartition: bound };
      const keys = Array.from({ length: 12 }, (_, i) => `c${i}`);
      const perKey = 40;
      const firstSeen = new Map<string, number[]>();
      const byInstance = { a: 0, b: 0 };
      const handler =
        (instance: "a" | "b") =>
        async ({ key, value }: { key: string | null; value: string }) => {
          await delay(2);
          byInstance[instance]++;
          const n = Number(value.split("#")[1]);
          const list = firstSeen.get(key ?? "") ?? [];
          // Redelivery after a rebalance is allowed (handlers are idempotent); order of first sight is not negotiable.
          if (!list.includes(n)) list.push(n);
          firstSeen.set(key ?? "", list);
        };
      const a = runner({
        groupId: group,
        topics: [t],
        deadLetterTopic: dlq,
        handle: handler("a"),
        sessionTimeoutMs: 10_000,
        ...perPartition,
      });
      // The first half is there before the first fetch: each partition's batch is larger than
      // the bound, so a bounded runner pauses partitions for certain (produced while consuming,
      // small fetches may never reach it).
      for (let n = 0; n < perKey / 2; n++)
        await produce(
          t,
          keys.map((key) => ({ key, value: `${key}#${n}` })),
        );
      await a.start();
      await waitFor(() => byInstance.a > 20, {
        timeoutMs: 20_000,
        description: "instance a at work",
      });
      const b = runner({
        groupId: group,
        topics: [t],
        deadLetterTopic: dlq,
        handle: handler("b"),
        sessionTimeoutMs: 10_000,
        ...perPartition,
      });
      await b.start();
      for (let n = perKey / 2; n < perKey; n++)
        await produce(
          t,
          keys.map((key) => ({ key, value: `${key}#${n}` })),
        );
      await waitFor(() => keys.every((k) => (firstSeen.get(k)?.length ?? 0) === perKey), {
        timeoutMs: 60_000,
        description: "every record seen",
      });
      for (const k of keys)
        expect(firstSeen.get(k)).toEqual(Array.from({ length: perKey }, (_, n) => n));
      expect(byInstance.b).toBeGreaterThan(0);
      // Each instance knows its own share: the four partitions, split, none twice.
      await waitFor(
        () => a.assignment(t).partitions.length + b.assignment(t).partitions.length === 4,
        { timeoutMs: 20_000, description: "both instances joined the same generation" },
      );
      const shares = [...a.assignment(t).partitions, ...b.assignment(t).partitions].sort();
      expect(shares).toEqual([0, 1, 2, 3]);
      expect(a.assignment(t).partitions.length).toBeGreaterThan(0);
      expect(a.assignment(t).joins).toBeGreaterThanOrEqual(2);
      expect(a.assignment("another-topic").partitions).toEqual([]);
      if (bound !== undefined)
        expect(a.stats.partitionPauses + b.stats.partitionPauses).toBeGreaterThan(0);
    });
  }
});
