import { describe, expect, it } from "vitest";
import { waitFor } from "@parley/testkit";
import { runnerHarness } from "./runner.int-helpers.js";

// The stall `make chaos` showed (docs/reliability.md, "The sender stops consuming `dispatch`"):
// a partition paused for its in-flight bound whose transactional producer is fenced loses its
// runner state; when a rebalance comes before the fence's own take-up (fence-reclaim.ts) and
// gives the partition back to the same member, kafkajs still holds the old pause (it keeps
// pauses by topic and partition across generations) and the partition is never fetched again:
// its lag stays flat with nothing in flight. Against the real broker.
const harness = runnerHarness("fence-rebalance");
const { topic, produce, runner } = harness;

describe("consumer runner: a fenced partition paused for its bound, then a rebalance", () => {
  it("is fetched again when the rebalance gives it back to the same member", async () => {
    const input = await topic("in");
    const output = await topic("out");
    const dlq = await topic("dlq");
    const group = harness.ns.group("fence-rebalance");
    // Records 2..5 wait on a gate: with a bound of 4 in flight the partition pauses at 6.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let release2: () => void = () => undefined;
    const gate2 = new Promise<void>((resolve) => {
      release2 = resolve;
    });
    const handled: number[] = [];
    const member = (instance: string) =>
      runner({
        groupId: group,
        topics: [input],
        deadLetterTopic: dlq,
        // Static members sort by instance id (kafkajs' round robin): "a" keeps the one partition.
        groupInstanceId: `${instance}.${group}`,
        // The fence's own take-up waits a session: the rebalance below comes long before it.
        sessionTimeoutMs: 30_000,
        heartbeatIntervalMs: 1_000,
        maxInFlightPerPartition: 4,
        commitIntervalMs: 100,
        transactional: { transactionTimeoutMs: 20_000 },
        handle: async (record, _signal, context) => {
          const n = Number(record.value);
          if (instance === "a" && n === 2) await gate2;
          else if (instance === "a" && n >= 3 && n <= 5) await gate;
          handled.push(n);
          context.publish({
            topic: output,
            key: record.key,
            value: Buffer.from(`out-${String(n)}`),
          });
        },
      });
    const a = member("a");
    await a.start();
    const records = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => ({
        key: `k${String(from + i)}`,
        value: String(from + i),
      }));
    await produce(input, records(0, 10));
    await waitFor(() => a.stats.partitionPauses >= 1 && handled.length >= 2, {
      timeoutMs: 30_000,
      description: "records 0 and 1 done, the partition paused at its bound",
    });
    await harness.delay(500);
    // A newer owner of the partition's transactional id fences this member's producer; its next
    // transaction (record 2 finished) meets the fence and drops the partition's state.
    const zombie = harness.kafka.producer({
      transactionalId: `${group}.${input}.0`,
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await zombie.connect();
    await (await zombie.transaction()).abort();
    await zombie.disconnect();
    release2();
    await waitFor(() => a.stats.fenced >= 1, { timeoutMs: 30_000, description: "fenced" });
    // A second member joins: a rebalance, and "a" keeps the partition.
    const joinsBefore = a.assignment(input).joins;
    const b = member("z");
    await b.start();
    await waitFor(() => a.assignment(input).joins > joinsBefore, {
      timeoutMs: 30_000,
      description: "the rebalance reached the first member",
    });
    expect(a.assignment(input).partitions).toEqual([0]);
    expect(b.assignment(input).partitions).toEqual([]);
    open();
    await produce(input, records(10, 20));
    const got = await harness.readAll(output, 20);
    const values = new Set(got.map((r) => r.value));
    expect([...values].sort()).toEqual(
      records(0, 20)
        .map((r) => `out-${r.value}`)
        .sort(),
    );
    expect(a.stats.reclaimed).toBe(0);
  }, 90_000);

  it("moves past records it re-receives after a rebalance kept the partition, when they span more than one fetch", async () => {
    // The second stall of the 01:16 full run: a record held by an outage keeps the commit far
    // behind while later records are fetched and done; a rebalance that keeps the partition
    // makes kafkajs fetch again from the commit, and the runner skipped those records without
    // resolving them, so with more than one fetch's worth below its highest record kafkajs
    // fetched the same batch again and again, and nothing new was ever handed in.
    const input = await topic("refetch-in");
    const dlq = await topic("refetch-dlq");
    const group = harness.ns.group("refetch");
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const handled = new Set<number>();
    const member = (instance: string) =>
      runner({
        groupId: group,
        topics: [input],
        deadLetterTopic: dlq,
        groupInstanceId: `${instance}.${group}`,
        sessionTimeoutMs: 30_000,
        heartbeatIntervalMs: 1_000,
        // A few of the records below per fetch.
        maxBytesPerPartition: 1_024,
        handle: async ({ value }) => {
          const n = Number(value);
          if (n === 0) await gate;
          handled.add(n);
        },
      });
    // One produce request per record: a fetch returns whole record batches.
    const produceEach = async (from: number, to: number) => {
      for (let n = from; n < to; n++)
        await produce(input, [{ key: `k${String(n)}`, value: String(n).padEnd(200, " ") }]);
    };
    await produceEach(0, 60);
    const a = member("a");
    await a.start();
    await waitFor(() => handled.size >= 59, {
      timeoutMs: 30_000,
      description: "records 1..59 done while record 0 waits (the commit stays at 0)",
    });
    const joinsBefore = a.assignment(input).joins;
    const b = member("z");
    await b.start();
    await waitFor(() => a.assignment(input).joins > joinsBefore, {
      timeoutMs: 30_000,
      description: "the rebalance reached the first member",
    });
    expect(a.assignment(input).partitions).toEqual([0]);
    expect(b.assignment(input).partitions).toEqual([]);
    open();
    await produceEach(60, 70);
    await waitFor(() => handled.size === 70, {
      timeoutMs: 30_000,
      description: "the 10 records produced after the rebalance handled",
    });
  }, 90_000);
});
