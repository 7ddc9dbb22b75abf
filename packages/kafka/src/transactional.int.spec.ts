import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import type { Consumer } from "kafkajs";
import { createKafka, type KafkaClient } from "./connection.js";

// Exactly-once inside Kafka across a crash: a worker process is killed after producing a
// batch's outputs and before committing, then restarted. Read-committed consumers must see
// each output exactly once. The worker runs from the built package (make test builds first).
const worker = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "dist",
  "fixtures",
  "transactional-worker.js",
);

let stack: Stack;
let ns: Namespace;
let kafka: KafkaClient;
const consumers: Consumer[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(worker)) throw new Error(`${worker} is missing: build first (pnpm exec tsc -b)`);
  stack = await startStack();
  ns = stack.namespace("tx-crash");
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
});

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const c of consumers) await c.disconnect();
  await stack.stop();
});

function startWorker(env: Record<string, string>): {
  child: ChildProcess;
  exit: Promise<NodeJS.Signals | number | null>;
  output: () => string;
} {
  let output = "";
  const child = spawn(process.execPath, [worker], {
    env: { ...process.env, ...env },
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
  return { child, exit, output: () => output };
}

async function collect(topic: string, readUncommitted: boolean): Promise<string[]> {
  const values: string[] = [];
  const c = kafka.consumer({
    groupId: ns.group(`collect-${String(readUncommitted)}`),
    readUncommitted,
  });
  consumers.push(c);
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

describe("transactional consume-transform-produce", () => {
  it("ends with no lost and no duplicated outputs after a crash between produce and commit", async () => {
    const input = ns.topic("in");
    const output = ns.topic("out");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: input }, { topic: output }].map((t) => ({
        ...t,
        numPartitions: 1,
        replicationFactor: 1,
      })),
      waitForLeaders: true,
    });
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const send = (from: number, to: number) =>
      producer.send({
        topic: input,
        acks: -1,
        messages: Array.from({ length: to - from }, (_, i) => ({
          key: `k${(from + i) % 5}`,
          value: String(from + i),
        })),
      });

    const env = {
      KAFKA_BROKERS: stack.kafkaBrokers.join(","),
      INPUT_TOPIC: input,
      OUTPUT_TOPIC: output,
      GROUP_ID: ns.group("tx"),
      TRANSACTIONAL_ID: ns.transactionalId("tx"),
    };
    const committed = await collect(output, false);
    const everything = await collect(output, true);

    // Wave 1 is processed and committed; wave 2's batch is produced and then the worker dies.
    const first = startWorker({ ...env, CRASH_FROM_OFFSET: "50" });
    await send(0, 50);
    await waitFor(() => committed.length >= 50, {
      timeoutMs: 30_000,
      description: "wave 1 committed",
    });
    await send(50, 100);
    expect(await first.exit).toBe("SIGKILL");
    expect(first.output()).toContain("crashing before commit");

    const second = startWorker(env);
    await waitFor(() => committed.length >= 100, {
      timeoutMs: 60_000,
      description: "all 100 outputs committed after restart",
    });
    await new Promise((r) => setTimeout(r, 1_000));
    second.child.kill("SIGTERM");
    await second.exit;
    await producer.disconnect();

    expect(committed).toHaveLength(100);
    expect(new Set(committed).size).toBe(100);
    expect([...committed].sort()).toEqual(Array.from({ length: 100 }, (_, i) => `out-${i}`).sort());
    // The crashed attempt's outputs did reach the log, in a transaction that was aborted.
    expect(everything.length).toBeGreaterThan(100);
  });
});
