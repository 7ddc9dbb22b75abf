import type { Message, TopicMessages } from "kafkajs";
import { describe, expect, it } from "vitest";
import { ParleyKafkaError } from "./errors.js";
import { createProduceBatcher } from "./produce-batcher.js";
import { recordBytes, singleRecordBatchBytes } from "./record-size.js";

interface Request {
  readonly topics: { topic: string; values: string[] }[];
  readonly answer: (error?: Error) => void;
}

/** A broker stand-in that holds each request until the test answers it. */
function heldBroker() {
  const requests: Request[] = [];
  let open = 0;
  let mostOpen = 0;
  const sendBatch = (topicMessages: TopicMessages[]): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      open++;
      mostOpen = Math.max(mostOpen, open);
      requests.push({
        topics: topicMessages.map((t) => ({
          topic: t.topic,
          values: t.messages.map((m) => String(m.value)),
        })),
        answer: (error) => {
          open--;
          if (error === undefined) resolve();
          else reject(error);
        },
      });
    });
  return { requests, sendBatch, mostOpen: () => mostOpen };
}

const msg = (value: string): Message => ({ key: "k", value });
// A few turns of the event loop: the batcher starts a request one turn after it is due.
const tick = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
};
const settled = async (p: Promise<void>): Promise<string> =>
  p.then(
    () => "ok",
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );

describe("createProduceBatcher", () => {
  it("sends the calls that waited while a request was out together, in call order, one request at a time", async () => {
    const broker = heldBroker();
    const batcher = createProduceBatcher(broker.sendBatch);
    const first = batcher.append("a", [msg("a1")]);
    await tick();
    expect(broker.requests).toHaveLength(1);

    const later = [
      batcher.append("a", [msg("a2"), msg("a3")]),
      batcher.append("b", [msg("b1")]),
      batcher.append("a", [msg("a4")]),
    ];
    await tick();
    // Still one request out: the three wait for it.
    expect(broker.requests).toHaveLength(1);
    expect(batcher.pending).toBe(4);

    broker.requests[0]?.answer();
    await first;
    await tick();
    expect(broker.requests).toHaveLength(2);
    expect(broker.requests[1]?.topics).toEqual([
      { topic: "a", values: ["a2", "a3", "a4"] },
      { topic: "b", values: ["b1"] },
    ]);
    broker.requests[1]?.answer();
    await Promise.all(later);
    expect(batcher.pending).toBe(0);
    expect(broker.mostOpen()).toBe(1);
  });

  it("joins the calls of one event-loop turn in the first request", async () => {
    const broker = heldBroker();
    const batcher = createProduceBatcher(broker.sendBatch);
    const calls = [batcher.append("a", [msg("1")]), batcher.append("a", [msg("2")])];
    await tick();
    expect(broker.requests.map((r) => r.topics)).toEqual([[{ topic: "a", values: ["1", "2"] }]]);
    broker.requests[0]?.answer();
    await Promise.all(calls);
  });

  it("keeps a request within the record and byte limits and never splits a call", async () => {
    const broker = heldBroker();
    const batcher = createProduceBatcher(broker.sendBatch, {
      maxBatchRecords: 3,
      maxBatchBytes: 1_000,
    });
    const calls = [
      batcher.append("a", [msg("1"), msg("2")]),
      batcher.append("a", [msg("3"), msg("4")]),
      // Over the byte limit on its own: it goes alone.
      batcher.append("a", [msg("x".repeat(2_000))]),
      batcher.append("a", [msg("5")]),
    ];
    for (let i = 0; i < 4; i++) {
      await tick();
      broker.requests[i]?.answer();
      await tick();
    }
    await Promise.all(calls);
    expect(broker.requests.map((r) => r.topics[0]?.values.map((v) => v.slice(0, 1)))).toEqual([
      ["1", "2"],
      ["3", "4"],
      ["x"],
      ["5"],
    ]);
  });

  it("resends each call of a failed request alone, so only the call the broker refuses fails", async () => {
    const calls: string[][] = [];
    const batcher = createProduceBatcher((topicMessages) => {
      calls.push(topicMessages.map((t) => t.topic));
      return topicMessages.some((t) => t.topic === "missing")
        ? Promise.reject(new Error("This server does not host this topic-partition"))
        : Promise.resolve();
    });
    const results = await Promise.all([
      settled(batcher.append("a", [msg("1")])),
      settled(batcher.append("missing", [msg("2")])),
      settled(batcher.append("b", [msg("3")])),
    ]);
    expect(results).toEqual([
      "ok",
      "produce failed (Error): This server does not host this topic-partition",
      "ok",
    ]);
    expect(calls).toEqual([["a", "missing", "b"], ["a"], ["missing"], ["b"]]);
    expect(batcher.pending).toBe(0);
  });

  it("rejects a lone call with the broker's error, and keeps serving the next ones", async () => {
    let fail = true;
    const batcher = createProduceBatcher(() =>
      fail ? Promise.reject(new Error("broker down")) : Promise.resolve(),
    );
    expect(await settled(batcher.append("a", [msg("1")]))).toBe(
      "produce failed (Error): broker down",
    );
    fail = false;
    expect(await settled(batcher.append("a", [msg("2")]))).toBe("ok");
  });

  it("resolves an empty call at once and refuses limits that are not positive integers", async () => {
    const broker = heldBroker();
    await createProduceBatcher(broker.sendBatch).append("a", []);
    expect(broker.requests).toHaveLength(0);
    expect(() => createProduceBatcher(broker.sendBatch, { maxBatchRecords: 0 })).toThrow(
      /maxBatchRecords must be a positive integer/,
    );
    expect(() => createProduceBatcher(broker.sendBatch, { maxBatchBytes: 1.5 })).toThrow(
      /maxBatchBytes/,
    );
  });

  it("counts key, value and header bytes with their record fields at their widest", () => {
    // Record fields 21 (length 5, attributes 1, timestamp delta 10, offset delta 5), key 1 + 2,
    // value 1 + 10, header count 1, headers (1 + 1 + 1 + 3) + (1 + 1 + 1 + 1) + (1 + 1 + 1 + 2).
    const message = { key: "ab", value: Buffer.alloc(10), headers: { h: "xyz", m: ["1", "22"] } };
    expect(recordBytes(message)).toBe(21 + 3 + 11 + 1 + 6 + 4 + 5);
    expect(singleRecordBatchBytes(message)).toBe(61 + recordBytes(message));
    // A null key is one varint (-1); a 200-byte value needs a two-byte length.
    expect(recordBytes({ key: null, value: Buffer.alloc(200) })).toBe(21 + 1 + 2 + 200 + 1);
  });
});

/** kafkajs's shape of a broker or connection failure. */
const kafkaError = (name: string, type?: string, retriable = true): Error =>
  Object.assign(new Error(type ?? name), { name, type, retriable });

describe("recovery after a failed request", () => {
  const noWait = { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 };

  it("tries an outage again, whole, up to recovery.attempts times, then rejects every call with it", async () => {
    let sends = 0;
    const failing: boolean[] = [];
    const batcher = createProduceBatcher(
      () => {
        sends++;
        return Promise.reject(kafkaError("KafkaJSConnectionError"));
      },
      {},
      {
        recovery: noWait,
        observer: {
          acknowledged: () => undefined,
          failing: (_, final) => failing.push(final),
        },
      },
    );
    const calls = [batcher.append("a", [msg("1")]), batcher.append("b", [msg("2")])];
    const errors = await Promise.all(
      calls.map((c) =>
        c.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    expect(sends).toBe(4);
    for (const e of errors) {
      expect(e).toBeInstanceOf(ParleyKafkaError);
      expect((e as ParleyKafkaError).retry).toBe("outage");
      expect((e as ParleyKafkaError).context).toMatchObject({
        topics: ["a", "b"],
        records: 2,
        kafkaError: "KafkaJSConnectionError",
      });
    }
    // The first failure may be the old producer's state; fresh producers failing are reported.
    expect(failing).toEqual([false, false, true]);
  });

  it("delivers once a fresh producer gets through, and says so", async () => {
    let sends = 0;
    const events: string[] = [];
    const batcher = createProduceBatcher(
      () => {
        sends++;
        return sends <= 2
          ? Promise.reject(kafkaError("KafkaJSProtocolError", "NOT_ENOUGH_REPLICAS"))
          : Promise.resolve();
      },
      {},
      {
        recovery: noWait,
        observer: {
          acknowledged: () => events.push("ok"),
          failing: (e) => events.push(`failing ${e.retry}`),
        },
      },
    );
    expect(await settled(batcher.append("a", [msg("1")]))).toBe("ok");
    expect(sends).toBe(3);
    expect(events).toEqual(["failing outage", "ok"]);
  });

  it("rejects a call the broker refuses at once with retry never and the broker's error type", async () => {
    let sends = 0;
    const batcher = createProduceBatcher(
      () => {
        sends++;
        return Promise.reject(kafkaError("KafkaJSProtocolError", "MESSAGE_TOO_LARGE", false));
      },
      {},
      { recovery: noWait },
    );
    const error = await batcher.append("a", [msg("1")]).catch((e: unknown) => e);
    expect(sends).toBe(1);
    expect(error).toMatchObject({ retry: "never", kafkaError: "MESSAGE_TOO_LARGE" });
  });

  it("stops waiting once closed: a failing request is rejected at once", async () => {
    let sends = 0;
    const batcher = createProduceBatcher(
      () => {
        sends++;
        return Promise.reject(kafkaError("KafkaJSConnectionError"));
      },
      {},
      { recovery: { attempts: 5, initialDelayMs: 60_000, maxDelayMs: 60_000 } },
    );
    const call = batcher.append("a", [msg("1")]).catch((e: unknown) => e);
    await tick();
    batcher.close();
    expect(await call).toMatchObject({ retry: "outage" });
    expect(sends).toBe(1);
  });

  it("splits a call over the byte bound into consecutive requests, in order", async () => {
    const broker = heldBroker();
    const batcher = createProduceBatcher(broker.sendBatch, { maxBatchBytes: 1_000 });
    const values = Array.from({ length: 5 }, (_, i) => `${String(i)}${"x".repeat(399)}`);
    const call = batcher.append("a", values.map(msg));
    const other = batcher.append("a", [msg("after")]);
    for (let i = 0; i < 4; i++) {
      await tick();
      broker.requests[i]?.answer();
    }
    await Promise.all([call, other]);
    expect(broker.requests.map((r) => r.topics[0]?.values.map((v) => v.slice(0, 1)))).toEqual([
      ["0", "1"],
      ["2", "3"],
      ["4", "a"],
    ]);
  });

  it("lowers the request bound to the topic's record limit", async () => {
    const broker = heldBroker();
    const batcher = createProduceBatcher(broker.sendBatch, { maxBatchBytes: 10_000 });
    const calls = [
      batcher.append("small-limit", [msg("x".repeat(300))], 500),
      batcher.append("small-limit", [msg("y".repeat(300))], 500),
    ];
    for (let i = 0; i < 2; i++) {
      await tick();
      broker.requests[i]?.answer();
    }
    await Promise.all(calls);
    expect(broker.requests).toHaveLength(2);
  });
});
