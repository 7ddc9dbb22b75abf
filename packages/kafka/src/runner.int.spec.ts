import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import { headerNames } from "@parley/contracts";
import type { Admin, Consumer, IHeaders, Producer } from "kafkajs";
import { createKafka, type KafkaClient } from "./connection.js";
import { ParleyKafkaError, PoisonRecordError } from "./errors.js";
import { redrive } from "./redrive.js";
import { createConsumerRunner, type ConsumerRunner, type ConsumerRunnerOptions } from "./runner.js";

// The consumer runner against a real broker: key-level concurrency, per-key order, commits
// below the oldest unfinished record, retries in place, dead letters and re-drive, shutdown.
let stack: Stack;
let ns: Namespace;
let kafka: KafkaClient;
let admin: Admin;
let producer: Producer;
const running: ConsumerRunner[] = [];
const readers: Consumer[] = [];

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("runner");
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  for (const c of readers.splice(0)) await c.disconnect();
});

afterAll(async () => {
  await producer.disconnect();
  await admin.disconnect();
  await stack.stop();
});

async function topic(name: string, partitions = 1): Promise<string> {
  const t = ns.topic(name);
  await admin.createTopics({
    topics: [{ topic: t, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  return t;
}

async function produce(
  t: string,
  records: { key: string; value: string; headers?: IHeaders }[],
): Promise<void> {
  await producer.send({ topic: t, acks: -1, messages: records });
}

function runner(
  options: Omit<ConsumerRunnerOptions<string>, "kafka" | "decode"> & {
    decode?: ConsumerRunnerOptions<string>["decode"];
  },
): ConsumerRunner {
  const r = createConsumerRunner<string>({
    kafka,
    decode: (rec) => rec.value?.toString() ?? "",
    retry: { attempts: 3, initialDelayMs: 20, maxDelayMs: 50 },
    commitIntervalMs: 50,
    ...options,
  });
  running.push(r);
  return r;
}

async function readAll(t: string, expected: number) {
  const got: { key: string | undefined; value: string | undefined; headers: IHeaders }[] = [];
  const c = kafka.consumer({ groupId: ns.group(`reader-${t}-${readers.length}`) });
  readers.push(c);
  await c.connect();
  await c.subscribe({ topic: t, fromBeginning: true });
  await c.run({
    eachMessage: ({ message }) => {
      got.push({
        key: message.key?.toString(),
        value: message.value?.toString(),
        headers: message.headers ?? {},
      });
      return Promise.resolve();
    },
  });
  await waitFor(() => got.length >= expected, {
    timeoutMs: 30_000,
    description: `${expected} records on ${t}`,
  });
  return got;
}

async function committed(groupId: string, t: string): Promise<Map<number, string>> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [t] });
  return new Map((offsets?.partitions ?? []).map((p) => [p.partition, p.offset]));
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("consumer runner", () => {
  it("keeps per-key order under concurrency, and a slow key does not stall the others", async () => {
    const t = await topic("order", 3);
    const dlq = await topic("order-dlq");
    const keys = Array.from({ length: 20 }, (_, i) => `contact-${i}`);
    const perKey = 30;
    const records = [];
    for (let n = 0; n < perKey; n++)
      for (const key of keys) records.push({ key, value: `${key}#${n}` });
    records.push(...Array.from({ length: 5 }, (_, n) => ({ key: "slow", value: `slow#${n}` })));
    await produce(t, records);

    const seen = new Map<string, number[]>();
    const finishedAt = new Map<string, number>();
    let concurrent = 0;
    let maxConcurrent = 0;
    const r = runner({
      groupId: ns.group("order"),
      topics: [t],
      deadLetterTopic: dlq,
      handle: async ({ key, value }) => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await delay(key === "slow" ? 400 : Math.random() * 3);
        concurrent--;
        const k = key ?? "";
        seen.set(k, [...(seen.get(k) ?? []), Number(value.split("#")[1])]);
        finishedAt.set(k, Date.now());
      },
    });
    await r.start();
    await waitFor(() => [...seen.values()].reduce((n, v) => n + v.length, 0) === records.length, {
      timeoutMs: 30_000,
      description: "every record handled",
    });
    for (const key of keys)
      expect(seen.get(key)).toEqual(Array.from({ length: perKey }, (_, n) => n));
    expect(seen.get("slow")).toEqual([0, 1, 2, 3, 4]);
    expect(maxConcurrent).toBeGreaterThan(1);
    // Every other key, including those sharing the slow key's partition, finished while the slow key was still working.
    const slowDone = finishedAt.get("slow") ?? 0;
    for (const key of keys) expect(finishedAt.get(key) ?? Infinity).toBeLessThan(slowDone - 1_000);
    expect(r.stats.processed).toBe(records.length);
  });

  it("commits a partition only below its oldest unfinished record", async () => {
    const t = await topic("watermark");
    const dlq = await topic("watermark-dlq");
    const group = ns.group("watermark");
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const handled: string[] = [];
    await produce(t, [
      { key: "a", value: "first" },
      ...Array.from({ length: 9 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    ]);
    const r = runner({
      groupId: group,
      topics: [t],
      deadLetterTopic: dlq,
      handle: async ({ value }) => {
        if (value === "first") await gate;
        handled.push(value);
      },
    });
    await r.start();
    await waitFor(() => handled.length === 9, {
      timeoutMs: 20_000,
      description: "the nine fast records",
    });
    await delay(300);
    try {
      // Offset 0 (Kafka's "next to read") is as far as a commit may go while record 0 runs.
      expect((await committed(group, t)).get(0) ?? "0").toBe("0");
    } finally {
      release();
    }
    await waitFor(async () => (await committed(group, t)).get(0) === "10", {
      timeoutMs: 10_000,
      description: "commit of offset 10",
    });
  });

  it("concurrencyKeyOf: inside one record key, a slow sub-key does not block the others, each sub-key keeps order, commits stay below the oldest unfinished record, in-flight stays bounded", async () => {
    const t = await topic("subkeys");
    const dlq = await topic("subkeys-dlq");
    const group = ns.group("subkeys");
    // One record key ("number"), values "recipient#n"; recipient "slow" holds its first record.
    const recipients = Array.from({ length: 8 }, (_, i) => `r${i}`);
    const records = [
      { key: "number", value: "slow#0" },
      { key: "number", value: "slow#1" },
    ];
    for (let n = 0; n < 20; n++)
      for (const r of recipients) records.push({ key: "number", value: `${r}#${n}` });
    await produce(t, records);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const seen = new Map<string, number[]>();
    let inFlightMax = 0;
    const r = runner({
      groupId: group,
      topics: [t],
      deadLetterTopic: dlq,
      maxInFlight: 40,
      concurrencyKeyOf: ({ value }) => value.split("#")[0] ?? "",
      handle: async ({ value }) => {
        inFlightMax = Math.max(inFlightMax, r.stats.inFlight);
        const [sub = "", n = ""] = value.split("#");
        if (value === "slow#0") await gate;
        await delay(Math.random() * 3);
        seen.set(sub, [...(seen.get(sub) ?? []), Number(n)]);
      },
    });
    await r.start();
    await waitFor(() => recipients.every((x) => seen.get(x)?.length === 20), {
      timeoutMs: 30_000,
      description: "every other recipient done while slow#0 waits",
    });
    expect(seen.get("slow")).toBeUndefined();
    for (const x of recipients)
      expect(seen.get(x)).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(inFlightMax).toBeLessThanOrEqual(40);
    await delay(300);
    try {
      expect((await committed(group, t)).get(0) ?? "0").toBe("0");
    } finally {
      release();
    }
    await waitFor(async () => (await committed(group, t)).get(0) === String(records.length), {
      timeoutMs: 10_000,
      description: "commit past every record",
    });
    expect(seen.get("slow")).toEqual([0, 1]);
  });

  it("setAside: records it takes skip the queue of their concurrency key on a side track, in order per concurrency key, retried like handle; pending() counts the main track", async () => {
    const t = await topic("aside");
    const dlq = await topic("aside-dlq");
    const group = ns.group("aside");
    // slow#0 holds the main track of "slow"; with two records of the key in memory, the rest go
    // to the side track (slow's later ones included) instead of waiting.
    const records = [
      { key: "number", value: "slow#0" },
      { key: "number", value: "slow#1" },
    ];
    for (let n = 2; n < 7; n++)
      for (const x of ["slow", "r0", "r1"]) records.push({ key: "number", value: `${x}#${n}` });
    await produce(t, records);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const main: string[] = [];
    const aside: string[] = [];
    const loads: number[] = [];
    let failedOnce = false;
    let decisionFailedOnce = false;
    const r = runner({
      groupId: group,
      topics: [t],
      deadLetterTopic: dlq,
      concurrencyKeyOf: ({ value }) => value.split("#")[0] ?? "",
      setAside: ({ value }, load) => {
        if (value === "r1#2" && !decisionFailedOnce) {
          decisionFailedOnce = true;
          throw new ParleyKafkaError("decision store unavailable", { retry: "bounded" });
        }
        loads.push(load.inFlight);
        if (load.inFlight < 2) return undefined;
        return async ({ value: v }) => {
          await delay(Math.random() * 3);
          if (v === "r0#3" && !failedOnce) {
            failedOnce = true;
            throw new ParleyKafkaError("park store unavailable", { retry: "bounded" });
          }
          aside.push(v);
        };
      },
      handle: async ({ value }) => {
        if (value === "slow#0") await gate;
        main.push(value);
      },
    });
    try {
      await r.start();
      await waitFor(() => aside.length === records.length - 2, {
        timeoutMs: 30_000,
        description: "every record after the second handled on the side track while slow#0 waits",
      });
      expect(main).toEqual([]);
      expect(loads.slice(0, 3)).toEqual([0, 1, 2]);
      const of = (x: string) => aside.filter((v) => v.startsWith(`${x}#`));
      for (const x of ["slow", "r0", "r1"])
        expect(of(x)).toEqual([2, 3, 4, 5, 6].map((n) => `${x}#${n}`));
      expect([failedOnce, decisionFailedOnce]).toEqual([true, true]);
      // slow#0 runs and slow#1 waits behind it on the main track; nothing of r0 is there.
      expect(r.pending(t, 0, "number", "slow")).toBe(2);
      expect(r.pending(t, 0, "number", "r0")).toBe(0);
      expect(r.setAsidePending(t, 0, "number")).toBe(0);
      await delay(300);
      // The side track finished, but the commit stays below the oldest unfinished record.
      expect((await committed(group, t)).get(0) ?? "0").toBe("0");
    } finally {
      release();
    }
    await waitFor(async () => (await committed(group, t)).get(0) === String(records.length), {
      timeoutMs: 10_000,
      description: "commit past every record",
    });
    expect(main).toEqual(["slow#0", "slow#1"]);
    expect(r.pending(t, 0, "number", "slow")).toBe(0);
  });

  it("retries retriable failures in place, then dead-letters with reason and coordinates; the consumer moves on", async () => {
    const t = await topic("poison");
    const dlq = await topic("poison-dlq");
    const group = ns.group("poison");
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    await produce(t, [
      { key: "a", value: "ok-1" },
      { key: "b", value: "poison" },
      { key: "c", value: "flaky" },
      { key: "d", value: "always-retriable" },
      { key: "a", value: "ok-2" },
    ]);
    let fixed = false;
    const r = runner({
      groupId: group,
      topics: [t],
      deadLetterTopic: dlq,
      decode: (rec) => {
        const v = rec.value?.toString() ?? "";
        if (v === "poison" && !fixed) throw new PoisonRecordError("unknown message shape 'poison'");
        return v;
      },
      handle: ({ value, attempt }) => {
        attempts.set(value, attempt);
        if (value === "flaky" && attempt < 2)
          return Promise.reject(new ParleyKafkaError("mongo timed out", { retry: "bounded" }));
        if (value === "always-retriable")
          return Promise.reject(new ParleyKafkaError("graph 503", { retry: "bounded" }));
        handled.push(value);
        return Promise.resolve();
      },
    });
    await r.start();
    const letters = await readAll(dlq, 2);
    await waitFor(() => handled.length === 3, {
      timeoutMs: 10_000,
      description: "ok-1, flaky, ok-2 handled",
    });
    expect(handled.sort()).toEqual(["flaky", "ok-1", "ok-2"]);
    expect(attempts.get("flaky")).toBe(2);

    const poison = letters.find((l) => l.value === "poison");
    const h = headerNames.dlq;
    expect(poison?.key).toBe("b");
    expect(poison?.headers[h.originalTopic]?.toString()).toBe(t);
    expect(poison?.headers[h.originalPartition]?.toString()).toBe("0");
    expect(poison?.headers[h.originalOffset]?.toString()).toBe("1");
    expect(poison?.headers[h.errorClass]?.toString()).toBe("PoisonRecordError");
    expect(poison?.headers[h.errorMessage]?.toString()).toBe("unknown message shape 'poison'");
    expect(poison?.headers[h.attempts]?.toString()).toBe("1");
    const exhausted = letters.find((l) => l.value === "always-retriable");
    expect(exhausted?.headers[h.attempts]?.toString()).toBe("3");
    expect(exhausted?.headers[h.errorMessage]?.toString()).toBe("graph 503");
    await waitFor(async () => (await committed(group, t)).get(0) === "5", {
      timeoutMs: 10_000,
      description: "all five committed",
    });

    // After the fix, re-drive brings the poison record back to its topic and it is handled.
    fixed = true;
    const report = await redrive({
      kafka,
      deadLetterTopic: dlq,
      groupId: ns.group("redrive"),
      filter: ({ errorClass }) => errorClass === "PoisonRecordError",
    });
    expect(report).toEqual({ redriven: 1, skipped: 1, byTopic: { [t]: 1 } });
    await waitFor(() => handled.includes("poison"), {
      timeoutMs: 10_000,
      description: "re-driven poison handled",
    });
    const again = await redrive({ kafka, deadLetterTopic: dlq, groupId: ns.group("redrive") });
    expect(again.redriven).toBe(0);
  });

  it("waits out an outage past the bounded attempts, and dead-letters a programming error at once; neighbours go on", async () => {
    const t = await topic("outage");
    const dlq = await topic("outage-dlq");
    const group = ns.group("outage");
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    await produce(t, [
      { key: "a", value: "store-down" },
      { key: "a", value: "after-outage" },
      { key: "b", value: "bug" },
      { key: "c", value: "neighbour" },
    ]);
    const r = runner({
      groupId: group,
      topics: [t],
      deadLetterTopic: dlq,
      // attempts: 3 in the helper; the outage lasts 8 tries, and outage waits stay short here.
      retry: { attempts: 3, initialDelayMs: 5, maxDelayMs: 20, maxOutageDelayMs: 20 },
      handle: ({ value, attempt }) => {
        attempts.set(value, attempt);
        if (value === "store-down" && attempt <= 8)
          return Promise.reject(new ParleyKafkaError("mongo unreachable", { retry: "outage" }));
        if (value === "bug")
          return Promise.reject(new RangeError("Maximum call stack size exceeded"));
        handled.push(value);
        return Promise.resolve();
      },
    });
    await r.start();
    const [letter] = await readAll(dlq, 1);
    await waitFor(() => handled.length === 3, {
      timeoutMs: 10_000,
      description: "the outage waited out; its key's next record and the neighbour handled",
    });
    // The key's order holds across the outage; the neighbour was not held up by it.
    expect(handled.indexOf("store-down")).toBeLessThan(handled.indexOf("after-outage"));
    expect(attempts.get("store-down")).toBe(9);
    expect(attempts.get("bug")).toBe(1);
    expect(letter?.value).toBe("bug");
    expect(letter?.headers[headerNames.dlq.errorClass]?.toString()).toBe("RangeError");
    expect(letter?.headers[headerNames.dlq.attempts]?.toString()).toBe("1");
    expect(r.stats.deadLettered).toBe(1);
    await waitFor(async () => (await committed(group, t)).get(0) === "4", {
      timeoutMs: 10_000,
      description: "all four committed",
    });
  });

  it("on stop, finishes running handlers, hands back the queue and commits; a restart loses nothing", async () => {
    const t = await topic("drain", 2);
    const dlq = await topic("drain-dlq");
    const group = ns.group("drain");
    const total = 60;
    await produce(
      t,
      Array.from({ length: total }, (_, i) => ({ key: `k${i % 6}`, value: String(i) })),
    );
    const handled = new Set<string>();
    let duplicates = 0;
    const handle = async ({ value }: { value: string }) => {
      await delay(20);
      if (handled.has(value)) duplicates++;
      handled.add(value);
    };
    const first = runner({ groupId: group, topics: [t], deadLetterTopic: dlq, handle });
    await first.start();
    await waitFor(() => handled.size >= 10, {
      timeoutMs: 20_000,
      description: "some records handled",
    });
    expect(first.assignment(t).partitions.length).toBeGreaterThan(0);
    await first.stop();
    expect(first.assignment(t).partitions).toEqual([]);
    running.splice(running.indexOf(first), 1);
    const afterStop = handled.size;
    expect(first.stats.handedBack).toBeGreaterThan(0);
    expect(afterStop).toBeLessThan(total);

    const second = runner({ groupId: group, topics: [t], deadLetterTopic: dlq, handle });
    await second.start();
    await waitFor(() => handled.size === total, {
      timeoutMs: 30_000,
      description: "the rest after restart",
    });
    expect(duplicates).toBe(0);
  });

  it("pauses fetching when too much is in flight and resumes when drained", async () => {
    const t = await topic("backpressure");
    const dlq = await topic("backpressure-dlq");
    await produce(
      t,
      Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
    );
    let maxInFlight = 0;
    let handled = 0;
    const r = runner({
      groupId: ns.group("backpressure"),
      topics: [t],
      deadLetterTopic: dlq,
      maxInFlight: 20,
      handle: async () => {
        maxInFlight = Math.max(maxInFlight, r.stats.inFlight);
        await delay(5);
        handled++;
      },
    });
    await r.start();
    await waitFor(() => handled === 200, { timeoutMs: 30_000, description: "200 handled" });
    expect(r.stats.pauses).toBeGreaterThan(0);
  });
});

describe("consumer runner with a bound per partition", () => {
  it("a partition at its own bound pauses alone: another partition's records flow while its backlog drains, nothing lost, order kept", async () => {
    const t = await topic("partition-bound", 2);
    const dlq = await topic("partition-bound-dlq");
    // A backlog on partition 0 under one key: 400 records, 20 ms each, one at a time (8 s).
    await producer.send({
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
      groupId: ns.group("partition-bound"),
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
    await producer.send({
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
      const group = ns.group(name);
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
