import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import type { Admin } from "kafkajs";
import { createKafka, type KafkaClient } from "./connection.js";
import { createConsumerRunner, type ConsumerRunner } from "./runner.js";

// Static membership (KIP-345) through patches/kafkajs@2.2.4.patch: a member killed with SIGKILL
// and started again with the same group.instance.id takes its partitions back at once, without a
// rebalance (the other member's generation does not move), long before the session timeout;
// a graceful stop of a static member still leaves the group at once. The first test fails
// without the patch's JoinGroup group_instance_id (the restarted member is a new member: the
// group rebalances and waits out the dead member's 30 s session). The member runs from the
// built package (pnpm exec tsc -b first).
const member = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "dist",
  "fixtures",
  "group-member.js",
);
const SESSION_MS = 30_000;

let stack: Stack;
let ns: Namespace;
let kafka: KafkaClient;
let admin: Admin;
const children: ChildProcess[] = [];
const runners: ConsumerRunner[] = [];

beforeAll(async () => {
  if (!existsSync(member)) throw new Error(`${member} is missing: build first (pnpm exec tsc -b)`);
  stack = await startStack();
  ns = stack.namespace("membership");
  kafka = createKafka({
    brokers: stack.kafkaBrokers,
    clientId: ns.id,
    group: { sessionTimeoutMs: SESSION_MS, heartbeatIntervalMs: 3_000 },
  });
  admin = kafka.admin();
  await admin.connect();
});

afterEach(async () => {
  for (const r of runners.splice(0)) await r.stop();
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

afterAll(async () => {
  await admin.disconnect();
  await stack.stop();
});

async function topics(name: string): Promise<{ topic: string; dlq: string }> {
  const topic = ns.topic(name);
  const dlq = ns.topic(`${name}-dlq`);
  await admin.createTopics({
    topics: [topic, dlq].map((t) => ({ topic: t, numPartitions: 4, replicationFactor: 1 })),
    waitForLeaders: true,
  });
  return { topic, dlq };
}

function startMember(env: Record<string, string>) {
  const child = spawn(process.execPath, [member], {
    env: {
      ...process.env,
      KAFKA_BROKERS: stack.kafkaBrokers.join(","),
      SESSION_TIMEOUT_MS: String(SESSION_MS),
      HEARTBEAT_INTERVAL_MS: "3000",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const assignments: number[][] = [];
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
    for (const line of d.toString().split("\n"))
      if (line.startsWith("assigned ")) assignments.push(JSON.parse(line.slice(9)) as number[]);
  });
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<unknown>((resolve) => child.once("exit", resolve));
  return { child, assignments, exited, output: () => output };
}

function inProcess(groupId: string, topic: string, dlq: string, instance?: string): ConsumerRunner {
  const r = createConsumerRunner({
    kafka,
    groupId,
    topics: [topic],
    deadLetterTopic: dlq,
    decode: (record) => record.value?.toString() ?? "",
    handle: () => Promise.resolve(),
    ...(instance === undefined ? {} : { groupInstanceId: instance }),
  });
  runners.push(r);
  return r;
}

const share = (r: ConsumerRunner, topic: string) => r.assignment(topic).partitions.length;

describe("static group membership", () => {
  it("gives a member killed and started again its partitions back at once, without a rebalance", async () => {
    const { topic, dlq } = await topics("static");
    const groupId = ns.group("static");
    const env = { TOPIC: topic, DLQ_TOPIC: dlq, GROUP_ID: groupId, INSTANCE_ID: `${ns.id}-a` };
    const first = startMember(env);
    await waitFor(() => first.assignments.at(-1)?.length === 4, {
      timeoutMs: 60_000,
      description: "member a owns the four partitions",
    });
    const b = inProcess(groupId, topic, dlq, `${ns.id}-b`);
    await b.start();
    await waitFor(() => share(b, topic) === 2 && first.assignments.at(-1)?.length === 2, {
      timeoutMs: 60_000,
      description: "the four partitions split between a and b",
    });
    const aOwned = first.assignments.at(-1) ?? [];
    const bJoins = b.assignment(topic).joins;

    first.child.kill("SIGKILL");
    await first.exited;
    const killedAt = Date.now();
    const second = startMember(env);
    await waitFor(() => (second.assignments.at(-1)?.length ?? 0) > 0, {
      timeoutMs: 60_000,
      description: "member a back with partitions",
    });
    const backAfter = Date.now() - killedAt;
    expect(second.assignments.at(-1)).toEqual(aOwned);
    // No rebalance: b's generation did not move, and a was back long before the session ended.
    expect(b.assignment(topic).joins).toBe(bJoins);
    expect(backAfter).toBeLessThan(SESSION_MS / 3);
    console.log(
      `[membership] static member back with ${JSON.stringify(aOwned)} after ${String(backAfter)} ms`,
    );
  });

  it("still leaves the group at once on a graceful stop, so its partitions move without waiting", async () => {
    const { topic, dlq } = await topics("leave");
    const groupId = ns.group("leave");
    const a = startMember({
      TOPIC: topic,
      DLQ_TOPIC: dlq,
      GROUP_ID: groupId,
      INSTANCE_ID: `${ns.id}-la`,
    });
    const b = inProcess(groupId, topic, dlq, `${ns.id}-lb`);
    await b.start();
    await waitFor(() => share(b, topic) === 2 && a.assignments.at(-1)?.length === 2, {
      timeoutMs: 60_000,
      description: "the four partitions split between a and b",
    });
    a.child.kill("SIGTERM");
    const stoppedAt = Date.now();
    await a.exited;
    await waitFor(() => share(b, topic) === 4, {
      timeoutMs: SESSION_MS / 3,
      description: "b owns the four partitions well within the session timeout",
    });
    console.log(`[membership] partitions moved ${String(Date.now() - stoppedAt)} ms after SIGTERM`);
  });
});
