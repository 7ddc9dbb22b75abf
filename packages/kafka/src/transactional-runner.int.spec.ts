import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import { ConfigResourceTypes, type Admin, type Consumer, type Producer } from "kafkajs";
import { createKafka, type KafkaClient } from "./connection.js";
import { PoisonRecordError } from "./errors.js";
import { createConsumerRunner, type CommittedOutputs, type ConsumerRunner } from "./runner.js";

// The consumer runner's transactional mode (issue 30, item 2) against the real broker: a process
// killed with SIGKILL between publishing its outputs and committing them, a record still in
// progress at a crash while later ones had finished (they are skipped by the next owner), and a
// stalled owner that comes back after its partition moved on (fenced), and a partition fenced
// by a transaction past its timeout with no rebalance (taken up again). A read-committed
// consumer must see each output exactly once. The crashing and stalling runners are processes
// (dist/fixtures/transactional-runner.js: pnpm exec tsc -b first).
const worker = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "dist",
  "fixtures",
  "transactional-runner.js",
);

let stack: Stack;
let ns: Namespace;
let kafka: KafkaClient;
let admin: Admin;
let producer: Producer;
const readers: Consumer[] = [];
const children: ChildProcess[] = [];
const runners: ConsumerRunner[] = [];

beforeAll(async () => {
  if (!existsSync(worker)) throw new Error(`${worker} is missing: build first (pnpm exec tsc -b)`);
  stack = await startStack();
  ns = stack.namespace("tx-runner");
  kafka = createKafka({
    brokers: stack.kafkaBrokers,
    clientId: ns.id,
    group: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 2_000 },
  });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop();
  for (const c of children.splice(0)) c.kill("SIGKILL");
  for (const c of readers.splice(0)) await c.disconnect();
});

afterAll(async () => {
  await producer.disconnect();
  await admin.disconnect();
  await stack.stop();
});

interface Topics {
  readonly input: string;
  readonly output: string;
  readonly dlq: string;
  readonly group: string;
}

async function topics(name: string, partitions = 1): Promise<Topics> {
  const t: Topics = {
    input: ns.topic(`${name}-in`),
    output: ns.topic(`${name}-out`),
    dlq: ns.topic(`${name}-dlq`),
    group: ns.group(name),
  };
  await admin.createTopics({
    topics: [t.input, t.output, t.dlq].map((topic) => ({
      topic,
      numPartitions: partitions,
      replicationFactor: 1,
    })),
    waitForLeaders: true,
  });
  return t;
}

const send = (t: Topics, from: number, to: number, key: (n: number) => string) =>
  producer.send({
    topic: t.input,
    acks: -1,
    messages: Array.from({ length: to - from }, (_, i) => ({
      key: key(from + i),
      value: String(from + i),
    })),
  });

function startWorker(t: Topics, env: Record<string, string> = {}) {
  let output = "";
  const child = spawn(process.execPath, [worker], {
    env: {
      ...process.env,
      KAFKA_BROKERS: stack.kafkaBrokers.join(","),
      INPUT_TOPIC: t.input,
      OUTPUT_TOPIC: t.output,
      DLQ_TOPIC: t.dlq,
      GROUP_ID: t.group,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  children.push(child);
  const exit = new Promise<NodeJS.Signals | number | null>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve(signal ?? code);
    });
  });
  const lines = (prefix: string) =>
    output
      .split("\n")
      .filter((l) => l.startsWith(prefix))
      .map((l) => l.slice(prefix.length));
  return { child, exit, output: () => output, lines };
}

/** Every output value on `topic`, in the committed or the uncommitted view, as they arrive. */
async function collect(topic: string, readUncommitted: boolean): Promise<string[]> {
  const values: string[] = [];
  const c = kafka.consumer({
    groupId: ns.group(`read-${String(readers.length)}`),
    readUncommitted,
  });
  readers.push(c);
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    eachMessage: ({ message }) => {
      values.push(message.value?.toString() ?? "");
      return Promise.resolve();
    },
  });
  return values;
}

/** An in-process runner in transactional mode doing what the worker does, recording what it handles. */
function takeOver(
  t: Topics,
  extra: {
    afterCommit?: (c: CommittedOutputs) => void;
    beforeCommit?: (c: CommittedOutputs) => Promise<void>;
    transactionTimeoutMs?: number;
    maxInFlightPerPartition?: number;
    plain?: boolean;
  } = {},
) {
  const handled: number[] = [];
  const runner = createConsumerRunner<string>({
    kafka,
    groupId: t.group,
    topics: [t.input],
    deadLetterTopic: t.dlq,
    decode: (record) => record.value?.toString() ?? "",
    commitIntervalMs: 100,
    ...(extra.maxInFlightPerPartition === undefined
      ? {}
      : { maxInFlightPerPartition: extra.maxInFlightPerPartition }),
    handle: (record, _signal, context) => {
      handled.push(Number(record.offset));
      context.publish({
        topic: t.output,
        key: record.key,
        value: Buffer.from(`out-${record.value}`),
      });
      return Promise.resolve();
    },
    ...(extra.plain === true
      ? {}
      : {
          transactional: {
            transactionTimeoutMs: extra.transactionTimeoutMs ?? 20_000,
            ...(extra.afterCommit === undefined ? {} : { afterCommit: extra.afterCommit }),
            ...(extra.beforeCommit === undefined ? {} : { beforeCommit: extra.beforeCommit }),
          },
        }),
  });
  runners.push(runner);
  return { runner, handled };
}

const expected = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `out-${String(from + i)}`).sort();
const settle = () => new Promise((r) => setTimeout(r, 1_500));

/** How often the broker aborts transactions past their timeout (10 s unless configured). */
async function abortTickMs(): Promise<number> {
  const name = "transaction.abort.timed.out.transaction.cleanup.interval.ms";
  const { brokers } = await admin.describeCluster();
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [
      {
        type: ConfigResourceTypes.BROKER,
        name: String(brokers[0]?.nodeId ?? 1),
        configNames: [name],
      },
    ],
  });
  const value = resources[0]?.configEntries.find((e) => e.configName === name)?.configValue;
  return value === undefined ? 10_000 : Number(value);
}

describe("transactional mode of the consumer runner", () => {
  it("shows each output once to read-committed consumers across a SIGKILL between publishing and committing", async () => {
    const t = await topics("crash");
    const committed = await collect(t.output, false);
    const everything = await collect(t.output, true);
    const first = startWorker(t, { CRASH_FROM_OFFSET: "50" });
    await send(t, 0, 50, (n) => `k${String(n % 5)}`);
    await waitFor(() => committed.length >= 50, {
      timeoutMs: 60_000,
      description: "the first 50 outputs committed",
    });
    await send(t, 50, 100, (n) => `k${String(n % 5)}`);
    expect(await first.exit).toBe("SIGKILL");
    expect(first.output()).toContain("crashing before the commit");
    // The killed process had written outputs of an open transaction the broker holds back.
    await waitFor(() => everything.length > 50, {
      timeoutMs: 30_000,
      description: "the crashed transaction's outputs in the log",
    });

    const { runner } = takeOver(t);
    await runner.start();
    await waitFor(() => committed.length >= 100, {
      timeoutMs: 90_000,
      description: "all 100 outputs committed after the take-over",
    });
    await settle();
    expect([...committed].sort()).toEqual(expected(0, 100));
    expect(everything.length).toBeGreaterThan(100);
  });

  it("skips after a crash the records that had finished above one still in progress", async () => {
    const t = await topics("skip");
    const committed = await collect(t.output, false);
    // Offset 0 never finishes in the first process; 1 to 39 (other keys) finish and commit, the
    // committed offset staying at 0 with 1-39 in the commit's metadata.
    const first = startWorker(t, { HANG_KEY: "slow" });
    await send(t, 0, 40, (n) => (n === 0 ? "slow" : `k${String(n % 5)}`));
    await waitFor(() => committed.length >= 39, {
      timeoutMs: 60_000,
      description: "the outputs of 1 to 39 committed",
    });
    const commits = first.lines("committed ").map((l) => JSON.parse(l) as CommittedOutputs);
    expect(commits.every((c) => c.committedOffset === "0")).toBe(true);
    first.child.kill("SIGKILL");
    await first.exit;

    const { runner, handled } = takeOver(t);
    await runner.start();
    await send(t, 40, 50, (n) => `k${String(n % 5)}`);
    await waitFor(() => committed.length >= 50, {
      timeoutMs: 90_000,
      description: "all 50 outputs committed",
    });
    await settle();
    expect([...committed].sort()).toEqual(expected(0, 50));
    // The new owner ran only what the first had not finished.
    expect([...handled].sort((a, b) => a - b)).toEqual([
      0,
      ...Array.from({ length: 10 }, (_, i) => 40 + i),
    ]);
    expect(runner.stats.skipped).toBe(39);
  });

  it("fences an owner that stalled past its session: its late commit fails and its work is dropped", async () => {
    const t = await topics("zombie");
    const committed = await collect(t.output, false);
    const zombie = startWorker(t, { FREEZE_FROM_OFFSET: "20", FREEZE_MS: "15000" });
    await waitFor(() => zombie.output().includes("started"), {
      timeoutMs: 60_000,
      description: "the first owner started",
    });
    await send(t, 0, 20, (n) => `k${String(n % 5)}`);
    await waitFor(() => committed.length >= 20, {
      timeoutMs: 60_000,
      description: "the first 20 outputs committed",
    });
    // The second member joins while the first owns the partition; the first freezes with a
    // transaction open, the group evicts it, and the second takes the partition over.
    const { runner, handled } = takeOver(t);
    await runner.start();
    await send(t, 20, 40, (n) => `k${String(n % 5)}`);
    await waitFor(() => zombie.output().includes("freezing"), {
      timeoutMs: 60_000,
      description: "the first owner stalled before a commit",
    });
    await waitFor(() => committed.length >= 40, {
      timeoutMs: 90_000,
      description: "all 40 outputs committed by the new owner",
    });
    await waitFor(() => zombie.output().includes("fenced 1"), {
      timeoutMs: 60_000,
      description: "the stalled owner fenced when it woke",
    });
    await settle();
    expect([...committed].sort()).toEqual(expected(0, 40));
    expect(handled.some((o) => o >= 20)).toBe(true);
  });

  it("commits outputs tied to no record with an owned partition's next transaction, and reports commits", async () => {
    const t = await topics("untied", 2);
    const committed = await collect(t.output, false);
    const reports: CommittedOutputs[] = [];
    const { runner } = takeOver(t, { afterCommit: (c) => reports.push(c) });
    await runner.start();
    await waitFor(() => runner.assignment(t.input).partitions.length === 2, {
      timeoutMs: 60_000,
      description: "the runner owns both partitions",
    });
    await runner.publishWith(t.input, 1, [
      { topic: t.output, key: "timer", value: Buffer.from("out-timer") },
    ]);
    expect(
      reports.some((r) => r.partition === 1 && r.outputs === 1 && r.offsets.length === 0),
    ).toBe(true);
    await expect(
      runner.publishWith(t.input, 7, [{ topic: t.output, key: "x", value: Buffer.from("x") }]),
    ).rejects.toMatchObject({ retry: "bounded" });
    await send(t, 0, 10, (n) => `k${String(n)}`);
    await waitFor(() => committed.length >= 11, {
      timeoutMs: 60_000,
      description: "the timer's output and 10 records' outputs",
    });
    await settle();
    expect([...committed].sort()).toEqual([...expected(0, 10), "out-timer"].sort());
    const reported = reports.flatMap((r) => r.offsets.map((o) => `${String(r.partition)}:${o}`));
    expect(new Set(reported).size).toBe(10);
  });

  it("commits a dead letter with its record's offset, once, and the outputs of the others", async () => {
    const t = await topics("letters");
    const committed = await collect(t.output, false);
    const letters = await collect(t.dlq, false);
    const runner = createConsumerRunner<string>({
      kafka,
      groupId: t.group,
      topics: [t.input],
      deadLetterTopic: t.dlq,
      decode: (record) => record.value?.toString() ?? "",
      commitIntervalMs: 100,
      handle: (record, _signal, context) => {
        if (record.value === "3") throw new PoisonRecordError("3 is poison");
        context.publish({
          topic: t.output,
          key: record.key,
          value: Buffer.from(`out-${record.value}`),
        });
        return Promise.resolve();
      },
      transactional: {},
    });
    runners.push(runner);
    await runner.start();
    await send(t, 0, 6, (n) => `k${String(n)}`);
    await waitFor(() => committed.length >= 5 && letters.length >= 1, {
      timeoutMs: 60_000,
      description: "five outputs and one dead letter committed",
    });
    await settle();
    expect([...committed].sort()).toEqual(["out-0", "out-1", "out-2", "out-4", "out-5"]);
    expect(letters).toEqual(["3"]);
    expect(runner.stats.deadLettered).toBe(1);
  });

  it("holds the outputs of finished records that do not fit the offset metadata until they fit", async () => {
    const t = await topics("held");
    const committed = await collect(t.output, false);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let finished = 0;
    const runner = createConsumerRunner<string>({
      kafka,
      groupId: t.group,
      topics: [t.input],
      deadLetterTopic: t.dlq,
      decode: (record) => record.value?.toString() ?? "",
      commitIntervalMs: 100,
      handle: async (record, _signal, context) => {
        if (record.key === "slow") await gate;
        context.publish({
          topic: t.output,
          key: record.key,
          value: Buffer.from(`out-${record.value}`),
        });
        finished++;
      },
      // Room for the transaction's tag and nothing more: no finished record above the first
      // unfinished one can be listed, so their outputs must wait for it.
      transactional: { maxMetadataBytes: 26 },
    });
    runners.push(runner);
    await runner.start();
    await send(t, 0, 40, (n) => (n === 0 ? "slow" : `k${String(n % 5)}`));
    await waitFor(() => finished >= 39, {
      timeoutMs: 60_000,
      description: "records 1 to 39 finished",
    });
    await settle();
    expect(committed).toEqual([]);
    release();
    await waitFor(() => committed.length >= 40, {
      timeoutMs: 60_000,
      description: "all 40 outputs committed once offset 0 finished",
    });
    await settle();
    expect([...committed].sort()).toEqual(expected(0, 40));
  });
});

describe("input written by transactional producers", () => {
  /** Records in transactions of their own, the last one aborted: the log ends in markers. */
  async function writeInTransactions(t: Topics, count: number): Promise<void> {
    const tx = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: `${t.group}-writer`,
    });
    await tx.connect();
    try {
      for (let n = 0; n < count; n++) {
        const open = await tx.transaction();
        await open.send({ topic: t.input, acks: -1, messages: [{ key: "k", value: String(n) }] });
        await open.commit();
      }
      const aborted = await tx.transaction();
      await aborted.send({ topic: t.input, acks: -1, messages: [{ key: "k", value: "aborted" }] });
      await aborted.abort();
    } finally {
      await tx.disconnect();
    }
  }

  async function committedOffset(t: Topics): Promise<string | undefined> {
    const [found] = await admin.fetchOffsets({ groupId: t.group, topics: [t.input] });
    return found?.partitions.find((p) => p.partition === 0)?.offset;
  }

  for (const mode of ["plain", "transactional"] as const) {
    it(`commits past the trailing commit and abort markers, to the log's end (${mode} mode)`, async () => {
      const t = await topics(`markers-${mode}`);
      await writeInTransactions(t, 5);
      // 5 records with a commit marker each, the aborted record and its abort marker (the
      // coordinator writes the last marker after abort() returns).
      const end = { high: "12" };
      await waitFor(async () => (await admin.fetchTopicOffsets(t.input))[0]?.high === end.high, {
        timeoutMs: 30_000,
        description: "the abort marker in the log",
      });
      const { runner, handled } = takeOver(t, { plain: mode === "plain" });
      await runner.start();
      // Lag 0 means the committed offset is the high watermark, markers included.
      await waitFor(async () => (await committedOffset(t)) === end.high, {
        timeoutMs: 60_000,
        description: `the committed offset at the log's end (${end.high})`,
      });
      // Each record sits before its commit marker; the aborted one is never handed in.
      expect(handled).toEqual([0, 2, 4, 6, 8]);
    });
  }
  it("takes a partition up again when a stalled commit outlived its transaction and no rebalance came (fenced while paused for its bound)", async () => {
    const t = await topics("stall-fence");
    const committed = await collect(t.output, false);
    let stalls = 0;
    // The broker aborts a transaction past its timeout on its cleanup tick (10 s by default,
    // 2 s in infra/native's broker): the first commit stalls past one tick and the timeout.
    const stallMs = (await abortTickMs()) + 3_000;
    const { runner } = takeOver(t, {
      transactionTimeoutMs: 1_000,
      maxInFlightPerPartition: 4,
      beforeCommit: async () => {
        if (stalls++ === 0) await new Promise((r) => setTimeout(r, stallMs));
      },
    });
    await runner.start();
    await send(t, 0, 40, (n) => `k${String(n % 5)}`);
    await waitFor(() => runner.stats.fenced >= 1, {
      timeoutMs: 60_000,
      description: "the stalled transaction aborted by the broker, its producer fenced",
    });
    await send(t, 40, 60, (n) => `k${String(n % 5)}`);
    await waitFor(() => new Set(committed).size >= 60, {
      timeoutMs: 90_000,
      description: "all 60 outputs committed after the partition was taken up again",
    });
    await settle();
    expect(runner.stats.reclaimed).toBeGreaterThanOrEqual(1);
    expect([...committed].sort()).toEqual(expected(0, 60));
  });
});
