import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Admin, Consumer } from "kafkajs";
import {
  createCatalog,
  createEvent,
  headerNames,
  type Catalog,
  type EventOf,
  type TopicSpec,
} from "@parley/contracts";
import { startStack, waitFor, type Namespace, type Stack } from "@parley/testkit";
import { createKafka, type KafkaClient } from "./connection.js";
import { InvalidEventError } from "./errors.js";
import { ProduceError, RecordTooLargeError } from "./produce-errors.js";
import { createEventProducer, type EncodedEvent, type EventProducer } from "./producer.js";
import { provisionTopics } from "./provision.js";
import { createRegistry } from "./registry.js";
import { createSerde, type Serde } from "./serde.js";

// Issue 32, finding 1: one produce that the broker refused (MESSAGE_TOO_LARGE) left kafkajs's
// idempotent producer with sequence numbers out of step with the broker, and later records were
// refused (OUT_OF_ORDER_SEQUENCE_NUMBER) or acknowledged without being appended. The first test
// fails on the layer before ADR 0007 (6 of the 100 records acknowledged and missing from both
// views); the size tests fail there too (no size check). The outage (broker killed and started
// again, readiness) is e2e/src/produce-outage.e2e.spec.ts.
const BROKER_LIMIT = 64 * 1024;

let stack: Stack;
let ns: Namespace;
let catalog: Catalog;
let kafka: KafkaClient;
let serde: Serde;
let admin: Admin;
const readers: Consumer[] = [];
const producers: EventProducer[] = [];

beforeAll(async () => {
  stack = await startStack();
  ns = stack.namespace("produce-path");
  catalog = createCatalog({ prefix: `${ns.id}.`, partitions: { contact: 3, business: 1, raw: 1 } });
  kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: ns.id });
  serde = createSerde({ registry: createRegistry({ url: stack.schemaRegistryUrl }) });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const p of producers) await p.disconnect().catch(() => undefined);
  for (const r of readers) await r.disconnect();
  await admin.disconnect();
  await stack.stop();
});

/**
 * A copy of the consent topic under another name. With `brokerLimit`, the broker's
 * max.message.bytes is set lower than the code's maxRecordBytes: a record the code lets through
 * is refused by the broker, the failure class of the issue.
 */
async function consentTopic(name: string, brokerLimit?: number): Promise<TopicSpec> {
  const real = catalog.topic("consent");
  const topic: TopicSpec = { ...real, name: `${real.name}.${name}` };
  const config =
    brokerLimit === undefined
      ? topic.config
      : { ...topic.config, "max.message.bytes": String(brokerLimit) };
  await provisionTopics({ kafka, topics: [{ ...topic, config }], serde });
  return topic;
}

async function producer(name: string): Promise<EventProducer> {
  const p = createEventProducer({
    kafka,
    serde,
    name,
    recovery: { attempts: 3, initialDelayMs: 100, maxDelayMs: 500 },
  });
  producers.push(p);
  await p.connect();
  return p;
}

const revoked = (contactId: string, n: number, text = `STOP ${String(n)}`) =>
  createEvent(
    "ConsentRevoked",
    { contactId, scope: "all", channel: "whatsapp", source: "keyword", evidence: { text } },
    { correlationId: `corr-${contactId}-${String(n)}`, now: new Date() },
  );

interface Seen {
  readonly id: string;
  readonly key: string;
  readonly text: string;
}

/** Every record of `topic` in the committed or uncommitted view, read to the end it has now. */
async function readTopic(topic: TopicSpec, readUncommitted: boolean): Promise<Seen[]> {
  const ends = await admin.fetchTopicOffsets(topic.name);
  const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const seen: Seen[] = [];
  const reader = kafka.consumer({
    groupId: ns.group(`read-${String(readers.length)}`),
    readUncommitted,
  });
  readers.push(reader);
  await reader.connect();
  await reader.subscribe({ topic: topic.name, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const event = (await serde.decode(topic, message.value)) as EventOf<"ConsentRevoked">;
      seen.push({
        id: message.headers?.[headerNames.eventId]?.toString() ?? "",
        key: message.key?.toString() ?? "",
        text: event.data.evidence?.text ?? "",
      });
    },
  });
  await waitFor(() => seen.length >= total, {
    timeoutMs: 60_000,
    description: `${String(total)} records of ${topic.name}`,
  });
  await reader.stop();
  return seen;
}

const contacts = Array.from({ length: 9 }, (_, i) => `55119999${String(10_000 + i)}`);
const count = (ids: readonly string[], id: string): number => ids.filter((x) => x === id).length;

describe("a record the broker refuses inside a shared produce request", () => {
  it("loses nothing: the next 100 records of several keys land exactly once, in both views", async () => {
    const topic = await consentTopic("refused", BROKER_LIMIT);
    const p = await producer("refused");

    // One turn of the event loop: twelve small records on every partition and one record that
    // the code lets through and the broker refuses, so they share one produce request.
    const small = contacts.slice(0, 6).flatMap((c) => [revoked(c, 0), revoked(c, 1)]);
    const smallEncoded = await Promise.all(
      small.map((event) => p.encode(topic, { key: event.data.contactId, event })),
    );
    const first = contacts[0] ?? "";
    const big = await p.encode(topic, { key: first, event: revoked(first, 99) });
    const oversize: EncodedEvent = {
      ...big,
      value: Buffer.concat([big.value, Buffer.alloc(200_000, 32)]),
    };
    const outcomes = await Promise.allSettled([
      ...smallEncoded.map((r) => p.publishEncoded(topic, [r])),
      p.publishEncoded(topic, [oversize]),
    ]);
    const refused = outcomes.at(-1);
    expect(refused?.status).toBe("rejected");
    const error = (refused as PromiseRejectedResult).reason as ProduceError;
    expect(error).toBeInstanceOf(ProduceError);
    expect(error).toMatchObject({ retry: "never", kafkaError: "MESSAGE_TOO_LARGE" });
    expect(outcomes.slice(0, -1).every((o) => o.status === "fulfilled")).toBe(true);
    // The shared request failed: its kafkajs producer was retired, and a fresh one (a new
    // producer id) sent the calls again, the refused one alone (which retired that one too).
    expect(p.generation).toBeGreaterThanOrEqual(2);

    // Then 100 records of nine keys, ten at a time (they share requests too).
    const next = Array.from({ length: 100 }, (_, n) => revoked(contacts[n % 9] ?? "", 1_000 + n));
    const failed: string[] = [];
    for (let i = 0; i < next.length; i += 10) {
      const wave = await Promise.allSettled(
        next
          .slice(i, i + 10)
          .map((event) => p.publish(topic, [{ key: event.data.contactId, event }])),
      );
      for (const o of wave) if (o.status === "rejected") failed.push(String(o.reason));
    }
    expect(failed).toEqual([]);

    for (const readUncommitted of [false, true]) {
      const ids = (await readTopic(topic, readUncommitted)).map((s) => s.id);
      const missing = next.filter((e) => !ids.includes(e.eventId)).length;
      const repeated = next.filter((e) => count(ids, e.eventId) > 1).length;
      expect({ readUncommitted, missing, repeated }).toEqual({
        readUncommitted,
        missing: 0,
        repeated: 0,
      });
      // The small records of the shared request are all there (their resend may repeat them).
      for (const e of small) expect(ids).toContain(e.eventId);
      expect(ids).not.toContain(big.event.eventId);
    }
  });
});

describe("the size check before sending", () => {
  it("refuses a record over the topic's limit alone, before the broker sees it", async () => {
    const topic = await consentTopic("sized");
    const p = await producer("sized");
    const first = contacts[0] ?? "";
    const tooBig = revoked(first, 1, "x".repeat(topic.maxRecordBytes));
    await expect(p.encode(topic, { key: first, event: tooBig })).rejects.toThrow(
      RecordTooLargeError,
    );
    const neighbours = contacts.map((c) => revoked(c, 2));
    const outcomes = await Promise.allSettled([
      p.publish(topic, [{ key: first, event: tooBig }]),
      ...neighbours.map((event) => p.publish(topic, [{ key: event.data.contactId, event }])),
    ]);
    const error = (outcomes[0] as PromiseRejectedResult).reason as RecordTooLargeError;
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect(error.retry).toBe("never");
    expect(error.context).toMatchObject({ topic: topic.name, limit: topic.maxRecordBytes });
    expect(error.bytes).toBeGreaterThan(topic.maxRecordBytes);
    expect(outcomes.slice(1).every((o) => o.status === "fulfilled")).toBe(true);
    // Nothing failed on the wire: the first kafkajs producer is still the one in use.
    expect(p.generation).toBe(1);
    const ids = (await readTopic(topic, false)).map((s) => s.id);
    for (const e of neighbours) expect(count(ids, e.eventId)).toBe(1);
  });

  it("counts no less than the broker does: a record of exactly the limit by that count is taken", async () => {
    const topic = await consentTopic("exact", BROKER_LIMIT);
    const p = await producer("exact");
    const first = contacts[1] ?? "";
    // The count of one record, read from the error of a limit nothing meets.
    const bytesOf = (text: string) =>
      p
        .encode({ ...topic, maxRecordBytes: 1 }, { key: first, event: revoked(first, 1, text) })
        .then(
          () => Number.NaN,
          (e: unknown) => (e as RecordTooLargeError).bytes,
        );
    const base = BROKER_LIMIT - 1_000;
    const size = base + BROKER_LIMIT - (await bytesOf("a".repeat(base)));
    expect(await bytesOf("a".repeat(size))).toBe(BROKER_LIMIT);
    const spec: TopicSpec = { ...topic, maxRecordBytes: BROKER_LIMIT };
    await expect(
      p.encode(spec, { key: first, event: revoked(first, 1, "a".repeat(size + 1)) }),
    ).rejects.toThrow(RecordTooLargeError);
    await p.publish(spec, [{ key: first, event: revoked(first, 1, "a".repeat(size)) }]);
    expect(p.generation).toBe(1);
  });
});

describe("property: a mix of valid, oversize and invalid records", () => {
  it("appends every valid record exactly once in per-key order and rejects each bad one alone", async () => {
    const topic = await consentTopic("property");
    const p = await producer("property");
    const keys = contacts.slice(0, 4);
    const item = fc.record({
      kind: fc.constantFrom("valid", "valid", "valid", "oversize", "invalid"),
      key: fc.constantFrom(...keys),
    });
    let run = 0;
    const seen: Seen[] = [];
    let consumed = 0;
    const reader = kafka.consumer({ groupId: ns.group("property-reader") });
    readers.push(reader);
    await reader.connect();
    await reader.subscribe({ topic: topic.name, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const event = (await serde.decode(topic, message.value)) as EventOf<"ConsentRevoked">;
        seen.push({
          id: message.headers?.[headerNames.eventId]?.toString() ?? "",
          key: message.key?.toString() ?? "",
          text: event.data.evidence?.text ?? "",
        });
        consumed++;
      },
    });
    const ends = async () =>
      (await admin.fetchTopicOffsets(topic.name)).reduce((n, x) => n + Number(x.high), 0);

    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 40 }), async (items) => {
        run++;
        const events = items.map((it, i) => {
          const text =
            it.kind === "oversize"
              ? "o".repeat(topic.maxRecordBytes)
              : `run ${String(run)}#${String(i)}`;
          const event = revoked(it.key, i, text);
          return it.kind === "invalid"
            ? { ...event, data: { ...event.data, scope: "nobody" } }
            : event;
        });
        // All in one turn of the event loop: valid and bad records share requests.
        const outcomes = await Promise.allSettled(
          events.map((event, i) => p.publish(topic, [{ key: items[i]?.key ?? "", event }])),
        );
        outcomes.forEach((o, i) => {
          const kind = items[i]?.kind;
          if (kind === "valid") expect(o.status).toBe("fulfilled");
          else {
            expect(o.status).toBe("rejected");
            const reason = (o as PromiseRejectedResult).reason as Error;
            if (kind === "oversize") {
              expect(reason).toBeInstanceOf(RecordTooLargeError);
              expect(reason).toMatchObject({ retry: "never", limit: topic.maxRecordBytes });
            } else {
              expect(reason).toBeInstanceOf(InvalidEventError);
              expect(reason.message).toMatch(/scope/);
            }
          }
        });
        const end = await ends();
        await waitFor(() => consumed >= end, {
          timeoutMs: 30_000,
          description: `the topic read to ${String(end)}`,
        });
        const mine = seen.filter((s) => s.text.startsWith(`run ${String(run)}#`));
        const valid = events.filter((_, i) => items[i]?.kind === "valid");
        expect(mine.map((s) => s.id).sort()).toEqual(valid.map((e) => e.eventId).sort());
        for (const key of keys) {
          expect(mine.filter((s) => s.key === key).map((s) => s.text)).toEqual(
            valid.filter((e) => e.data.contactId === key).map((e) => e.data.evidence?.text),
          );
        }
        // Nothing bad reached the wire, so no producer was renewed.
        expect(p.generation).toBe(1);
      }),
      { numRuns: 15 },
    );
    expect(run).toBe(15);
  });
});
