import { afterAll, afterEach, beforeAll } from "vitest";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import type { Admin, Consumer, IHeaders, Producer } from "kafkajs";
import { createKafka, type KafkaClient } from "./connection.js";
import { createConsumerRunner, type ConsumerRunner, type ConsumerRunnerOptions } from "./runner.js";

/**
 * What the consumer runner's integration specs share: a real broker (the test stack), a
 * namespace, raw topics, a plain producer, runners stopped after each test, readers, and the
 * group's committed offsets. Call it once at the top level of a spec file.
 */
export function runnerHarness(name: string) {
  let stack: Stack;
  let ns: Namespace;
  let kafka: KafkaClient;
  let admin: Admin;
  let producer: Producer;
  const running: ConsumerRunner[] = [];
  const readers: Consumer[] = [];

  beforeAll(async () => {
    stack = await startStack();
    ns = stack.namespace(name);
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
      /** The harness's client unless a test wraps it. */
      kafka?: KafkaClient;
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

  return {
    get kafka(): KafkaClient {
      return kafka;
    },
    get producer(): Producer {
      return producer;
    },
    get ns(): Namespace {
      return ns;
    },
    /** Runners started in this test, stopped after it. */
    running,
    topic,
    produce,
    runner,
    readAll,
    committed,
    delay,
  };
}
