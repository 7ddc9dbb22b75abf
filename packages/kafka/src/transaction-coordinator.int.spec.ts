import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import type { Admin, Producer } from "kafkajs";
import { createKafka, type KafkaClient } from "./connection.js";

// The kafkajs patch keeps a transactional producer's coordinators (patches/kafkajs@2.2.4.patch,
// eosManager): kafkajs asked Kafka for them before each AddPartitionsToTxn, AddOffsetsToTxn,
// TxnOffsetCommit and EndTxn, four FindCoordinator round trips per transaction (issue 31: the
// sender commits a transaction per partition every few milliseconds). Against the real broker:
// the lookups are made once, every transaction's records and offsets are still committed, and
// a producer fenced by a newer one with the same transactional id still fails as before.

let stack: Stack;
let ns: Namespace;
let kafka: KafkaClient;
let admin: Admin;
const topic = (): string => ns.topic("tx-out");

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("tx-coord");
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: topic(), numPartitions: 1 }],
    waitForLeaders: true,
  });
});

afterAll(async () => {
  await admin.disconnect();
  await stack.stop();
});

/** A transactional producer and the count of its requests by Kafka API. */
async function transactional(
  id: string,
): Promise<{ producer: Producer; apis: Map<string, number> }> {
  const producer = kafka.producer({
    transactionalId: id,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  const apis = new Map<string, number>();
  producer.on(producer.events.REQUEST, (e) => {
    apis.set(e.payload.apiName, (apis.get(e.payload.apiName) ?? 0) + 1);
  });
  await producer.connect();
  return { producer, apis };
}

/** One transaction: `count` records and the group's offset `offset`, committed or aborted. */
async function transaction(
  producer: Producer,
  group: string,
  count: number,
  offset: number,
  outcome: "commit" | "abort",
): Promise<void> {
  const tx = await producer.transaction();
  await tx.send({
    topic: topic(),
    messages: Array.from({ length: count }, (_, i) => ({
      value: `${String(offset)}-${String(i)}`,
    })),
  });
  await tx.sendOffsets({
    consumerGroupId: group,
    topics: [{ topic: topic(), partitions: [{ partition: 0, offset: String(offset) }] }],
  });
  if (outcome === "commit") await tx.commit();
  else await tx.abort();
}

const committedOffset = async (group: string): Promise<string | undefined> =>
  (await admin.fetchOffsets({ groupId: group, topics: [topic()] }))[0]?.partitions[0]?.offset;

/**
 * The group's committed offset once it reads `expected`, else the last one read (10 s): the
 * broker writes a committed transaction's markers after EndTxn answers, so its offsets can read
 * the old value for a moment.
 */
async function committedOffsetOnce(group: string, expected: string): Promise<string | undefined> {
  let last: string | undefined;
  await waitFor(
    async () => {
      last = await committedOffset(group);
      return last === expected;
    },
    { timeoutMs: 10_000, intervalMs: 50, description: `group ${group} at offset ${expected}` },
  ).catch(() => undefined);
  return last;
}

describe("a transactional producer's coordinators (kafkajs patch)", () => {
  it("looks each coordinator up once over any run of commits and aborts, and every commit takes effect", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ count: fc.integer({ min: 1, max: 5 }), commit: fc.boolean() }), {
          minLength: 2,
          maxLength: 12,
        }),
        async (steps) => {
          const group = ns.group(`g-${String(Math.random()).slice(2, 10)}`);
          const { producer, apis } = await transactional(ns.transactionalId(group));
          try {
            const before = apis.get("GroupCoordinator") ?? 0;
            let lastCommitted: number | undefined;
            for (const [i, step] of steps.entries()) {
              await transaction(
                producer,
                group,
                step.count,
                i + 1,
                step.commit ? "commit" : "abort",
              );
              if (step.commit) lastCommitted = i + 1;
            }
            // The transaction coordinator is looked up once (for InitProducerId, at the first
            // transaction) and the group coordinator once; no transaction after that looks up.
            expect((apis.get("GroupCoordinator") ?? 0) - before).toBeLessThanOrEqual(2);
            expect(apis.get("EndTxn")).toBe(steps.length);
            const expected = lastCommitted === undefined ? "-1" : String(lastCommitted);
            expect(await committedOffsetOnce(group, expected)).toBe(expected);
          } finally {
            await producer.disconnect();
          }
        },
      ),
      { numRuns: 4 },
    );
  });

  it("still fails a producer fenced by a newer one with the same id, and the newer one commits", async () => {
    const group = ns.group("fenced");
    const id = ns.transactionalId("fenced");
    const old = await transactional(id);
    try {
      await transaction(old.producer, group, 1, 1, "commit");
      const fresh = await transactional(id);
      try {
        // The newer producer's first transaction bumps the epoch: the old producer keeps its
        // coordinator, not its right to write.
        await transaction(fresh.producer, group, 1, 2, "commit");
        await expect(transaction(old.producer, group, 1, 3, "commit")).rejects.toThrow();
        expect(await committedOffsetOnce(group, "2")).toBe("2");
      } finally {
        await fresh.producer.disconnect();
      }
    } finally {
      await old.producer.disconnect();
    }
  });

  it("commits after all its connections were closed and opened again", async () => {
    const group = ns.group("reconnect");
    const { producer } = await transactional(ns.transactionalId("reconnect"));
    try {
      await transaction(producer, group, 1, 1, "commit");
      // Every connection of the producer goes (as when the broker closes idle ones): the kept
      // coordinator is used only on an open connection, or found again.
      await producer.disconnect();
      await producer.connect();
      await transaction(producer, group, 1, 2, "commit");
      expect(await committedOffsetOnce(group, "2")).toBe("2");
    } finally {
      await producer.disconnect();
    }
  });
});
