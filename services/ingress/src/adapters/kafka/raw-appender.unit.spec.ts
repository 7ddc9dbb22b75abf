import { describe, expect, it } from "vitest";
import { createCatalog, type TopicSpec } from "@parley/contracts";
import type { EncodedEvent, OutgoingEvent } from "@parley/kafka";
import { UNROUTED_KEY } from "../../webhooks/routing.js";
import { AppendFailedError, type RawWebhookReceipt } from "../../webhooks/appender.js";
import { createRawWebhookAppender, rawWebhookEvent } from "./raw-appender.js";

const catalog = createCatalog();
const raw = catalog.topic("raw-webhooks");
const rawStatuses = catalog.topic("raw-status-webhooks");
const topics = { webhooks: raw, statuses: rawStatuses };
const receipt = (routing: RawWebhookReceipt["routing"]): RawWebhookReceipt => ({
  deliveryId: "d-1",
  body: Buffer.from('{"entry":[]}'),
  signature: "sha256=abc",
  receivedAt: new Date("2026-03-01T10:15:00.000Z"),
  contentType: "application/json",
  sourceIp: "173.252.95.1",
  routing,
});

type Publish = (topic: TopicSpec, records: readonly OutgoingEvent[]) => Promise<void>;

/**
 * A producer lane over a fake `publish`: `encode` checks the record against the topic's real
 * contract like the serde does (the one check on the path) and frames it as plain JSON.
 */
const lane = (publish: Publish) => ({
  encode: (topic: TopicSpec, record: OutgoingEvent): Promise<EncodedEvent> => {
    const parsed = topic.schema.safeParse(record.event);
    if (!parsed.success) return Promise.reject(new Error(`invalid for ${topic.name}`));
    return Promise.resolve({
      topic: topic.name,
      key: record.key,
      value: Buffer.from(JSON.stringify(parsed.data)),
      event: record.event,
    });
  },
  publishEncoded: (topic: TopicSpec, records: readonly EncodedEvent[]) =>
    publish(
      topic,
      records.map((r) => ({ key: r.key, event: r.event })),
    ),
});

describe("rawWebhookEvent", () => {
  it("keeps the bytes, the signature and the receipt metadata, and validates against the topic", () => {
    const event = rawWebhookEvent(
      receipt({ phoneNumberIds: ["p1", "p2"], wabaIds: ["w1"], lane: "webhooks" }),
    );
    expect(event.type).toBe("RawWebhookReceived");
    expect(event.correlationId).toBe("d-1");
    expect(event.businessNumber).toBe("p1");
    expect(event.recordedAt).toBe("2026-03-01T10:15:00.000Z");
    expect(Buffer.from(event.data.bodyBase64, "base64").toString()).toBe('{"entry":[]}');
    expect(event.data).toMatchObject({
      deliveryId: "d-1",
      signature: "sha256=abc",
      sizeBytes: 12,
      contentType: "application/json",
      sourceIp: "173.252.95.1",
      phoneNumberIds: ["p1", "p2"],
      wabaIds: ["w1"],
    });
    expect(event.data.userAgent).toBeUndefined();
    expect(raw.schema.safeParse(event).success).toBe(true);
  });
});

describe("createRawWebhookAppender", () => {
  const capture = () => {
    const sent: { topic: TopicSpec; records: readonly OutgoingEvent[] }[] = [];
    return {
      sent,
      producer: lane((topic, records) => {
        sent.push({ topic, records });
        return Promise.resolve();
      }),
    };
  };

  it("keys by the first business number, else the WABA, else a constant", async () => {
    const { sent, producer } = capture();
    const appender = createRawWebhookAppender({ producer, topics });
    await appender.append(
      receipt({ phoneNumberIds: ["p1", "p2"], wabaIds: ["w1"], lane: "webhooks" }),
    );
    await appender.append(receipt({ phoneNumberIds: [], wabaIds: ["w1"], lane: "webhooks" }));
    await appender.append(receipt({ phoneNumberIds: [], wabaIds: [], lane: "webhooks" }));
    expect(sent.map((s) => s.records[0]?.key)).toEqual(["p1", "w1", UNROUTED_KEY]);
    expect(sent.every((s) => s.topic === raw && s.records.length === 1)).toBe(true);
  });

  it("appends each receipt to its lane's topic, both lanes in one turn, and all to raw-webhooks with the lane off", async () => {
    const { sent, producer } = capture();
    const appender = createRawWebhookAppender({ producer, topics });
    const both = [
      receipt({ phoneNumberIds: ["p1"], wabaIds: [], lane: "statuses" }),
      receipt({ phoneNumberIds: ["p1"], wabaIds: [], lane: "webhooks" }),
      receipt({ phoneNumberIds: ["p2"], wabaIds: [], lane: "statuses" }),
    ];
    await Promise.all(both.map((r) => appender.append(r)));
    const byTopic = new Map(sent.map((s) => [s.topic.id, s.records]));
    expect(byTopic.get("raw-status-webhooks")?.map((r) => [r.key, r.event.type])).toEqual([
      ["p1", "RawStatusWebhookReceived"],
      ["p2", "RawStatusWebhookReceived"],
    ]);
    expect(byTopic.get("raw-webhooks")?.map((r) => [r.key, r.event.type])).toEqual([
      ["p1", "RawWebhookReceived"],
    ]);
    for (const s of sent) {
      for (const r of s.records) expect(s.topic.schema.safeParse(r.event).success).toBe(true);
    }

    const off = capture();
    const single = createRawWebhookAppender({ producer: off.producer, topics, statusLane: false });
    await single.append(receipt({ phoneNumberIds: ["p1"], wabaIds: [], lane: "statuses" }));
    expect(off.sent.map((s) => [s.topic.id, s.records[0]?.event.type])).toEqual([
      ["raw-webhooks", "RawWebhookReceived"],
    ]);
  });

  it("fails only the lane whose produce the broker refused", async () => {
    const appender = createRawWebhookAppender({
      producer: lane((topic) =>
        topic.id === "raw-status-webhooks"
          ? Promise.reject(new Error("UNKNOWN_TOPIC_OR_PARTITION"))
          : Promise.resolve(),
      ),
      topics,
    });
    const [receiptLane, main] = await Promise.allSettled([
      appender.append(receipt({ phoneNumberIds: ["p1"], wabaIds: [], lane: "statuses" })),
      appender.append(receipt({ phoneNumberIds: ["p1"], wabaIds: [], lane: "webhooks" })),
    ]);
    expect(receiptLane).toMatchObject({ status: "rejected", reason: { reason: "rejected" } });
    expect(main.status).toBe("fulfilled");
  });

  it("turns a refusal into a retriable AppendFailedError", async () => {
    const appender = createRawWebhookAppender({
      producer: lane(() => Promise.reject(new Error("NOT_ENOUGH_REPLICAS"))),
      topics,
    });
    const error: unknown = await appender
      .append(receipt({ phoneNumberIds: [], wabaIds: [], lane: "webhooks" }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppendFailedError);
    expect(error).toMatchObject({ reason: "rejected", retriable: true });
  });

  it("times out an append that is never acknowledged, and swallows its late failure", async () => {
    let fail: (e: Error) => void = () => undefined;
    const appender = createRawWebhookAppender({
      producer: lane(
        () =>
          new Promise<void>((_, reject) => {
            fail = reject;
          }),
      ),
      topics,
      timeoutMs: 20,
    });
    await expect(
      appender.append(receipt({ phoneNumberIds: [], wabaIds: [], lane: "webhooks" })),
    ).rejects.toMatchObject({
      reason: "timeout",
    });
    fail(new Error("late"));
    await new Promise((r) => setTimeout(r, 10));
  });

  it("refuses a topic that does not carry raw webhooks, and a bad timeout", () => {
    const { producer } = capture();
    expect(() =>
      createRawWebhookAppender({
        producer,
        topics: { webhooks: catalog.topic("statuses"), statuses: rawStatuses },
      }),
    ).toThrow(/raw-webhooks/);
    expect(() => createRawWebhookAppender({ producer, topics, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});

describe("group commit", () => {
  const gated = () => {
    const calls: (readonly OutgoingEvent[])[] = [];
    const gates: { open: () => void; fail: (e: Error) => void }[] = [];
    return {
      calls,
      gates,
      producer: lane((_topic, records) => {
        calls.push(records);
        return new Promise<void>((resolve, reject) => {
          gates.push({ open: resolve, fail: reject });
        });
      }),
    };
  };
  const tick = () => new Promise((r) => setImmediate(r));
  const small = (i: number) =>
    receipt({ phoneNumberIds: [`p${i}`], wabaIds: [], lane: "webhooks" });

  it("sends the receipts of one turn together, and those arriving meanwhile in the next request", async () => {
    const { calls, gates, producer } = gated();
    const appender = createRawWebhookAppender({ producer, topics });
    const first = [1, 2, 3].map((i) => appender.append(small(i)));
    await tick();
    expect(calls.map((c) => c.length)).toEqual([3]);
    const second = [4, 5].map((i) => appender.append(small(i)));
    await tick();
    expect(calls).toHaveLength(1); // one request in flight at a time
    gates[0]?.open();
    await Promise.all(first);
    await tick();
    expect(calls.map((c) => c.map((r) => r.key))).toEqual([
      ["p1", "p2", "p3"],
      ["p4", "p5"],
    ]);
    gates[1]?.open();
    await Promise.all(second);
  });

  it("bounds a request by records and bytes; a large record goes alone", async () => {
    const { calls, gates, producer } = gated();
    const appender = createRawWebhookAppender({
      producer,
      topics,
      maxBatchRecords: 2,
      maxBatchBytes: 4_000,
    });
    const big = { ...small(9), body: Buffer.alloc(6_000, 1) };
    const all = [appender.append(small(1)), appender.append(big), appender.append(small(2))];
    all.push(appender.append(small(3)), appender.append(small(4)));
    for (let i = 0; i < 4; i++) {
      await tick();
      gates[i]?.open();
      await tick();
    }
    await Promise.all(all);
    expect(calls.map((c) => c.map((r) => r.key))).toEqual([["p1"], ["p9"], ["p2", "p3"], ["p4"]]);
  });

  it("fails every receipt of a refused request", async () => {
    const { gates, producer } = gated();
    const appender = createRawWebhookAppender({ producer, topics });
    const all = [1, 2].map((i) => appender.append(small(i)).catch((e: unknown) => e));
    await tick();
    gates[0]?.fail(new Error("MESSAGE_TOO_LARGE"));
    const errors = await Promise.all(all);
    expect(errors).toEqual([expect.any(AppendFailedError), expect.any(AppendFailedError)]);
    expect(errors[0]).toMatchObject({ reason: "rejected" });
  });

  it("checks each receipt against the contract on its own: a bad one fails alone", async () => {
    const { calls, gates, producer } = gated();
    const appender = createRawWebhookAppender({ producer, topics });
    const bad = { ...small(2), deliveryId: "" };
    const all = [small(1), bad, small(3)].map((r) =>
      appender.append(r).then(
        () => "ok",
        (e: unknown) => e,
      ),
    );
    await tick();
    await tick();
    gates[0]?.open();
    const outcomes = await Promise.all(all);
    expect(outcomes[0]).toBe("ok");
    expect(outcomes[1]).toMatchObject({ reason: "rejected" });
    expect(outcomes[2]).toBe("ok");
    expect(calls.map((c) => c.map((r) => r.key))).toEqual([["p1", "p3"]]);
  });

  it("withdraws a receipt that timed out while waiting, so it is never sent after its 503", async () => {
    const { calls, gates, producer } = gated();
    const appender = createRawWebhookAppender({ producer, topics, timeoutMs: 30 });
    const first = appender.append(small(1)).catch((e: unknown) => e);
    await tick();
    const waitingOne = appender.append(small(2)).catch((e: unknown) => e);
    expect(await first).toMatchObject({ reason: "timeout" });
    expect(await waitingOne).toMatchObject({ reason: "timeout" });
    gates[0]?.open();
    await tick();
    await tick();
    expect(calls.map((c) => c.map((r) => r.key))).toEqual([["p1"]]);
  });
});

describe("several producers", () => {
  const tick = () => new Promise((r) => setImmediate(r));
  const small = (i: number) =>
    receipt({ phoneNumberIds: [`p${String(i)}`], wabaIds: [], lane: "webhooks" });

  it("keeps one request in flight per producer; each receipt waits for its own request only", async () => {
    const requests: { lane: string; keys: string[]; open: () => void }[] = [];
    const named = (name: string) =>
      lane(
        (_topic, records) =>
          new Promise<void>((open) => {
            requests.push({ lane: name, keys: records.map((r) => r.key), open });
          }),
      );
    const appender = createRawWebhookAppender({
      producer: [named("a"), named("b")],
      topics,
      lingerMs: 0,
    });
    const settled: string[] = [];
    const track = (i: number) =>
      appender.append(small(i)).then(() => settled.push(`p${String(i)}`));
    const first = track(1);
    await tick();
    const second = [track(2), track(3)];
    await tick();
    const third = [track(4), track(5)];
    await tick();
    // Both lanes busy: 4 and 5 wait, then go together in the lane that frees first.
    expect(requests.map((r) => r.keys)).toEqual([["p1"], ["p2", "p3"]]);
    expect(new Set(requests.map((r) => r.lane)).size).toBe(2);
    requests[1]?.open();
    await Promise.all(second);
    expect(settled).toEqual(["p2", "p3"]);
    await tick();
    expect(requests[2]).toMatchObject({ lane: requests[1]?.lane, keys: ["p4", "p5"] });
    requests[0]?.open();
    await first;
    requests[2]?.open();
    await Promise.all(third);
    expect(settled).toEqual(["p2", "p3", "p1", "p4", "p5"]);
  });

  it("with a request in flight, lets new receipts linger for it before using another producer", async () => {
    const requests: { lane: string; keys: string[]; open: () => void }[] = [];
    const named = (name: string) =>
      lane(
        (_topic, records) =>
          new Promise<void>((open) => {
            requests.push({ lane: name, keys: records.map((r) => r.key), open });
          }),
      );
    const appender = createRawWebhookAppender({
      producer: [named("a"), named("b")],
      topics,
      lingerMs: 30,
    });
    const first = appender.append(small(1));
    await tick();
    // Nothing in flight: the first goes at once.
    expect(requests.map((r) => r.keys)).toEqual([["p1"]]);
    const second = [appender.append(small(2)), appender.append(small(3))];
    await tick();
    expect(requests).toHaveLength(1);
    // The busy lane comes back within the linger: 2 and 3 go together on it.
    requests[0]?.open();
    await first;
    await tick();
    expect(requests.map((r) => r.keys)).toEqual([["p1"], ["p2", "p3"]]);
    expect(requests[1]?.lane).toBe(requests[0]?.lane);
    // It does not come back: after the linger, the other lane takes the next one.
    const third = appender.append(small(4));
    await tick();
    expect(requests).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 60));
    expect(requests.map((r) => r.keys)).toEqual([["p1"], ["p2", "p3"], ["p4"]]);
    expect(requests[2]?.lane).not.toBe(requests[1]?.lane);
    requests[1]?.open();
    requests[2]?.open();
    await Promise.all([...second, third]);
  });

  it("refuses a negative linger", () => {
    expect(() =>
      createRawWebhookAppender({
        producer: [lane(() => Promise.resolve())],
        topics,
        lingerMs: -1,
      }),
    ).toThrow(/lingerMs/);
  });

  it("refuses an empty producer list", () => {
    expect(() => createRawWebhookAppender({ producer: [], topics })).toThrow(/producer/);
  });
});
